"""Collection held: while money that went back on an invoice is under review, the
customer is not asked for it (no reminder, no pay button) until finance decides."""

from sqlmodel import Session, col, select

from shared.db import read_session
from shared.models import ReviewItem, ReviewKind, ReviewStatus
from shared.money import format_money

# Open exceptions of these kinds put the invoice's collection on hold.
HOLDING_REVIEW_KINDS = frozenset({ReviewKind.REFUND, ReviewKind.CHARGEBACK})

_WHAT = {ReviewKind.REFUND: "a refund", ReviewKind.CHARGEBACK: "a chargeback"}


def collection_held_reason(session: Session, *, invoice_id: int) -> str | None:
    """Why the customer must not be asked to pay the invoice now, or None."""
    item = session.exec(
        select(ReviewItem)
        .where(
            ReviewItem.invoice_id == invoice_id,
            ReviewItem.status == ReviewStatus.OPEN,
            col(ReviewItem.kind).in_(HOLDING_REVIEW_KINDS),
        )
        .order_by(col(ReviewItem.id))
        .limit(1)
    ).first()
    if item is None:
        return None
    what = _WHAT.get(item.kind, item.kind.replace("_", " "))
    amount = (
        f" of {format_money(item.amount_minor, item.currency)}"
        if item.amount_minor and item.currency
        else ""
    )
    return f"held while {what}{amount} is under review (exception #{item.id})"


def held_reason(*, invoice_id: int) -> str | None:
    """``collection_held_reason`` in a session of its own, for a page to show."""
    with read_session() as session:
        return collection_held_reason(session, invoice_id=invoice_id)
