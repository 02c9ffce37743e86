"""Every reconciler pass is kept for the Reconciler panel: what it re-checked, what changed,
what failed; only the latest passes stay."""

from datetime import timedelta

import pytest
import respx
from alembic import command as alembic_command
from sqlalchemy import inspect, update
from sqlmodel import select

from shared.callbacks import reconciler
from shared.callbacks.processing import process_event
from shared.callbacks.reconciler import reconcile_once
from shared.db import get_engine, read_session, write_session
from shared.models import PaymentAttempt, ReconcilerRun, utcnow
from shared.operations.migrate import alembic_config, upgrade_to_head
from shared.views.reconciler import (
    RunFilter,
    reconciler_run_rows,
    reconciler_runs,
    reconciler_status,
)
from tests.callbacks.helpers import Shop, answer_with
from tests.utils.callback_service import new_reference

TZ = "Europe/Riga"


def _checks_due_now() -> None:
    with write_session() as session:
        session.exec(update(PaymentAttempt).values(next_check_at=utcnow()))


def _runs() -> list[ReconcilerRun]:
    with read_session() as session:
        return list(session.exec(select(ReconcilerRun).order_by(ReconcilerRun.id)).all())


def test_each_pass_is_kept_with_what_it_checked_changed_and_failed(
    shop: Shop, api: respx.MockRouter
) -> None:
    settled, broken = new_reference(), new_reference()
    answer_with(api, shop.answer(settled, state="sent_for_processing"))
    process_event(shop.callback(settled))
    answer_with(api, shop.answer(settled, state="settled"))
    _checks_due_now()
    reconcile_once()  # settles the invoice
    reconcile_once()  # nothing left to do
    route = answer_with(api, shop.answer(broken, state="authorised"))
    process_event(shop.callback(broken))
    route.respond(503)
    _checks_due_now()
    reconcile_once(due_only=False)  # EveryPay fails to answer

    first, idle, failed = _runs()
    assert (first.scope, first.payments_checked, first.changed_count) == ("due", 1, 1)
    assert f"{shop.invoice.number}: payment settled" in first.changes[0]
    assert (idle.payments_checked, idle.changed_count, idle.problem_count) == (0, 0, 0)
    assert (failed.scope, failed.problem_count) == ("all", 1)
    assert "HTTP 503" in failed.problems[0]
    assert first.started_at <= first.finished_at

    table = reconciler_runs(RunFilter(), tz=TZ)
    assert table.total == 3
    latest = table.rows[0]
    assert (latest.scope, latest.failed) == ("Every unfinished payment", 1)
    assert latest.details.startswith("failed: ") and "HTTP 503" in latest.details
    eventful = reconciler_runs(RunFilter(eventful_only=True), tz=TZ)
    assert [row.changed + row.failed for row in eventful.rows] == [1, 1]
    assert tuple(reconciler_run_rows(RunFilter(), tz=TZ)) == (
        reconciler_runs(RunFilter(), tz=TZ, limit=1).rows
        + reconciler_runs(RunFilter(), tz=TZ, offset=1, limit=1).rows
        + reconciler_runs(RunFilter(), tz=TZ, offset=2, limit=1).rows
    )


def test_only_the_latest_runs_are_kept(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconciler, "RUNS_KEPT", 2)
    for _ in range(4):
        reconcile_once()
    assert [run.id for run in _runs()] == [3, 4]


def test_a_run_that_cannot_be_recorded_still_reconciles(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(reconciler, "_record_run", broken)
    assert reconcile_once().problems == []
    assert _runs() == []


def test_a_reconciler_that_stopped_running_is_reported(shop: Shop) -> None:
    assert reconciler_status(tz=TZ) == (None, True)
    reconcile_once()
    status = reconciler_status(tz=TZ)
    assert status.last_run is not None and not status.stalled
    with write_session() as session:
        session.exec(update(ReconcilerRun).values(started_at=utcnow() - timedelta(minutes=10)))
    assert reconciler_status(tz=TZ).stalled


def test_the_run_log_migration_goes_back_and_forth_cleanly(any_db: str) -> None:
    def schema() -> tuple[bool, bool]:
        inspector = inspect(get_engine(any_db))
        indexes = {index["name"] for index in inspector.get_indexes("audit_log")}
        return "reconciler_run" in inspector.get_table_names(), "ix_audit_log_entity" in indexes

    assert schema() == (True, True)
    config = alembic_config(any_db)
    with get_engine(any_db).begin() as connection:
        config.attributes["connection"] = connection
        alembic_command.downgrade(config, "0020")
    assert schema() == (False, False)
    upgrade_to_head(any_db)
    assert schema() == (True, True)
