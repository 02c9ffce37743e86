"""Receiving a callback: validate, persist the raw record in one short transaction, answer.

Nothing in a callback is trusted (EveryPay does not sign them); it is stored as received,
then the worker asks the API. Bad input to a channel's URL is still recorded, as
REJECTED, so the callback log shows every request that reached a Callback URL. Requests
to unknown URLs are answered 404 and only counted (``shared.callbacks.ratelimit``): anyone
can send them, so storing them would let anyone fill the disk. The URL token itself is
never stored or logged: it is the only secret in the URL.
"""

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, update
from sqlmodel import col, select

from shared.channels import TokenOwner, find_channel_by_token
from shared.db import read_session, write_session
from shared.log_context import log_context
from shared.models import CallbackEvent, CallbackStatus, PaymentChannel, utcnow

log = logging.getLogger(__name__)

# EveryPay's references are 64 hex characters; any letters and digits are accepted so a
# change of case or length on their side does not turn real callbacks away. The service's
# OpenAPI schema publishes the same patterns.
FIELD_PATTERNS = {
    "payment_reference": r"[A-Za-z0-9]{1,64}",
    "order_reference": r"[A-Za-z0-9/-]{1,120}",
    "event_name": r"[a-z_]{1,64}",
}
_EXPECTED = {
    "payment_reference": "1 to 64 letters and digits",
    "order_reference": "1 to 120 of A-Z a-z 0-9 / -",
    "event_name": "1 to 64 of a-z and _",
}
_RULES = {name: re.compile(pattern) for name, pattern in FIELD_PATTERNS.items()}
REQUIRED = ("payment_reference",)
# Bounds on what is kept of the raw parameters, so a callback row stays small.
MAX_PARAMS = 30
MAX_KEY = 64
MAX_VALUE = 500


@dataclass(frozen=True)
class IntakeResult:
    http_status: int
    body: dict[str, Any]
    event_id: int | None
    retry_after_seconds: int | None = None

    @property
    def queued(self) -> bool:
        return self.http_status == 200

    @property
    def unknown_url(self) -> bool:
        return self.http_status == 404


NOT_FOUND = IntakeResult(404, {"detail": "Not Found"}, None)


def unavailable(*, wait_seconds: float) -> IntakeResult:
    """The answer when the callback could not be stored: EveryPay delivers it again."""
    return IntakeResult(
        503,
        {"status": "unavailable", "error": "the callback could not be stored; send it again"},
        None,
        retry_after_seconds=max(math.ceil(wait_seconds), 1),
    )


def validation_errors(params: Mapping[str, str]) -> dict[str, str]:
    """Field name → what is wrong with it; empty when the callback can be processed."""
    errors: dict[str, str] = {}
    for name, pattern in _RULES.items():
        value = params.get(name, "")
        if not value:
            if name in REQUIRED:
                errors[name] = "missing"
            continue
        if not pattern.fullmatch(value):
            errors[name] = f"must be {_EXPECTED[name]}"
    return errors


@dataclass(frozen=True)
class CallbackRequest:
    """One HTTP request to a Callback URL, as the route parsed it."""

    channel_token: str
    params: Mapping[str, str]
    http_method: str
    remote_addr: str | None
    # Stored with the row, so the worker's lines about it carry the same id.
    request_id: str | None = None


def receive_callback(
    *,
    channel_token: str,
    params: Mapping[str, str],
    http_method: str,
    remote_addr: str | None,
    request_id: str | None = None,
) -> IntakeResult:
    request = CallbackRequest(channel_token, params, http_method, remote_addr, request_id)
    return receive_callbacks(requests=[request])[0]


_event_table = CallbackEvent.__table__
# A Core insert of plain rows, built once: the ORM's per-object bookkeeping, or putting
# the statement together per batch, would cost more than the insert itself at hundreds
# of callbacks per second.
_INSERT_EVENTS = insert(_event_table).returning(_event_table.c.id, sort_by_parameter_order=True)


def receive_callbacks(
    *, requests: Sequence[CallbackRequest], max_wait_seconds: float | None = None
) -> list[IntakeResult]:
    """Records a batch of callbacks in one write transaction, results in request order.

    The service's group commit hands over every request that arrived while the previous
    batch was being committed, so a burst costs one transaction (one fsync, one turn at
    SQLite's write lock) per batch instead of one per callback. ``max_wait_seconds``
    bounds the wait for the database (see ``write_session``).
    """
    now = utcnow()
    with write_session(max_wait_seconds=max_wait_seconds) as session:
        channels = {
            token: find_channel_by_token(session, token)
            for token in {request.channel_token for request in requests}
        }
        known = [
            (request, channel)
            for request in requests
            if (channel := channels[request.channel_token]) is not None
        ]
        # Validated once: the row records the verdict, the answer repeats it.
        problems = [validation_errors(request.params) for request, _ in known]
        rows = [
            _event_row(request, channel, errors, now=now)
            for (request, channel), errors in zip(known, problems, strict=True)
        ]
        event_ids: Sequence[int] = []
        if rows:
            event_ids = session.connection().execute(_INSERT_EVENTS, rows).scalars().all()
        first_seen = [
            channel.id
            for channel in channels.values()
            if channel is not None and channel.first_callback_at is None
        ]
        if first_seen:
            # The set-up checklist's "Callback URL pasted" step.
            session.exec(
                update(PaymentChannel)
                .where(col(PaymentChannel.id).in_(first_seen))
                .where(col(PaymentChannel.first_callback_at).is_(None))
                .values(first_callback_at=now)
            )
    answers = (
        _answer(row, event_id, errors, request_id=row["request_id"])
        for row, event_id, errors in zip(rows, event_ids, problems, strict=True)
    )
    results = [
        next(answers) if channels[request.channel_token] else NOT_FOUND for request in requests
    ]
    # One line per transaction: at hundreds of callbacks a second a line each would cost
    # intake more than the insert (each one is at DEBUG; rejections are warned about).
    received = [result.event_id for result in results if result.queued]
    if received:
        log.info("stored %s callbacks, #%s to #%s", len(received), received[0], received[-1])
    return results


# The event name a customer's return from EveryPay is stored under, so the callback log
# tells it apart from EveryPay's own callbacks.
CUSTOMER_RETURN_EVENT = "customer_return"


def receive_customer_return(
    *,
    channel_id: int,
    params: Mapping[str, str],
    remote_addr: str | None,
    request_id: str | None = None,
) -> int | None:
    """Stores the references a customer's browser brought back from EveryPay after paying,
    as a callback of the invoice's channel: the worker then asks the API about it, with
    the same retries as a callback. A second way to learn of a payment whose every
    callback was lost.

    Returns the callback's id, the id of one already stored for the same payment (asking
    twice tells nothing new, and a reloaded page must not fill the queue), or None when
    the references cannot be a payment's.
    """
    if validation_errors(params):
        return None
    payment_reference = params["payment_reference"]
    known = (
        select(CallbackEvent.id)
        .where(col(CallbackEvent.payment_reference) == payment_reference)
        .where(col(CallbackEvent.channel_id) == channel_id)
        .limit(1)
    )
    # Read first: the page refreshes itself while the payment is checked, and a reload
    # must not queue for SQLite's write lock. Two first visits at once may both store a
    # row; the worker closes the second as a duplicate of the first.
    with read_session() as session:
        stored = session.exec(known).first()
    if stored is not None:
        return stored
    request = CallbackRequest("", params, "GET", remote_addr, request_id)
    with write_session() as session:
        channel = session.get(PaymentChannel, channel_id)
        if channel is None:
            return None
        row = _event_row(request, channel, {}, now=utcnow())
        row["event_name"] = CUSTOMER_RETURN_EVENT
        table = CallbackEvent.__table__
        event_id = session.connection().execute(insert(table).returning(table.c.id), row).scalar()
    log.info(
        "customer came back from EveryPay: payment %s stored as callback #%s",
        payment_reference[:16],
        event_id,
    )
    return event_id


def _event_row(
    request: CallbackRequest,
    channel: TokenOwner,
    errors: dict[str, str],
    *,
    now: datetime,
) -> dict[str, Any]:
    """The callback_event row; every row of a batch has the same keys (one executemany)."""
    params = request.params
    if errors:
        status, outcome = CallbackStatus.REJECTED, f"rejected: {_describe(errors)}"
    else:
        status, outcome = CallbackStatus.PENDING, None
    return {
        "channel_id": channel.id,
        "received_at": now,
        "http_method": _clean(request.http_method, 8) or "GET",
        "params": _raw_params(params),
        "payment_reference": _clean(params.get("payment_reference"), 64),
        "order_reference": _clean(params.get("order_reference"), 120),
        "event_name": _clean(params.get("event_name"), 64),
        "remote_addr": _clean(request.remote_addr, 64),
        "request_id": _clean(request.request_id, 64),
        "status": status,
        "outcome": outcome,
        "next_attempt_at": now if status == CallbackStatus.PENDING else None,
    }


def _describe(errors: dict[str, str]) -> str:
    return "; ".join(f"{name} {problem}" for name, problem in errors.items())


def _answer(
    row: dict[str, Any], event_id: int, errors: dict[str, str], *, request_id: str | None
) -> IntakeResult:
    # The writer thread stores many requests' rows at once: each line gets its own id.
    with log_context(request_id=request_id, callback_id=event_id):
        return _logged_answer(row, event_id, errors)


def _logged_answer(row: dict[str, Any], event_id: int, errors: dict[str, str]) -> IntakeResult:
    if errors:
        log.warning("callback #%s rejected: %s", event_id, "; ".join(errors))
        return IntakeResult(
            400,
            {"status": "rejected", "error": _describe(errors), "fields": sorted(errors)},
            event_id,
        )
    log.debug(
        "callback #%s received: channel %s, %s, payment %s",
        event_id,
        row["channel_id"],
        row["event_name"] or "no event name",
        (row["payment_reference"] or "")[:16],
    )
    return IntakeResult(200, {"status": "received"}, event_id)


def _clean(value: str | None, length: int) -> str | None:
    """Text as the database can hold it: PostgreSQL refuses NUL characters in text."""
    if not value:
        return None
    return value.replace("\x00", "\ufffd")[:length]


def _raw_params(params: Mapping[str, str]) -> dict[str, str]:
    kept: dict[str, str] = {}
    for key, value in list(params.items())[:MAX_PARAMS]:
        kept[_clean(key, MAX_KEY) or "?"] = _clean(value, MAX_VALUE) or ""
    return kept
