"""The signed pay link of an invoice: always its current open balance, in the channel's
currency, under an order reference EveryPay will still accept."""

import re

from sqlmodel import Session

from shared.channels import channel_hosts
from shared.errors import ValidationError
from shared.invoicing import order_reference
from shared.linkpay.signing import signed_link_url
from shared.models import Customer, Invoice, InvoiceStatus, PaymentChannel
from shared.money import format_plain
from shared.public_urls import public_return_url
from shared.security import decrypt_secret

REFERENCE_PATTERN = re.compile(r"[A-Za-z0-9/\-]{1,120}")


def link_params(
    *, channel: PaymentChannel, invoice: Invoice, customer: Customer
) -> list[tuple[str, str]]:
    if invoice.status == InvoiceStatus.DRAFT:
        raise ValidationError("A draft has no pay link; issue the invoice first.")
    if invoice.status in (InvoiceStatus.CANCELLED, InvoiceStatus.PAID) or invoice.open_minor <= 0:
        raise ValidationError("Invoice {number} has nothing left to pay.", number=invoice.number)
    if invoice.currency != channel.currency:
        raise ValidationError(
            "The channel takes {channel_currency}; invoice {number} is in {currency}.",
            channel_currency=channel.currency,
            number=invoice.number,
            currency=invoice.currency,
        )
    if not channel.active:
        raise ValidationError("The invoice's LinkPay channel is deactivated.")
    reference = order_reference(invoice)
    if not REFERENCE_PATTERN.fullmatch(reference):
        raise ValidationError(
            "Order reference {reference!r} must be 1–120 characters of A–Z, a–z, 0–9, - or /.",
            reference=reference,
        )
    values = {
        "transaction_amount": format_plain(invoice.open_minor, invoice.currency),
        "order_reference": reference,
        "customer_name": customer.name,
        "customer_email": customer.email,
        "invoice_number": invoice.number or "",
        "reference_number": invoice.number or "",
        # Where EveryPay sends the customer after paying, with the payment's reference:
        # a second way to learn of a payment whose every callback was lost.
        "customer_url": public_return_url(invoice),
    }
    params = [(name, values[name]) for name in channel.url_fields if values.get(name)]
    params.append(("linkpay_token", channel.link_token))
    return sorted(params)


def pay_link_for(*, channel: PaymentChannel, invoice: Invoice, customer: Customer) -> str:
    secret = decrypt_secret(channel.api_secret_encrypted)
    return signed_link_url(
        channel_hosts(channel)[0],
        secret,
        link_params(channel=channel, invoice=invoice, customer=customer),
    )


def invoice_pay_link(session: Session, invoice: Invoice) -> str | None:
    """The pay link, or None when the invoice cannot be paid online right now."""
    if invoice.channel_id is None:
        return None
    channel = session.get(PaymentChannel, invoice.channel_id)
    customer = session.get(Customer, invoice.customer_id)
    # A channel whose API secret is missing (never entered, or cleared after a lost key)
    # cannot sign a link EveryPay would accept.
    if channel is None or customer is None or not channel.api_secret_encrypted:
        return None
    try:
        return pay_link_for(channel=channel, invoice=invoice, customer=customer)
    except ValidationError:
        return None
