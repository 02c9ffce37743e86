"""The Reconciler panel on Callbacks: the latest passes, and a warning once they stop."""

from datetime import timedelta

from shared.db import write_session
from shared.models import ReconcilerRun, utcnow
from tests.dashboard.conftest import app_as, download_links, no_exceptions, open_page, texts


def _run(*, minutes_ago: int, **values) -> None:
    started = utcnow() - timedelta(minutes=minutes_ago)
    with write_session() as session:
        session.add(
            ReconcilerRun(started_at=started, finished_at=started + timedelta(seconds=2), **values)
        )


def test_panel_lists_runs_and_filters_to_those_that_did_something(db):
    _run(minutes_ago=3, payments_checked=4)
    _run(
        minutes_ago=2,
        payments_checked=2,
        changed_count=1,
        problem_count=1,
        changes=["payment 0a1b2c3d4e5f…: INV-2026-0007: payment settled, invoice paid"],
        problems=["payment 9f8e7d6c5b4a…: EveryPay gave no usable answer (HTTP 503)"],
    )
    _run(minutes_ago=1)
    at = open_page(app_as("manager"), "callbacks", opened=("rec_panel",))
    no_exceptions(at)
    runs = next(f.value for f in at.dataframe if "Payments re-checked" in f.value.columns)
    assert list(runs["Payments re-checked"]) == [0, 2, 4]
    assert "INV-2026-0007: payment settled" in runs["What changed or failed"][1]
    assert "failed: payment 9f8e7d6c5b4a…" in runs["What changed or failed"][1]
    assert "not run since" not in texts(at)
    assert [label for label, _ in download_links(at)][:2] == ["Download CSV", "Download XLSX"]

    at.toggle(key="rec_eventful").set_value(True).run()
    runs = next(f.value for f in at.dataframe if "Payments re-checked" in f.value.columns)
    assert list(runs["Payments re-checked"]) == [2]


def test_panel_warns_when_the_reconciler_stopped(db):
    _run(minutes_ago=30)
    at = open_page(app_as("finance"), "callbacks")
    no_exceptions(at)
    assert "The reconciler has not run since" in texts(at)


def test_panel_says_when_the_reconciler_never_ran(db):
    at = open_page(app_as("finance"), "callbacks", opened=("rec_panel",))
    no_exceptions(at)
    assert "The reconciler has not run yet" in texts(at)


def test_panel_shows_its_runs_once_opened(db):
    _run(minutes_ago=1, payments_checked=4)
    at = open_page(app_as("finance"), "callbacks")
    no_exceptions(at)
    # Closed, the panel makes nothing: a visit of Callbacks does not wait for its runs.
    assert not any("Payments re-checked" in f.value.columns for f in at.dataframe)
    at.session_state["rec_panel"] = True  # the user opens it
    at.run()
    no_exceptions(at)
    runs = next(f.value for f in at.dataframe if "Payments re-checked" in f.value.columns)
    assert list(runs["Payments re-checked"]) == [4]
