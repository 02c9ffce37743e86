"""Collection held: while money that went back on an invoice is under review, the
customer is not asked for it (no reminder, no pay button) until finance decides."""

from dataclasses import dataclass

from sqlmodel import Session, col, select

from shared.db import read_session
from shared.models import ReviewItem, ReviewKind, ReviewStatus
from shared.money import format_money

# Open exceptions of these kinds put the invoice's collection on hold.
HOLDING_REVIEW_KINDS = frozenset({ReviewKind.REFUND, ReviewKind.CHARGEBACK})

_WHAT = {ReviewKind.REFUND: "a refund", ReviewKind.CHARGEBACK: "a chargeback"}


@dataclass(frozen=True)
class CollectionHold:
    """The open exception holding the invoice's collection, in plain values a page can
    word in its reader's language."""

    what: str  # "a refund", "a chargeback"
    amount_minor: int | None
    currency: str
    exception_id: int


def collection_hold(session: Session, *, invoice_id: int) -> CollectionHold | None:
    """The exception that holds the invoice's collection, or None."""
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
    return CollectionHold(
        what=_WHAT.get(item.kind, item.kind.replace("_", " ")),
        amount_minor=item.amount_minor if item.amount_minor and item.currency else None,
        currency=item.currency or "",
        exception_id=item.id,
    )


def collection_held_reason(session: Session, *, invoice_id: int) -> str | None:
    """Why the customer must not be asked to pay the invoice now, or None."""
    hold = collection_hold(session, invoice_id=invoice_id)
    if hold is None:
        return None
    amount = (
        f" of {format_money(hold.amount_minor, hold.currency)}"
        if hold.amount_minor is not None
        else ""
    )
    return f"held while {hold.what}{amount} is under review (exception #{hold.exception_id})"


def held_by(*, invoice_id: int) -> CollectionHold | None:
    """``collection_hold`` in a session of its own, for a page to show."""
    with read_session() as session:
        return collection_hold(session, invoice_id=invoice_id)
