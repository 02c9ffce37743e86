"""Turns a stored callback into an applied payment status, after the callback was answered.

A callback is only a hint: it names a payment reference, and the truth comes from asking
EveryPay with the channel's own credentials. The steps never overlap a database write
transaction with the API call:

1. claim the event (short write transaction, lease);
2. ask the API (no transaction open);
3. apply the answer and close the event (one short write transaction), or schedule a
   retry with backoff when the answer is unusable.

A crash between any two steps leaves the event claimed under an expiring lease, so
another worker (or this one after a restart) takes it over and nothing is lost.

``now`` (default: the wall clock) is the time every step of one run reads, so a test can
drive the queue through a simulated outage.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, case, or_, update
from sqlmodel import Session

from shared.audit import record_audit
from shared.callbacks import counters
from shared.callbacks.apply import apply_payment_status
from shared.callbacks.queue import (
    ClaimedEvent,
    claim_event,
    note_gateway_result,
    schedule_retry,
    unverified_review_key,
    worker_name,
)
from shared.callbacks.reviews import open_review, resolve_review
from shared.channels import current_credentials
from shared.db import read_session, write_session
from shared.linkpay.client import ApiResult, Outcome, client_for
from shared.log_context import log_context
from shared.models import CallbackEvent, CallbackStatus, ReviewKind, utcnow
from shared.users import require_permission

log = logging.getLogger(__name__)

UNKNOWN_REFERENCE = (
    "unverified: EveryPay does not know this payment reference (a forged callback, or the "
    "channel's environment or API base is wrong); nothing changed"
)


def process_event(event_id: int) -> str:
    """Claims the event if it is due and applies it; returns what happened, in words."""
    claimed = claim_event(event_id=event_id, worker=worker_name("process"))
    if claimed is None:
        return _why_not_claimed(event_id)
    return run_claimed_event(claimed)


def reprocess_event(*, event_id: int, actor: str) -> str:
    """Re-asks EveryPay about a stored callback and applies the answer again.

    Safe on any event: applying is idempotent, and money moves at most once per attempt.
    """
    now = utcnow()
    with write_session() as session:
        require_permission(session, actor=actor, permission="review")
        event = session.get(CallbackEvent, event_id)
        if event is None:
            return f"Callback #{event_id} does not exist."
        if event.status == CallbackStatus.REJECTED:
            return (
                f"Callback #{event_id} was rejected when it arrived ({event.outcome}); there "
                "is no payment to ask EveryPay about."
            )
        if event.status == CallbackStatus.PROCESSING and (
            event.claimed_until is not None and event.claimed_until > now
        ):
            return f"Callback #{event_id} is being processed right now; look again in a moment."
        record_audit(
            session,
            actor=actor,
            action="callback.reprocess",
            entity_type="callback_event",
            entity_id=event_id,
            details={"previous_status": event.status, "previous_outcome": event.outcome},
        )
        event.status = CallbackStatus.PENDING
        event.next_attempt_at = now
        event.claimed_by = None
        event.claimed_until = None
        session.add(event)
    return process_event(event_id)


@dataclass(frozen=True)
class Answer:
    """What EveryPay said about a claimed callback, and when it was asked."""

    claimed: ClaimedEvent
    result: ApiResult
    asked_at: datetime
    answered_at: datetime

    @property
    def recordable(self) -> bool:
        """An answer that settles the callback; any other is asked again later."""
        if self.result.outcome is Outcome.OK:
            return self.result.status is not None
        return self.result.outcome is Outcome.NOT_FOUND


@dataclass(frozen=True)
class Recorded:
    """What recording an answer did: the event's outcome, and what the counters count."""

    outcome: str
    result: str  # one of counters' callback results
    money_moved: bool | None = None  # for an answer applied to a payment


# Records an answer in a write transaction and returns what it did. The worker passes its
# AnswerWriter's, which shares one transaction among many callers' answers.
RecordAnswer = Callable[[Answer], Recorded]


def run_claimed_event(
    claimed: ClaimedEvent, *, now: datetime | None = None, record: RecordAnswer | None = None
) -> str:
    # Every line about this callback, here and in what it calls, carries the request id
    # it was received under; the outcome line says what was booked.
    with log_context(request_id=claimed.request_id, callback_id=claimed.id):
        log.debug(
            "callback #%s claimed by %s (try %s)", claimed.id, claimed.claimed_by, claimed.attempts
        )
        try:
            answer = ask_about(claimed, now=now)
            if not answer.recordable:
                return _ask_again_later(answer, now=now)
            recorded = record(answer) if record else record_alone(answer, now=now)
        except Exception as error:
            # A bug or a database hiccup must not drop the event: it goes back on the queue.
            log.exception("callback #%s could not be processed", claimed.id)
            counters.WORKER_COUNTERS.callback_done(counters.ERROR)
            return schedule_retry(claimed, error=f"internal error: {type(error).__name__}", now=now)
        log.info("callback #%s: %s", claimed.id, recorded.outcome)
        counters.WORKER_COUNTERS.callback_done(recorded.result)
        if recorded.money_moved is not None:
            counters.WORKER_COUNTERS.answer_applied(money_moved=recorded.money_moved)
        return recorded.outcome


def ask_about(claimed: ClaimedEvent, *, now: datetime | None) -> Answer:
    channel_credentials = current_credentials(
        channel_id=claimed.channel_id, version=claimed.channel_version
    )
    # No session or transaction is open from here until the answer is in: a slow gateway
    # holds up only this thread, never a database connection or SQLite's write lock.
    asked_at = now or utcnow()
    result = counters.ask_everypay(
        lambda: client_for(channel_credentials).get_payment(claimed.payment_reference)
    )
    log.debug(
        "callback #%s: EveryPay answered %s%s (HTTP %s)",
        claimed.id,
        result.outcome.value,
        f", payment {result.status.payment_state}" if result.status else "",
        result.http_status,
    )
    note_gateway_result(channel_id=claimed.channel_id, result=result, now=now)
    return Answer(claimed=claimed, result=result, asked_at=asked_at, answered_at=now or utcnow())


def record_alone(answer: Answer, *, now: datetime | None = None) -> Recorded:
    """Records the answer in a write transaction of its own."""
    with write_session() as session:
        return record_answer(session, answer=answer, now=now)


def record_answer(session: Session, *, answer: Answer, now: datetime | None = None) -> Recorded:
    """Applies a recordable answer and closes the event, in the caller's transaction."""
    claimed, result, asked_at = answer.claimed, answer.result, answer.asked_at
    answered_at = answer.answered_at
    if result.outcome is Outcome.OK and result.status is not None:
        applied = apply_payment_status(
            session,
            channel_id=claimed.channel_id,
            asked_reference=claimed.payment_reference,
            answer=result.status,
            asked_at=asked_at,
            source="callback",
        )
        _close(
            session,
            claimed=claimed,
            status=CallbackStatus.DONE if applied.ours else CallbackStatus.NOT_OURS,
            outcome=applied.outcome,
            asked_at=asked_at,
            answered_at=answered_at,
            attempt_id=applied.attempt_id,
            invoice_id=applied.invoice_id,
            now=now,
        )
        return Recorded(
            outcome=applied.outcome,
            result=counters.APPLIED if applied.ours else counters.NOT_OURS,
            money_moved=applied.money_moved,
        )
    if result.outcome is not Outcome.NOT_FOUND:
        raise ValueError(f"callback #{claimed.id}: an answer of {result.outcome} is not recorded")
    _close(
        session,
        claimed=claimed,
        status=CallbackStatus.NOT_OURS,
        outcome=UNKNOWN_REFERENCE,
        asked_at=asked_at,
        answered_at=answered_at,
        now=now,
    )
    # One item per channel and day: forgeries must not flood the queue, but a
    # wrong environment (every real payment "unknown") must not go unnoticed.
    open_review(
        session,
        kind=ReviewKind.UNVERIFIED_CALLBACK,
        dedupe_key=f"unknown_reference:{claimed.channel_id}:{asked_at:%Y-%m-%d}",
        reason=(
            "Callbacks arrived for payment references EveryPay does not know (first: "
            f"{claimed.payment_reference}). Forged callbacks are harmless and ignored; "
            "if real payments show this, the channel's environment or API base is wrong."
        ),
        callback_event_id=claimed.id,
        channel_id=claimed.channel_id,
    )
    return Recorded(outcome=UNKNOWN_REFERENCE, result=counters.UNKNOWN_REFERENCE)


def _ask_again_later(answer: Answer, *, now: datetime | None) -> str:
    result = answer.result
    outcome = schedule_retry(
        answer.claimed, error=_api_error(result), retry_after=result.retry_after_seconds, now=now
    )
    log.warning("callback #%s: %s", answer.claimed.id, outcome)
    counters.WORKER_COUNTERS.callback_done(counters.RETRY)
    return outcome


def _api_error(result: ApiResult) -> str:
    if result.outcome is Outcome.AUTH_REFUSED:
        return f"EveryPay refused the channel's API username or secret (HTTP {result.http_status})"
    return result.error or "no answer"


_events = CallbackEvent.__table__
# Built once, run with each callback's values: on the booking path, building these
# statements cost more CPU than running them.
_CLOSED = {
    "status": bindparam("closed_status"),
    "payment_attempt_id": bindparam("closed_attempt_id"),
    "invoice_id": bindparam("closed_invoice_id"),
    "processed_at": bindparam("closed_at"),
    "answered_at": bindparam("closed_answered_at"),
    "claimed_by": None,
    "claimed_until": None,
    "last_error": None,
}
_IS_EVENT = _events.c.id == bindparam("event_id")
# The event and its waiting duplicates in one statement (each side of the OR has its
# index: the primary key, and reference + channel).
_CLOSE_EVENT_AND_DUPLICATES = (
    update(_events)
    .where(
        or_(
            _IS_EVENT,
            and_(
                _events.c.payment_reference == bindparam("event_reference"),
                _events.c.channel_id == bindparam("event_channel_id"),
                _events.c.status.in_([CallbackStatus.PENDING, CallbackStatus.NEEDS_ATTENTION]),
                _events.c.received_at <= bindparam("asked_at"),
            ),
        )
    )
    .values(
        outcome=case(
            (_IS_EVENT, bindparam("closed_outcome")), else_=bindparam("duplicate_outcome")
        ),
        **_CLOSED,
    )
)


def _close(
    session: Session,
    *,
    claimed: ClaimedEvent,
    status: str,
    outcome: str,
    asked_at: datetime,
    answered_at: datetime,
    attempt_id: int | None = None,
    invoice_id: int | None = None,
    now: datetime | None = None,
) -> None:
    """Closes the event and every waiting duplicate the same answer settles.

    A duplicate received before we asked EveryPay told us about a state no newer than
    the answer we hold, so asking again for it would only spend API calls (a redelivery
    storm would otherwise cost one call per copy).
    """
    params = {
        "event_id": claimed.id,
        "event_channel_id": claimed.channel_id,
        "event_reference": claimed.payment_reference,
        "asked_at": asked_at,
        "closed_status": status,
        "closed_attempt_id": attempt_id,
        "closed_invoice_id": invoice_id,
        "closed_at": now or utcnow(),
        "closed_answered_at": answered_at,
        "closed_outcome": outcome[:1000],
        "duplicate_outcome": f"duplicate of callback #{claimed.id}: {outcome}"[:1000],
    }
    closed = session.execute(_CLOSE_EVENT_AND_DUPLICATES, params).rowcount
    # An "unverified" item for this payment is opened only when an event of it is given
    # up on after a failed try: then that event is asked again (its try > 1), or it waits
    # as a duplicate this answer just closed (more than one row). A first try that closed
    # only itself therefore has no item to resolve, and skips the statement.
    if claimed.attempts > 1 or closed > 1:
        resolve_review(
            session,
            dedupe_key=unverified_review_key(claimed),
            resolution=f"Verified with EveryPay later (callback #{claimed.id}).",
        )


def _why_not_claimed(event_id: int) -> str:
    with read_session() as session:
        event = session.get(CallbackEvent, event_id)
    if event is None:
        return f"Callback #{event_id} does not exist."
    if event.status == CallbackStatus.PROCESSING:
        return f"Callback #{event_id} is being processed by another worker."
    if event.status == CallbackStatus.PENDING and event.next_attempt_at is not None:
        retry = f"{event.next_attempt_at:%H:%M:%S} UTC"
        return f"Callback #{event_id} is waiting for its next try at {retry}."
    return f"Callback #{event_id} is already {event.status}: {event.outcome or ''}".rstrip(": ")
