"""What /health reports: can we store callbacks, is someone processing them, and are
payments waiting on a failing gateway or on a person."""

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import case, func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from shared.callbacks.worker import HEARTBEAT_PREFIX, HEARTBEAT_SECONDS
from shared.db import read_session
from shared.models import (
    CallbackEvent,
    CallbackStatus,
    PaymentChannel,
    WorkerHeartbeat,
    utcnow,
)
from shared.security import SecretKeyError, decrypt_secret

log = logging.getLogger(__name__)

HEARTBEAT_STALE = timedelta(seconds=HEARTBEAT_SECONDS * 6)


@dataclass(frozen=True)
class Health:
    database: bool
    worker_alive: bool
    backlog: int | None = None
    oldest_pending_seconds: float | None = None
    needs_attention: int | None = None
    # Callbacks whose last try got no usable answer from EveryPay and that wait for the next.
    retrying: int | None = None
    # False when the key file does not open the channels' API secrets (a replaced key):
    # no callback can be verified until the key is restored or the secrets re-entered.
    secrets_readable: bool | None = None

    @property
    def ok(self) -> bool:
        # The backlog is reported, not judged: during a gateway outage it grows while the
        # service must stay in rotation to keep acknowledging callbacks.
        return self.database and self.worker_alive

    @property
    def payments_waiting(self) -> bool:
        """Payments wait on a failing gateway, on a person, or on the key file."""
        return bool(self.retrying or self.needs_attention or self.secrets_readable is False)

    @property
    def status(self) -> str:
        """ "degraded" while payments wait on EveryPay or a person: the service still takes
        callbacks (HTTP 200), but monitoring should tell someone."""
        if not self.ok:
            return "unavailable"
        if self.payments_waiting:
            return "degraded"
        return "ok"

    def as_dict(self) -> dict[str, object]:
        return {"status": self.status, **asdict(self)}


def check_health(*, local_worker_alive: bool | None) -> Health:
    """``local_worker_alive`` is this process's own worker (None when it runs none)."""
    now = utcnow()
    waiting = col(CallbackEvent.status).in_([CallbackStatus.PENDING, CallbackStatus.PROCESSING])
    failed_before = case((col(CallbackEvent.last_error).is_not(None), 1))
    try:
        with read_session() as session:
            backlog, oldest, retrying = session.exec(
                select(
                    func.count(), func.min(CallbackEvent.received_at), func.count(failed_before)
                ).where(waiting)
            ).one()
            needs_attention = session.exec(
                select(func.count()).where(
                    col(CallbackEvent.status) == CallbackStatus.NEEDS_ATTENTION
                )
            ).one()
            api_secrets = session.exec(select(PaymentChannel.api_secret_encrypted)).all()
            last_beat = session.exec(
                select(func.max(WorkerHeartbeat.beat_at)).where(
                    col(WorkerHeartbeat.name).startswith(HEARTBEAT_PREFIX)
                )
            ).one()
    except SQLAlchemyError as error:
        log.error("health check: database unreachable (%s)", type(error).__name__)
        return Health(database=False, worker_alive=False)
    beating = last_beat is not None and now - last_beat < HEARTBEAT_STALE
    try:
        for ciphertext in api_secrets:
            decrypt_secret(ciphertext)
        secrets_readable = True
    except SecretKeyError:
        secrets_readable = False
    return Health(
        database=True,
        worker_alive=beating and local_worker_alive is not False,
        backlog=backlog,
        oldest_pending_seconds=round((now - oldest).total_seconds(), 3) if oldest else None,
        needs_attention=needs_attention,
        retrying=retrying,
        secrets_readable=secrets_readable,
    )


@dataclass(frozen=True)
class WorkerReport:
    worker: str  # host:pid
    counters: dict[str, Any]


def live_worker_counters() -> list[WorkerReport]:
    """Each live worker process's counters, as its last heartbeat wrote them."""
    since = utcnow() - HEARTBEAT_STALE
    try:
        with read_session() as session:
            rows = session.exec(
                select(WorkerHeartbeat.name, WorkerHeartbeat.counters)
                .where(col(WorkerHeartbeat.name).startswith(HEARTBEAT_PREFIX))
                .where(col(WorkerHeartbeat.beat_at) >= since)
                .order_by(col(WorkerHeartbeat.name))
            ).all()
    except SQLAlchemyError as error:
        log.error("worker counters: database unreachable (%s)", type(error).__name__)
        return []
    return [WorkerReport(name.partition("@")[2], counters or {}) for name, counters in rows]
