"""Payments → Callbacks → Reconciler: the reconciler's latest passes, what each re-checked,
what changed and what failed (shared.callbacks.reconciler records them)."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Row, Select, or_, select

from shared.company import to_local
from shared.config import get_settings
from shared.db import read_session
from shared.exports import Column, Table
from shared.models import ReconcilerRun, utcnow
from shared.views.common import Window, count, label, page, stream

RUN_COLUMNS = (
    Column("started", "Started", "datetime"),
    Column("seconds", "Took (s)", "int"),
    Column("scope", "Payments asked about"),
    Column("callbacks", "Waiting callbacks processed", "int"),
    Column("checked", "Payments re-checked", "int"),
    Column("changed", "Changed", "int"),
    Column("failed", "Failed", "int"),
    Column("lost", "Lost payments flagged", "int"),
    Column("details", "What changed or failed"),
)
SCOPE_LABELS = {"due": "Those due a check", "all": "Every unfinished payment"}
# A reconciler that has missed this many of its passes is not running.
MISSED_PASSES = 3


class RunRow(NamedTuple):
    started: datetime | None
    seconds: int
    scope: str
    callbacks: int
    checked: int
    changed: int
    failed: int
    lost: int
    details: str


@dataclass(frozen=True)
class RunFilter:
    eventful_only: bool = False  # runs that changed, flagged or failed something


class ReconcilerStatus(NamedTuple):
    last_run: datetime | None  # local time
    stalled: bool  # no pass for MISSED_PASSES intervals (or never)


def _conditions(flt: RunFilter) -> list:
    if not flt.eventful_only:
        return []
    return [
        or_(
            ReconcilerRun.changed_count > 0,
            ReconcilerRun.problem_count > 0,
            ReconcilerRun.lost_flagged > 0,
            ReconcilerRun.lost_resolved > 0,
        )
    ]


def _select(flt: RunFilter) -> Select:
    return select(ReconcilerRun).where(*_conditions(flt)).order_by(ReconcilerRun.id.desc())


def _as_stored(line: str) -> str:
    return line


def _row(row: Row, tz: str, wording: Callable[[str], str] = _as_stored) -> RunRow:
    """``wording`` shows each stored line (English) in the reader's language."""
    run: ReconcilerRun = row[0]
    lines = [wording(line) for line in run.changes]
    lines += [wording(f"failed: {problem}") for problem in run.problems]
    return RunRow(
        started=to_local(run.started_at, tz),
        seconds=round((run.finished_at - run.started_at).total_seconds()),
        scope=label(SCOPE_LABELS, run.scope),
        callbacks=run.callbacks_processed,
        checked=run.payments_checked,
        changed=run.changed_count,
        failed=run.problem_count,
        lost=run.lost_flagged,
        details="; ".join(lines),
    )


def reconciler_runs(
    flt: RunFilter,
    *,
    tz: str,
    offset: int = 0,
    limit: int = 50,
    wording: Callable[[str], str] = _as_stored,
) -> Table:
    """The latest passes first; ids are the runs'."""

    def query(session, dialect: str, window: Window):
        stmt = _select(flt).add_columns(ReconcilerRun.id.label("id"))
        return count(session, ReconcilerRun, _conditions(flt)), window.apply(stmt)

    return page(RUN_COLUMNS, query, lambda row: _row(row, tz, wording), offset=offset, limit=limit)


def reconciler_run_rows(
    flt: RunFilter, *, tz: str, wording: Callable[[str], str] = _as_stored
) -> Iterator[RunRow]:
    """Every row ``reconciler_runs`` pages through, in its order, for an export."""
    return stream(_select(flt), lambda row: _row(row, tz, wording))


def reconciler_status(*, tz: str) -> ReconcilerStatus:
    with read_session() as session:
        last = session.execute(
            select(ReconcilerRun.started_at).order_by(ReconcilerRun.id.desc()).limit(1)
        ).scalar_one_or_none()
    if last is None:
        return ReconcilerStatus(last_run=None, stalled=True)
    interval = timedelta(seconds=get_settings().reconcile_interval_seconds)
    return ReconcilerStatus(
        last_run=to_local(last, tz), stalled=utcnow() - last > MISSED_PASSES * interval
    )
