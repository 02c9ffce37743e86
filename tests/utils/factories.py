"""Small builders for test data, going through the same domain functions as the app."""

from datetime import date

from shared.channels import ChannelInput, create_bank_account, save_linkpay_channel
from shared.db import write_session
from shared.invoicing import DraftInput, LineInput, create_draft, issue_invoice
from shared.models import AccountType, Customer, Environment, Invoice, PaymentChannel

API_USERNAME = "abc12345"
API_SECRET = "apisecret123456789"
LINK_TOKEN = "123abcd"


def make_channel(
    *,
    api_base: str = "http://127.0.0.1:9/api/v4",
    linkpay_prefix: str = "http://127.0.0.1:9/lp",
    api_username: str = API_USERNAME,
    api_secret: str = API_SECRET,
    link_token: str = LINK_TOKEN,
    currency: str = "EUR",
    url_fields: tuple[str, ...] = ("customer_name", "customer_email"),
) -> PaymentChannel:
    with write_session() as session:
        account = create_bank_account(
            session,
            actor="test",
            name="Merchant EUR",
            account_type=AccountType.MERCHANT,
            currency=currency,
        )
        return save_linkpay_channel(
            session,
            actor="test",
            bank_account_id=account.id,
            data=ChannelInput(
                link_token=link_token,
                api_username=api_username,
                api_secret=api_secret,
                environment=Environment.CUSTOM,
                linkpay_prefix=linkpay_prefix,
                api_base=api_base,
                currency=currency,
                url_fields=list(url_fields),
            ),
        )


def make_customer(
    *, name: str = "Anna Bērziņa SIA", email: str = "anna@example.lv", language: str = "lv"
) -> Customer:
    with write_session() as session:
        customer = Customer(name=name, email=email, language=language, address="Rīga, Brīvības 1")
        session.add(customer)
        session.flush()
        return customer


def make_invoice(
    *,
    channel: PaymentChannel | None,
    customer: Customer | None = None,
    lines: list[LineInput] | None = None,
    issue: bool = True,
    issue_date: date | None = None,
    due_date: date | None = None,
    currency: str = "EUR",
) -> Invoice:
    customer = customer or make_customer()
    with write_session() as session:
        invoice = create_draft(
            session,
            actor="test",
            data=DraftInput(
                customer_id=customer.id,
                channel_id=channel.id if channel else None,
                currency=currency,
                # Any issued non-EUR invoice states its VAT in EUR too (USD per 1 EUR here).
                eur_exchange_rate="" if currency == "EUR" else "1.0512",
                lines=lines or [LineInput("Consulting", "1", "100.00", "21")],
                issue_date=issue_date,
                due_date=due_date,
            ),
        )
        if issue:
            # Tests build their history in any order; tests/unit/test_numbering.py is where
            # an earlier date than the series' last one is asked about.
            invoice = issue_invoice(
                session, actor="test", invoice_id=invoice.id, confirm_backdated=True
            )
        return invoice


def post_payment(session, *, invoice_id: int, amount_minor: int, reference: str = ""):
    """A bank transfer posted on the invoice through the ledger's one path, as recording a
    payment by hand does; the invoice comes back locked and current."""
    from uuid import uuid4

    from shared.invoicing import lock_invoice
    from shared.ledger.posting import post_entry
    from shared.models import LedgerEntryKind, LedgerSource

    invoice = lock_invoice(session, invoice_id=invoice_id)
    post_entry(
        session,
        invoice=invoice,
        kind=LedgerEntryKind.PAYMENT,
        source=LedgerSource.BANK_TRANSFER,
        amount_minor=amount_minor,
        key=f"test:{uuid4().hex}",
        actor="system",
        reference=reference,
    )
    return invoice


def settle_linkpay(session, *, invoice_id: int, amount_minor: int):
    """A settled LinkPay payment booked on the invoice as the callback pipeline books it,
    so the next pay link's order reference carries the "-N" suffix."""
    from uuid import uuid4

    from shared.invoicing import lock_invoice
    from shared.ledger.linkpay import book_linkpay_payment
    from shared.models import PaymentAttempt

    invoice = lock_invoice(session, invoice_id=invoice_id)
    attempt = PaymentAttempt(
        payment_reference=uuid4().hex,
        channel_id=invoice.channel_id,
        invoice_id=invoice.id,
        order_reference=invoice.number or "",
        state="settled",
        is_final=True,
        initial_amount_minor=amount_minor,
        standing_amount_minor=amount_minor,
        currency=invoice.currency,
    )
    session.add(attempt)
    session.flush()
    book_linkpay_payment(session, attempt=attempt, invoice=invoice, amount=amount_minor)
    return invoice
