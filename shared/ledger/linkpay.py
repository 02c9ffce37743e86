"""LinkPay payments on the ledger: booking an attempt's settled amount on its invoice."""

from sqlmodel import Session

from shared.audit import SYSTEM_ACTOR
from shared.company import company_timezone, to_local
from shared.ledger.posting import post_entry
from shared.models import Invoice, LedgerEntryKind, LedgerSource, PaymentAttempt, utcnow


def book_linkpay_payment(
    session: Session,
    *,
    attempt: PaymentAttempt,
    invoice: Invoice,
    amount: int,
    actor: str = SYSTEM_ACTOR,
) -> bool:
    """Books ``amount`` of the settled ``attempt`` on its locked ``invoice``; False if the
    attempt was booked before (its one booking key is taken)."""
    paid_at = attempt.transaction_time or utcnow()
    local = to_local(paid_at, company_timezone(session))
    entry = post_entry(
        session,
        invoice=invoice,
        kind=LedgerEntryKind.PAYMENT,
        source=LedgerSource.LINKPAY,
        amount_minor=amount,
        key=f"linkpay:{attempt.payment_reference}:in",
        actor=actor,
        value_date=local.date() if local else paid_at.date(),
        attempt=attempt,
        reference=attempt.payment_reference,
    )
    return entry is not None
