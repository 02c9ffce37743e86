"""What /health reports: can we store callbacks, and is someone processing them."""

import logging
from dataclasses import asdict, dataclass
from datetime import timedelta

from sqlalchemy import func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from shared.callbacks.worker import HEARTBEAT_PREFIX, HEARTBEAT_SECONDS
from shared.db import read_session
from shared.models import CallbackEvent, CallbackStatus, WorkerHeartbeat, utcnow

log = logging.getLogger(__name__)

HEARTBEAT_STALE = timedelta(seconds=HEARTBEAT_SECONDS * 6)


@dataclass(frozen=True)
class Health:
    database: bool
    worker_alive: bool
    backlog: int | None = None
    oldest_pending_seconds: float | None = None
    needs_attention: int | None = None

    @property
    def ok(self) -> bool:
        # The backlog is reported, not judged: during a gateway outage it grows while the
        # service must stay in rotation to keep acknowledging callbacks.
        return self.database and self.worker_alive

    def as_dict(self) -> dict[str, object]:
        return {"status": "ok" if self.ok else "unavailable", **asdict(self)}


def check_health(*, local_worker_alive: bool | None) -> Health:
    """``local_worker_alive`` is this process's own worker (None when it runs none)."""
    now = utcnow()
    waiting = col(CallbackEvent.status).in_([CallbackStatus.PENDING, CallbackStatus.PROCESSING])
    try:
        with read_session() as session:
            backlog, oldest = session.exec(
                select(func.count(), func.min(CallbackEvent.received_at)).where(waiting)
            ).one()
            needs_attention = session.exec(
                select(func.count()).where(
                    col(CallbackEvent.status) == CallbackStatus.NEEDS_ATTENTION
                )
            ).one()
            last_beat = session.exec(
                select(func.max(WorkerHeartbeat.beat_at)).where(
                    col(WorkerHeartbeat.name).startswith(HEARTBEAT_PREFIX)
                )
            ).one()
    except SQLAlchemyError as error:
        log.error("health check: database unreachable (%s)", type(error).__name__)
        return Health(database=False, worker_alive=False)
    beating = last_beat is not None and now - last_beat < HEARTBEAT_STALE
    return Health(
        database=True,
        worker_alive=beating and local_worker_alive is not False,
        backlog=backlog,
        oldest_pending_seconds=round((now - oldest).total_seconds(), 3) if oldest else None,
        needs_attention=needs_attention,
    )
