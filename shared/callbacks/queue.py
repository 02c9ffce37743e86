"""The callback inbox as a work queue: atomic claims under a lease, retries with backoff.

A claim is one conditional UPDATE whose WHERE clause re-states what "claimable" means, so
of several workers (threads or processes, SQLite or PostgreSQL) exactly one gets a row:
SQLite serialises the IMMEDIATE transactions, PostgreSQL re-checks the condition on the
row version it waited for. A worker that dies leaves its claim to expire after
``worker_lease_seconds``, and the next worker takes the event over.

Retries never wait longer than ``callback_retry_cap_seconds`` (at most five minutes), also
once a callback has been shown to a person, and the first answer EveryPay gives for a
channel after its calls failed makes every waiting callback of that channel due at once:
a payment made during an outage is booked within moments of the gateway's return.

Functions that read the time take ``now`` (default: the wall clock), so the schedule can
be driven through a long simulated outage in a test.
"""

import logging
import os
import random
import socket
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Integer,
    Select,
    Subquery,
    Update,
    and_,
    bindparam,
    literal,
    or_,
    union_all,
    update,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col, select

from shared.callbacks.reviews import open_review
from shared.config import get_settings
from shared.db import get_engine, is_sqlite, read_session, write_session
from shared.linkpay.client import ApiResult, Outcome
from shared.models import CallbackEvent, CallbackStatus, PaymentChannel, ReviewKind, utcnow

log = logging.getLogger(__name__)

RETRY_BASE_SECONDS = 2.0
WAITING = (CallbackStatus.PENDING, CallbackStatus.NEEDS_ATTENTION)


@dataclass(frozen=True)
class ClaimedEvent:
    id: int
    channel_id: int
    payment_reference: str
    attempts: int
    received_at: datetime
    claimed_by: str
    request_id: str | None = None
    # The channel row's updated_at when the event was claimed: the worker's kept
    # credentials are used only for the version they were read from.
    channel_version: datetime | None = None


# Core statements on the tables: through the ORM each execution was rewritten (and its
# cache key worked out) anew.
_events = CallbackEvent.__table__
_channels = PaymentChannel.__table__

# Read by the claim itself (no extra query per callback).
_CHANNEL_VERSION = (
    select(_channels.c.updated_at)
    .where(_channels.c.id == _events.c.channel_id)
    .correlate(_events)
    .scalar_subquery()
)


def worker_name(role: str) -> str:
    """Identifies a claimant in the event row: host, process and thread."""
    name = f"{role}@{socket.gethostname()}:{os.getpid()}.{threading.get_native_id()}"
    return name[:64]


# Every claim statement is built once, with the time, worker and limit as parameters: a
# worker claims many times a second, and putting its statements together (and working out
# their cache keys) each time cost the background process more CPU than running them.
_NOW = bindparam("claim_now", type_=_events.c.next_attempt_at.type)
_UNTIL = bindparam("claim_until", type_=_events.c.claimed_until.type)
_WORKER = bindparam("claim_worker", type_=_events.c.claimed_by.type)
_LIMIT = bindparam("claim_limit", type_=Integer)

_CLAIMABLE = or_(
    and_(
        _events.c.status.in_(WAITING),
        _events.c.next_attempt_at <= _NOW,
    ),
    and_(
        _events.c.status == CallbackStatus.PROCESSING,
        _events.c.claimed_until < _NOW,
    ),
)


def _claim_statement(where: ColumnElement[bool]) -> Update:
    """The claim of the rows ``where`` picks, each re-checked against ``_CLAIMABLE``."""
    return (
        update(_events)
        .where(where, _CLAIMABLE)
        .values(
            status=CallbackStatus.PROCESSING,
            claimed_by=_WORKER,
            claimed_at=_NOW,
            claimed_until=_UNTIL,
            attempts=_events.c.attempts + 1,
        )
        .returning(
            _events.c.id,
            _events.c.channel_id,
            _events.c.payment_reference,
            _events.c.attempts,
            _events.c.received_at,
            # Read in the claim itself (no extra query): the worker logs under it.
            _events.c.request_id,
            _CHANNEL_VERSION,
        )
    )


def _claim_all(
    statement: Update, *, worker: str, now: datetime, **params: int
) -> list[ClaimedEvent]:
    lease = timedelta(seconds=get_settings().worker_lease_seconds)
    # A claim lost in a database crash only means the callback is claimed again, so it
    # need not wait for its own WAL flush; the answer it leads to is committed durably.
    # Spares one fsync per callback, which intake's commits would otherwise queue behind.
    with write_session(durable=False) as session:
        rows = session.execute(
            statement,
            {"claim_now": now, "claim_until": now + lease, "claim_worker": worker, **params},
        ).all()
    return [
        ClaimedEvent(
            id=row[0],
            channel_id=row[1],
            payment_reference=row[2],
            attempts=row[3],
            received_at=row[4],
            claimed_by=worker,
            request_id=row[5],
            channel_version=row[6],
        )
        for row in rows
    ]


def _claim(statement: Update, *, worker: str, now: datetime, **params: int) -> ClaimedEvent | None:
    claimed = _claim_all(statement, worker=worker, now=now, **params)
    return claimed[0] if claimed else None


_CLAIM_BY_ID = _claim_statement(_events.c.id == bindparam("claim_id", type_=Integer))


def claim_event(*, event_id: int, worker: str, now: datetime | None = None) -> ClaimedEvent | None:
    """Claims this event if it is due (or its previous claim expired)."""
    return _claim(_CLAIM_BY_ID, worker=worker, now=now or utcnow(), claim_id=event_id)


def _due_heads() -> list[Select]:
    """The oldest claimable events of each kind (``claim_limit`` of each), one query per kind.

    Each is a range on ``ix_callback_status_next (status, next_attempt_at, id)`` read in index
    order, so it stops at the first row. One query with the three conditions OR-ed would
    collect every waiting row and sort them for its LIMIT 1: during a backlog of
    thousands of callbacks that cost tens of milliseconds per claim, inside the write lock.
    """
    heads = [
        select(_events.c.id, _events.c.next_attempt_at)
        .where(_events.c.status == status, _events.c.next_attempt_at <= _NOW)
        .order_by(_events.c.next_attempt_at, _events.c.id)
        .limit(_LIMIT)
        for status in WAITING
    ]
    # In-flight claims are few (one per worker thread), so no index is needed to order them.
    heads.append(
        select(_events.c.id, _events.c.next_attempt_at)
        .where(
            _events.c.status == CallbackStatus.PROCESSING,
            _events.c.claimed_until < _NOW,
        )
        .order_by(_events.c.next_attempt_at, _events.c.id)
        .limit(_LIMIT)
    )
    return heads


def _all_heads(heads: list[Select]) -> Subquery:
    """The heads in one statement (one round trip, not three), each row with its kind."""
    return union_all(
        *(
            select(head.c.id, head.c.next_attempt_at, literal(kind).label("kind"))
            for kind, head in enumerate(query.subquery() for query in heads)
        )
    ).subquery()


def _head_claims(*, skip_locked: bool) -> list[Update]:
    """Per kind: the claim of its oldest due event (``claim_limit`` 1)."""
    claims = []
    for head in _HEADS:
        due = head.with_only_columns(_events.c.id)
        if skip_locked:
            # Workers in other processes skip rows already being claimed instead of queueing.
            due = due.with_for_update(skip_locked=True)
        # "= (subquery)", not "IN (subquery)": PostgreSQL may re-run an IN subquery per
        # row, and with SKIP LOCKED each run can pick another row, claiming several.
        claims.append(_claim_statement(_events.c.id == due.scalar_subquery()))
    return claims


def _kind_claims() -> list[Update]:
    """PostgreSQL, per kind: the claim of up to ``claim_limit`` of its due events, picked
    with FOR UPDATE SKIP LOCKED in a MATERIALIZED CTE, which PostgreSQL runs exactly once:
    an ``IN (subquery)`` may be re-run per row, and with SKIP LOCKED each run can pick other
    rows, claiming more than the limit."""
    claims = []
    for head in _HEADS:
        due = (
            head.with_only_columns(_events.c.id)
            .with_for_update(skip_locked=True)
            .cte("due")
            .prefix_with("MATERIALIZED")
        )
        claims.append(_claim_statement(_events.c.id == due.c.id))
    return claims


_HEADS = _due_heads()
_READ_HEADS = select(_all_heads(_HEADS))
_CLAIM_HEAD = {False: _head_claims(skip_locked=False), True: _head_claims(skip_locked=True)}
_CLAIM_KIND_LOCKED = _kind_claims()
_due_union = _all_heads(_HEADS)
# The due rows are picked again inside the write: another claimer may have taken some
# since the read, and the claimable condition is re-checked on every row. Handed to free
# callers all at once, so their order among themselves does not matter.
_CLAIM_DUE = _claim_statement(
    _events.c.id.in_(
        select(_due_union.c.id)
        .order_by(_due_union.c.next_attempt_at, _due_union.c.id)
        .limit(_LIMIT)
    )
)


def _due_now(now: datetime, *, limit: int) -> list:
    # A plain read first: an idle poll must not take SQLite's write lock every half second.
    with read_session() as session:
        return session.execute(_READ_HEADS, {"claim_now": now, "claim_limit": limit}).all()


def claim_next_event(*, worker: str, now: datetime | None = None) -> ClaimedEvent | None:
    """Claims the most overdue event, or returns None when nothing is due."""
    now = now or utcnow()
    found = sorted(_due_now(now, limit=1), key=lambda row: (row[1] or now, row[0]))
    claims = _CLAIM_HEAD[not is_sqlite()]
    for _, _, kind in found:
        claimed = _claim(claims[kind], worker=worker, now=now, claim_limit=1)
        if claimed is not None:
            return claimed
    return None


def claim_due_events(*, worker: str, limit: int, now: datetime | None = None) -> list[ClaimedEvent]:
    """Claims up to ``limit`` of the most overdue events (fewer when fewer are due).

    In one write, not one per event: on SQLite its writers take turns on one lock, and a
    worker that verifies twenty payments a second against a slow gateway would otherwise
    spend twenty of those turns a second on claims alone; on PostgreSQL each claim is a
    transaction of round trips and commit, which cost the background process more CPU than
    the claim's work.
    """
    if limit <= 1:
        claimed = claim_next_event(worker=worker, now=now)
        return [] if claimed is None else [claimed]
    now = now or utcnow()
    found = _due_now(now, limit=limit)
    if not found:
        return []
    if not is_sqlite():
        return _claim_each_kind(found, worker=worker, limit=limit, now=now)
    return _claim_all(_CLAIM_DUE, worker=worker, now=now, claim_limit=limit)


def _claim_each_kind(found: list, *, worker: str, limit: int, now: datetime) -> list[ClaimedEvent]:
    """PostgreSQL: one UPDATE per kind of due event the read found (usually one), so
    claimers in other processes skip rows already being claimed instead of queueing
    behind them (``_kind_claims``)."""
    claimed: list[ClaimedEvent] = []
    oldest_first = sorted(found, key=lambda row: (row[1] or now, row[0]))
    for kind in dict.fromkeys(row[2] for row in oldest_first):
        wanted = limit - len(claimed)
        if wanted <= 0:
            break
        claimed += _claim_all(_CLAIM_KIND_LOCKED[kind], worker=worker, now=now, claim_limit=wanted)
    return claimed


def retry_delay_seconds(*, attempts: int, retry_after: float | None = None) -> float:
    """Capped exponential backoff with jitter: about 2 s, 4 s, 8 s … at most the cap
    (``callback_retry_cap_seconds``, five minutes by default).

    The jitter (half the delay) keeps a burst of callbacks that failed together during an
    outage from all retrying in the same second; the gateway's return is noticed by the
    first of them and brings the rest forward (``note_gateway_result``).
    """
    cap = get_settings().callback_retry_cap_seconds
    # The exponent is bounded: a callback retried for days must not overflow a float.
    ceiling = min(RETRY_BASE_SECONDS * 2 ** min(max(attempts - 1, 0), 32), cap)
    delay = ceiling / 2 + random.uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


def _gives_up(claimed: ClaimedEvent, *, now: datetime) -> bool:
    settings = get_settings()
    too_old = now - claimed.received_at >= timedelta(hours=settings.callback_give_up_hours)
    return claimed.attempts >= settings.callback_max_attempts or too_old


def schedule_retry(
    claimed: ClaimedEvent,
    *,
    error: str,
    retry_after: float | None = None,
    now: datetime | None = None,
) -> str:
    """Gives the event back for a later try. Once retries are exhausted a person is told
    too, but the tries go on at the capped interval: an outage longer than the retry
    budget must not leave a paid invoice unpaid once EveryPay answers again."""
    now = now or utcnow()
    error = error[:1000]
    delay = retry_delay_seconds(attempts=claimed.attempts, retry_after=retry_after)
    next_at = now + timedelta(seconds=delay)
    if _gives_up(claimed, now=now):
        status = CallbackStatus.NEEDS_ATTENTION
        outcome = (
            f"not verified after {claimed.attempts} tries ({error}); needs attention, "
            f"still re-asked, next in {delay:.0f} s"
        )
    else:
        status = CallbackStatus.PENDING
        outcome = (
            f"EveryPay gave no usable answer ({error}); try {claimed.attempts + 1} in {delay:.0f} s"
        )
    with write_session() as session:
        session.exec(
            update(CallbackEvent)
            .where(col(CallbackEvent.id) == claimed.id)
            .where(col(CallbackEvent.claimed_by) == claimed.claimed_by)
            .values(
                status=status,
                next_attempt_at=next_at,
                claimed_by=None,
                claimed_until=None,
                last_error=error,
                outcome=outcome[:1000],
            )
        )
        if status == CallbackStatus.NEEDS_ATTENTION:
            open_review(
                session,
                kind=ReviewKind.UNVERIFIED_CALLBACK,
                dedupe_key=unverified_review_key(claimed),
                reason=(
                    f"Callback for payment {claimed.payment_reference} could not be verified "
                    f"with EveryPay after {claimed.attempts} tries: {error}. Check the "
                    "channel's API username, secret and environment. It keeps being re-asked "
                    "every few minutes and is booked as soon as EveryPay answers."
                ),
                callback_event_id=claimed.id,
                channel_id=claimed.channel_id,
            )
    return outcome


def unverified_review_key(claimed: ClaimedEvent) -> str:
    return f"unverified_callback:{claimed.channel_id}:{claimed.payment_reference}"


# Channels whose last API call from this process got an answer. A channel is missing at
# start-up (nothing known yet) and after a call that found the gateway down or refusing
# the credentials; the next answer for it then brings its waiting callbacks forward.
_answering: set[tuple[str, int]] = set()
_answering_lock = threading.Lock()


def note_gateway_result(*, channel_id: int, result: ApiResult, now: datetime | None = None) -> int:
    """Tracks whether EveryPay answers for this channel; returns how many waiting
    callbacks were made due now because it answers again.

    Only a channel-wide failure counts as "not answering" (no connection, a timeout, a
    5xx, refused credentials): a malformed answer or a 429 concerns one payment or asks
    for patience, and bringing callbacks forward after them would defeat their backoff.
    """
    key = (str(get_engine().url), channel_id)
    if result.outcome in (Outcome.OK, Outcome.NOT_FOUND):
        with _answering_lock:
            if key in _answering:
                return 0
            _answering.add(key)
        return make_waiting_callbacks_due(channel_id=channel_id, now=now or utcnow())
    down = result.outcome is Outcome.AUTH_REFUSED or (
        result.outcome is Outcome.TRANSIENT
        and (result.http_status is None or result.http_status >= 500)
    )
    if down:
        with _answering_lock:
            _answering.discard(key)
    return 0


def make_waiting_callbacks_due(*, channel_id: int, now: datetime) -> int:
    """One conditional UPDATE: every callback of the channel waiting for a later try is
    due now; the claim then serves them by id, oldest first."""
    with write_session() as session:
        moved = session.exec(
            update(CallbackEvent)
            .where(col(CallbackEvent.channel_id) == channel_id)
            .where(col(CallbackEvent.status).in_(WAITING))
            .where(col(CallbackEvent.next_attempt_at) > now)
            .values(next_attempt_at=now)
        ).rowcount
    if moved:
        log.info("EveryPay answers for channel %s again: %s callback(s) due now", channel_id, moved)
    return moved
