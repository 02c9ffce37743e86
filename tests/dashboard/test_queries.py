"""List queries: filtered, sorted, counted and paged by the database, using indexes."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from shared.db import get_engine
from shared.models import Invoice
from shared.views.audit_log import AuditFilter, _audit_select
from shared.views.customers import _credit_select
from shared.views.invoices import (
    InvoiceFilter,
    _invoice_conditions,
    _invoice_select,
    invoice_page,
    invoice_rows,
)
from shared.views.payments import PaymentFilter, attempt_select, payment_page
from tests.dashboard.conftest import make_attempt
from tests.utils.factories import make_channel, make_customer, make_invoice

TODAY = date(2026, 5, 20)
TZ = "Europe/Riga"


@pytest.fixture
def invoices(any_db):
    channel = make_channel()
    anna, bob = make_customer(name="Anna SIA"), make_customer(name="Bob OÜ")
    made = [
        make_invoice(
            channel=channel,
            customer=anna if index % 2 else bob,
            issue_date=date(2026, 4, 1 + index),
            due_date=date(2026, 5, 10 + index),
        )
        for index in range(12)
    ]
    make_invoice(channel=None, customer=anna, issue=False)
    return made


def test_invoice_page_counts_all_and_returns_one_page(invoices):
    first = invoice_page(InvoiceFilter(), today=TODAY, offset=0, limit=5)
    assert (first.total, len(first.rows), first.first_row_number, first.last_row_number) == (
        13,
        5,
        1,
        5,
    )
    assert first.rows[0][0] == "(draft)"  # newest first
    last = invoice_page(InvoiceFilter(), today=TODAY, offset=10, limit=5)
    assert (len(last.rows), last.first_row_number, last.last_row_number) == (3, 11, 13)
    assert not set(first.ids) & set(last.ids)


def test_invoice_filters(invoices):
    def numbers(flt, **kwargs):
        return [row[0] for row in invoice_page(flt, today=TODAY, **kwargs).rows]

    overdue = invoice_page(InvoiceFilter(statuses=("overdue",)), today=TODAY)
    assert overdue.total == 10  # due 10–19 May; due 20 and 21 May are not late yet
    assert {row[2] for row in overdue.rows} == {"Overdue"}
    assert invoice_page(InvoiceFilter(statuses=("issued",)), today=TODAY).total == 2
    both = InvoiceFilter(statuses=("issued", "overdue"))
    assert invoice_page(both, today=TODAY).total == 12
    assert numbers(InvoiceFilter(customer="bob"), sort="number", descending=False)[0] == (
        invoices[0].number
    )
    assert invoice_page(InvoiceFilter(customer="ANNA"), today=TODAY).total == 7
    assert invoice_page(InvoiceFilter(statuses=("draft",)), today=TODAY).total == 1
    in_range = InvoiceFilter(date_from=date(2026, 4, 3), date_to=date(2026, 4, 5))
    assert invoice_page(in_range, today=TODAY).total == 3
    assert numbers(InvoiceFilter(number=invoices[3].number.lower())) == [invoices[3].number]
    assert numbers(InvoiceFilter(number="0004")) == [invoices[3].number]
    channel_id = invoices[0].channel_id
    assert invoice_page(InvoiceFilter(channel_id=channel_id), today=TODAY).total == 12


def test_invoice_export_streams_the_same_rows_in_the_same_order(invoices):
    flt = InvoiceFilter(customer="anna")
    page = invoice_page(flt, today=TODAY, sort="due_date", limit=100)
    assert tuple(invoice_rows(flt, today=TODAY, sort="due_date")) == page.rows


def test_payments_show_card_invoice_and_customer(invoices):
    make_attempt(invoices[0], at=datetime(2026, 5, 2, 9, 0, tzinfo=UTC))
    make_attempt(invoices[1], state="failed", card=None, at=datetime(2026, 5, 3, tzinfo=UTC))
    table = payment_page(PaymentFilter(), tz=TZ)
    assert table.total == 2
    newest, oldest = (dict(zip(table.labels, row, strict=True)) for row in table.rows)
    assert (newest["State"], newest["Card"]) == ("Failed", "")
    assert oldest["Card"] == "visa •••• 4242"
    assert oldest["Invoice"] == invoices[0].number
    assert oldest["Customer"] == "Bob OÜ"
    assert oldest["Created"] == datetime(2026, 5, 2, 12, 0)  # Riga time
    by_state = payment_page(PaymentFilter(states=("settled",)), tz=TZ)
    assert by_state.total == 1
    by_reference = payment_page(PaymentFilter(reference=invoices[1].number), tz=TZ)
    assert [row[2] for row in by_reference.rows] == [invoices[1].number]
    in_may_2 = PaymentFilter(date_from=date(2026, 5, 2), date_to=date(2026, 5, 2))
    assert payment_page(in_may_2, tz=TZ).total == 1


def _plan(stmt) -> str:
    engine = get_engine()
    sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as connection:
        return "\n".join(row[-1] for row in connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql))


@pytest.mark.parametrize(
    ("flt", "sort", "index"),
    [
        (InvoiceFilter(statuses=("overdue",)), "newest", "ix_invoice_status_due"),
        (InvoiceFilter(statuses=("paid",)), "newest", "ix_invoice_status_"),
        (InvoiceFilter(number="INV-2026-00"), "newest", "sqlite_autoindex_invoice"),
        (InvoiceFilter(channel_id=1), "newest", "ix_invoice_channel_id"),
        (InvoiceFilter(date_from=date(2026, 1, 1)), "issue_date", "ix_invoice_issue_date_id"),
        (InvoiceFilter(), "due_date", "ix_invoice_due_date_id"),
        (InvoiceFilter(), "total", "ix_invoice_total_id"),
        (InvoiceFilter(), "open", "ix_invoice_open_minor"),
    ],
)
def test_invoice_list_queries_use_an_index(db, flt, sort, index):
    stmt = _invoice_select(flt, sort=sort, descending=True, today=TODAY, dialect="sqlite")
    plan = _plan(stmt.limit(50))
    invoice_steps = [line for line in plan.splitlines() if " invoice" in line]
    assert index in invoice_steps[0], plan
    count = (
        select(func.count())
        .select_from(Invoice)
        .where(*_invoice_conditions(flt, today=TODAY, dialect="sqlite"))
    )
    assert "INDEX" in _plan(count)


def test_default_lists_need_no_sort_of_the_whole_table(db):
    newest = _plan(
        _invoice_select(
            InvoiceFilter(), sort="newest", descending=True, today=TODAY, dialect="sqlite"
        ).limit(50)
    )
    payments = _plan(attempt_select(PaymentFilter(), tz=TZ, dialect="sqlite").limit(50))
    audit = _plan(_audit_select(AuditFilter(), tz=TZ).limit(50))
    for plan in (newest, payments, audit):
        assert "TEMP B-TREE" not in plan, plan
    assert "ix_payment_attempt_created_at" in payments
    assert "ix_audit_log_at" in audit


def test_customer_credit_reads_only_invoices_below_zero(db):
    """Customers opens with the credit list: read through the open-amount index it takes a
    few rows; grouped in the customer index's order it reads every invoice (seconds at
    1 M invoices)."""
    credit = _credit_select().subquery()
    for stmt in (select(func.count()).select_from(credit), _credit_select().limit(50)):
        plan = _plan(stmt)
        assert "USING INDEX ix_invoice_open_minor (open_minor<?)" in plan, plan
