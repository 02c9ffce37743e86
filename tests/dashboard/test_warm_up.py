"""The server's start-up warm-up: the Overview's first visitor finds its figures ready."""

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event

from dashboard import data
from dashboard.warm_up import page_modules, warm_up
from shared.company import company_settings, local_today
from shared.db import get_engine, read_session
from tests.utils.factories import make_channel, make_customer, make_invoice


@pytest.fixture(autouse=True)
def collector_as_before() -> Iterator[None]:
    yield
    gc.unfreeze()  # the warm-up freezes what the whole test process holds


@contextmanager
def counted_statements() -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _overview_figures(today, timezone: str) -> None:
    """The report reads the Overview page makes, with its arguments."""
    data.kpis(today=today, tz=timezone)
    data.aging(today=today)
    data.received_per_period(
        date_from=today - timedelta(weeks=data.OVERVIEW_WEEKS),
        date_to=today,
        tz=timezone,
        granularity="week",
    )


def test_after_the_warm_up_the_overview_figures_need_no_query(db) -> None:
    make_invoice(channel=make_channel(), customer=make_customer())
    with read_session() as session:
        timezone = company_settings(session).timezone

    warm_up()

    with counted_statements() as statements:
        _overview_figures(local_today(timezone), timezone)
    assert statements == []
    data.clear_caches()
    with counted_statements() as statements:  # without the warm-up, the visitor queries
        _overview_figures(local_today(timezone), timezone)
    assert statements


def test_after_the_warm_up_reports_opens_without_a_query(db) -> None:
    """Reports opens with the money received per month over its default period."""
    make_invoice(channel=make_channel(), customer=make_customer())
    with read_session() as session:
        timezone = company_settings(session).timezone
    today = local_today(timezone)
    date_from, date_to = data.reports_default_period(today)

    def received_report() -> None:
        data.received_per_period(
            date_from=date_from, date_to=date_to, tz=timezone, granularity="month"
        )

    warm_up()

    with counted_statements() as statements:
        received_report()
    assert statements == []
    data.clear_caches()
    with counted_statements() as statements:
        received_report()
    assert statements


def test_a_failed_warm_up_is_logged_and_does_not_stop_the_server(
    isolated_settings, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("LINKPAY_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    from shared.config import get_settings
    from shared.db import dispose_engines

    get_settings.cache_clear()
    dispose_engines()
    with caplog.at_level(logging.WARNING, logger="dashboard.warm_up"):
        warm_up()

    assert "warming the dashboard up failed" in caplog.text


def test_the_warm_up_imports_what_the_pages_import() -> None:
    modules = page_modules()
    # Bank statements' parsers and Invoices' sending rules, by the names the pages use.
    assert {"shared.bank.matching", "dashboard.app_pages.sending", "dashboard.ui"} <= set(modules)
    # A name imported from a module is no module of its own.
    assert "shared.exports.with_totals" not in modules


def test_what_the_warm_up_loaded_is_kept_out_of_full_collections(db) -> None:
    gc.unfreeze()
    warm_up()
    # A full collection during a click walks only what was made since the start.
    assert gc.get_freeze_count() > 0
