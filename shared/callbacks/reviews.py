"""The exceptions queue as the callback pipeline feeds it: one open item per cause."""

from datetime import date

from sqlalchemy import bindparam, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from shared.audit import SYSTEM_ACTOR
from shared.models import ReviewItem, ReviewStatus, utcnow

_reviews = ReviewItem.__table__
# Built once per dialect, a Core insert whose values come as parameters: every callback
# about a payment that is not ours opens (or finds) one, and building the statement each
# time cost more than running it.
_OPEN = {
    dialect: insert(_reviews).on_conflict_do_nothing(index_elements=["dedupe_key"])
    for dialect, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}


def open_review(
    session: Session,
    *,
    kind: str,
    dedupe_key: str,
    reason: str,
    invoice_id: int | None = None,
    payment_attempt_id: int | None = None,
    callback_event_id: int | None = None,
    channel_id: int | None = None,
    amount_minor: int | None = None,
    currency: str | None = None,
) -> bool:
    """Adds the item unless one with the same key exists; True when it was added.

    ON CONFLICT DO NOTHING rather than check-then-insert: two workers seeing the same
    problem at once must not make the second one's transaction fail.
    """
    result = session.execute(
        _OPEN[session.get_bind().dialect.name],
        {
            "kind": kind,
            "status": ReviewStatus.OPEN,
            "dedupe_key": dedupe_key[:200],
            "reason": reason[:1000],
            "invoice_id": invoice_id,
            "payment_attempt_id": payment_attempt_id,
            "callback_event_id": callback_event_id,
            "channel_id": channel_id,
            "amount_minor": amount_minor,
            "currency": currency,
            "created_at": utcnow(),
        },
    )
    return result.rowcount == 1


def daily_review_key(cause: str, *, channel_id: int, day: date) -> str:
    """One item per channel and day for a cause anyone can set off by sending forged
    callbacks to a Callback URL: thousands of forgeries must not bury the queue in
    thousands of items, but the first one of the day is still shown to a person."""
    return f"{cause}:{channel_id}:{day:%Y-%m-%d}"


# Built once: every booked callback runs it (mostly closing nothing).
_RESOLVE = (
    update(_reviews)
    .where(_reviews.c.dedupe_key == bindparam("key"))
    .where(_reviews.c.status == ReviewStatus.OPEN)
    .values(
        status=ReviewStatus.RESOLVED,
        resolution=bindparam("resolution_text"),
        resolved_by=SYSTEM_ACTOR,
        resolved_at=bindparam("resolved_time"),
    )
)


def resolve_review(session: Session, *, dedupe_key: str, resolution: str) -> None:
    """Closes an open item whose cause went away on its own (e.g. verified on a retry)."""
    session.execute(
        _RESOLVE,
        {"key": dedupe_key[:200], "resolution_text": resolution[:1000], "resolved_time": utcnow()},
    )
