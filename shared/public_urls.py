"""The customer's addresses of an invoice on the callback service: the page, the pay link
that counts every opening before it leads on to EveryPay, and the page EveryPay sends the
customer back to after paying."""

from shared.config import get_settings
from shared.models import Invoice
from shared.security import decrypt_secret


def public_token(invoice: Invoice) -> str:
    """The token of the customer's link; the database keeps it only encrypted."""
    return decrypt_secret(invoice.public_token_encrypted)


def public_invoice_url(invoice: Invoice) -> str:
    return f"{get_settings().public_base_url.rstrip('/')}/i/{public_token(invoice)}"


def public_pay_url(invoice: Invoice) -> str:
    """What e-mails and PDFs print as the pay link: our own address, which records the
    opening and redirects to a freshly signed EveryPay link for the balance open then."""
    return f"{public_invoice_url(invoice)}/pay"


def public_return_url(invoice: Invoice) -> str:
    return f"{public_invoice_url(invoice)}/return"
