"""Retention of the callback log: finished callbacks are deleted after a while.

Only what is finished and old goes: a callback that was applied (done), turned out not to
be ours, or was rejected on arrival, received and last processed more than
``callback_retention_days`` ago. Anything still waiting or being worked on (pending,
processing, needs attention) stays whatever its age, and so does every callback an item
of the exceptions queue points to (``review_item.callback_event_id``, the only foreign
key to this table). The money's own record, payment attempts with their state changes
and the audit log, is not touched.
"""

import logging
import time
from datetime import timedelta

from sqlalchemy import delete, or_
from sqlmodel import col, select

from shared.config import get_settings
from shared.db import write_session
from shared.models import CallbackEvent, ReviewItem, utcnow
from shared.states import FINISHED_CALLBACK_STATUSES

log = logging.getLogger(__name__)

# Rows per transaction: each batch is a short turn at the write lock (tens of ms on
# SQLite with hundreds of reviews, whose foreign key is checked per deleted row), so
# intake keeps storing callbacks while millions of old ones are deleted.
BATCH_SIZE = 250
# Between batches, so that writers waiting for the lock (intake) get it first.
PAUSE_SECONDS = 0.01


def purge_old_callbacks(*, batch_size: int = BATCH_SIZE) -> int:
    """Deletes finished callbacks past the retention period; returns how many."""
    days = get_settings().callback_retention_days
    if days <= 0:
        return 0
    cutoff = utcnow() - timedelta(days=days)
    old_and_finished = (
        # Wrapped so that no index on status can serve it: SQLite then walks
        # ix_callback_received up to the cutoff (nothing to do: nothing read) instead of
        # every finished callback in ix_callback_status_next, inside the write lock.
        (col(CallbackEvent.status) + "").in_(FINISHED_CALLBACK_STATUSES),
        col(CallbackEvent.received_at) < cutoff,
        or_(col(CallbackEvent.processed_at).is_(None), col(CallbackEvent.processed_at) < cutoff),
    )
    in_review = select(ReviewItem.callback_event_id).where(
        col(ReviewItem.callback_event_id).is_not(None)
    )
    # No ORDER BY: it would sort every old row for each batch.
    batch = (
        select(CallbackEvent.id)
        .where(*old_and_finished, col(CallbackEvent.id).not_in(in_review))
        .limit(batch_size)
    )
    deleted = 0
    while True:
        with write_session() as session:
            # The conditions again on the row itself: on PostgreSQL a row reprocessed
            # meanwhile (back to pending) is re-checked and kept.
            result = session.exec(
                delete(CallbackEvent).where(
                    col(CallbackEvent.id).in_(batch.scalar_subquery()), *old_and_finished
                )
            )
        deleted += result.rowcount
        if result.rowcount < batch_size:
            break
        time.sleep(PAUSE_SECONDS)
    if deleted:
        log.info("deleted %s finished callbacks received before %s", deleted, f"{cutoff:%Y-%m-%d}")
    return deleted
