"""Report figures on known data, in the company's time zone (Europe/Riga, UTC+3 in May)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from shared import reports
from shared.exports import csv_chunks
from tests.dashboard.conftest import download_links, make_attempt
from tests.utils.factories import make_channel, make_customer, make_invoice

TODAY = date(2026, 5, 20)
TZ = "Europe/Riga"
# The Reports page's picker: the name in the address and the report's heading.
REPORTS = {
    "received": "Received per period and channel",
    "aging": "Accounts receivable aging",
    "outstanding": "Outstanding per customer",
    "days-to-pay": "Days to pay",
    "sales-ledger": "Sales ledger",
    "vat-summary": "VAT summary",
}


def _build_ledger():
    """Anna: A1 overdue 5 days, A2 overdue 125 days, C1 paid just after local midnight of
    1 May. Bob: B1 not due, 21.00 paid; B2 paid at 01:30 on Monday 11 May, Riga time."""
    channel = make_channel()
    anna, bob = make_customer(name="Anna SIA"), make_customer(name="Bob OÜ")

    def invoice(customer, issued, due):
        return make_invoice(channel=channel, customer=customer, issue_date=issued, due_date=due)

    invoice(anna, date(2026, 5, 1), date(2026, 5, 15))
    invoice(anna, date(2026, 1, 1), date(2026, 1, 15))
    c1 = invoice(anna, date(2026, 4, 20), date(2026, 5, 4))
    b1 = invoice(bob, date(2026, 5, 10), date(2026, 5, 24))
    b2 = invoice(bob, date(2026, 4, 1), date(2026, 4, 15))
    make_attempt(c1, at=datetime(2026, 4, 30, 22, 30, tzinfo=UTC))
    make_attempt(b2, at=datetime(2026, 5, 10, 22, 30, tzinfo=UTC))
    make_attempt(b1, amount_minor=2100, at=datetime(2026, 5, 11, 10, 0, tzinfo=UTC))
    make_attempt(b1, state="failed", amount_minor=10000, at=datetime(2026, 5, 11, 9, 0, tzinfo=UTC))


@pytest.fixture
def ledger(any_db):
    """The ledger on SQLite and, where one is configured, PostgreSQL."""
    _build_ledger()


@pytest.fixture
def sqlite_ledger(db):
    _build_ledger()


def test_kpis(ledger):
    (kpi,) = reports.kpis(today=TODAY, tz=TZ)
    assert kpi.currency == "EUR"
    assert (kpi.outstanding, kpi.open_invoices) == (Decimal("342.00"), 3)
    assert (kpi.overdue, kpi.overdue_invoices) == (Decimal("242.00"), 2)
    assert kpi.received_this_month == Decimal("263.00")  # C1 counts in May, local time
    assert kpi.share_paid_online == Decimal("75.0")  # 3 of the 4 issued since 19 Feb
    assert kpi.average_days_to_pay == Decimal("25.4")  # (39.94 + 10.94) / 2


def test_aging_buckets(ledger):
    table = reports.aging(today=TODAY)
    assert [c.label for c in table.columns] == [
        "Days past due",
        "Currency",
        "Invoices",
        "Open balance",
    ]
    assert table.rows == (
        ("Not due yet", "EUR", 1, Decimal("100.00")),
        ("1–30 days", "EUR", 1, Decimal("121.00")),
        ("31–60 days", "EUR", 0, Decimal("0.00")),
        ("61–90 days", "EUR", 0, Decimal("0.00")),
        ("90+ days", "EUR", 1, Decimal("121.00")),
    )


def test_received_per_month_and_per_local_week(ledger):
    month = reports.received_per_period(
        date_from=date(2026, 5, 1), date_to=date(2026, 5, 31), tz=TZ, granularity="month"
    )
    assert month.rows == (
        (date(2026, 5, 1), "LinkPay · Merchant EUR", "EUR", 3, Decimal("263.00")),
    )
    weeks = reports.received_per_period(
        date_from=date(2026, 4, 27), date_to=TODAY, tz=TZ, granularity="week"
    )
    assert weeks.rows == (
        (date(2026, 4, 27), "LinkPay · Merchant EUR", "EUR", 1, Decimal("121.00")),
        (date(2026, 5, 11), "LinkPay · Merchant EUR", "EUR", 2, Decimal("142.00")),
    )
    april = reports.received_per_period(
        date_from=date(2026, 4, 1), date_to=date(2026, 4, 30), tz=TZ, granularity="month"
    )
    assert april.rows == ()


def test_outstanding_per_customer_pages_and_streams_the_same_rows(ledger):
    table = reports.outstanding_per_customer(today=TODAY)
    assert table.total == 2
    assert table.rows == (
        ("Anna SIA", "EUR", 2, Decimal("242.00"), Decimal("242.00"), date(2026, 1, 15)),
        ("Bob OÜ", "EUR", 1, Decimal("100.00"), Decimal("0.00"), date(2026, 5, 24)),
    )
    assert tuple(reports.outstanding_rows(today=TODAY)) == table.rows
    second = reports.outstanding_per_customer(today=TODAY, offset=1, limit=1)
    assert second.rows == table.rows[1:]


def test_days_to_pay_per_customer(ledger):
    table = reports.days_to_pay(date_from=date(2026, 5, 1), date_to=TODAY, tz=TZ)
    assert table.rows == (
        ("Bob OÜ", 1, Decimal("39.9"), Decimal("39.9")),
        ("Anna SIA", 1, Decimal("10.9"), Decimal("10.9")),
    )


def test_report_export_holds_exactly_the_table(sqlite_ledger):
    table = reports.aging(today=TODAY)
    text = "".join(csv_chunks(table.columns, table.rows))
    lines = text.lstrip("\ufeff").splitlines()
    assert lines[0] == "Days past due,Currency,Invoices,Open balance"
    assert lines[1:] == [
        "Not due yet,EUR,1,100.00",
        "1–30 days,EUR,1,121.00",
        "31–60 days,EUR,0,0.00",
        "61–90 days,EUR,0,0.00",
        "90+ days,EUR,1,121.00",
    ]


def test_reports_and_overview_pages_show_the_figures(sqlite_ledger, monkeypatch):
    from dashboard import ui
    from tests.dashboard.conftest import app_as, no_exceptions, open_page, texts

    monkeypatch.setattr(ui, "today", lambda: TODAY)
    at = app_as("manager")
    no_exceptions(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Outstanding"] == "342.00 EUR"
    assert metrics["Overdue"] == "242.00 EUR"
    assert metrics["Share paid online"] == "75.0 %"
    assert metrics["Open exceptions"] == "0"

    at = open_page(at, "reports")
    no_exceptions(at)
    at = at.segmented_control(key="rep_report").set_value("aging").run()
    no_exceptions(at)
    (aging,) = [frame.value for frame in at.dataframe]
    assert list(aging["Days past due"]) == [
        "Not due yet",
        "1–30 days",
        "31–60 days",
        "61–90 days",
        "90+ days",
    ]
    at = at.segmented_control(key="rep_report").set_value("outstanding").run()
    (outstanding,) = [frame.value for frame in at.dataframe]
    assert list(outstanding["Customer"]) == ["Anna SIA", "Bob OÜ"]
    assert "Rows 1–2 of 2" in texts(at)
    # Each of the four figures above, the sales ledger and the VAT summary downloads: one
    # CSV and one XLSX of the report on screen.
    for report in REPORTS:
        at = at.segmented_control(key="rep_report").set_value(report).run()
        no_exceptions(at)
        labels = [label for label, _ in download_links(at)]
        assert labels == ["Download CSV", "Download XLSX"], report


def _reports_page(monkeypatch, *, link: str | None = None):
    """Reports as a manager opens it: from the navigation, or from a link with ?report=."""
    from dashboard import ui
    from tests.dashboard.conftest import app_as

    monkeypatch.setattr(ui, "today", lambda: TODAY)
    at = app_as("manager")
    if link is not None:
        at.query_params["report"] = link
    return at.switch_page("app_pages/reports.py").run()


def _heading(at) -> str:
    (heading,) = [element.value for element in at.subheader]
    return heading


def test_reports_opens_one_report_at_a_time(sqlite_ledger, monkeypatch):
    """Every report has rows here, yet the page draws only the chosen one's table: the
    others' queries are not paid for on every run."""
    from tests.dashboard.conftest import no_exceptions

    at = _reports_page(monkeypatch)
    no_exceptions(at)
    assert at.segmented_control(key="rep_report").value == "received"
    assert _heading(at) == "Received per period and channel"
    for report, heading in REPORTS.items():
        at = at.segmented_control(key="rep_report").set_value(report).run()
        no_exceptions(at)
        assert _heading(at) == heading
        assert len(at.dataframe) == 1, report


def test_a_link_opens_its_report_and_a_rerun_keeps_it(sqlite_ledger, monkeypatch):
    from tests.dashboard.conftest import no_exceptions

    at = _reports_page(monkeypatch, link="vat-summary")
    no_exceptions(at)
    assert _heading(at) == "VAT summary"
    assert "VAT after credit notes" in at.dataframe[0].value.columns

    at = at.segmented_control(key="rep_report").set_value("sales-ledger").run()
    at = at.run()
    assert _heading(at) == "Sales ledger"
    # The address names the report, so a reload or a copied link opens it again.
    assert at.query_params["report"] == "sales-ledger"
    at = at.segmented_control(key="rep_report").set_value("received").run()
    assert "report" not in at.query_params


def test_an_unknown_report_in_a_link_opens_the_default(sqlite_ledger, monkeypatch):
    from tests.dashboard.conftest import no_exceptions

    at = _reports_page(monkeypatch, link="balance-sheet")
    no_exceptions(at)
    assert not at.error and not at.warning
    assert _heading(at) == "Received per period and channel"
    assert "report" not in at.query_params


def test_reports_as_of_today_say_the_dates_do_not_apply(sqlite_ledger, monkeypatch):
    from tests.dashboard.conftest import texts

    at = _reports_page(monkeypatch, link="aging")
    assert at.date_input(key="rep_from").disabled and at.date_input(key="rep_to").disabled
    assert "This report is as of today: the dates above do not apply to it." in texts(at)
    at = at.segmented_control(key="rep_report").set_value("sales-ledger").run()
    assert not at.date_input(key="rep_from").disabled


def test_money_recorded_by_hand_is_received_too(any_db):
    """A bank transfer counts in the month's received money beside LinkPay, under its own
    name; credit moved between a customer's invoices is no money received."""
    from shared.db import write_session
    from shared.ledger.received import apply_customer_credit, record_received_payment

    customer = make_customer(name="Transfer Payer SIA")
    first = make_invoice(channel=None, customer=customer, issue_date=date(2026, 5, 2))
    second = make_invoice(channel=None, customer=customer, issue_date=date(2026, 5, 3))
    with write_session() as session:
        record_received_payment(
            session,
            actor="finance",
            customer_id=customer.id,
            method="bank_transfer",
            received_on=date(2026, 5, 12),
            amount="150.00",
            currency="EUR",
            allocations=[(first.id, "150.00")],
        )
    with write_session() as session:
        apply_customer_credit(
            session, actor="finance", customer_id=customer.id, invoice_id=second.id, amount="29.00"
        )

    (kpi,) = reports.kpis(today=TODAY, tz=TZ)
    assert kpi.received_this_month == Decimal("150.00")
    month = reports.received_per_period(
        date_from=date(2026, 5, 1), date_to=date(2026, 5, 31), tz=TZ, granularity="month"
    )
    assert month.rows == ((date(2026, 5, 1), "Bank transfer", "EUR", 1, Decimal("150.00")),)
