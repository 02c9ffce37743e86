"""Every table exports what it shows: Payments, Callbacks, Exceptions, Customers (and their
credit) and the Outbox download CSV and XLSX of every row the filter matches, not only the
page on screen, with a totals row per currency where amounts are summed."""

import csv
import io
from datetime import UTC, date, datetime

import openpyxl

from shared import exports
from shared.db import write_session
from shared.exports import TOTAL_LABEL, with_totals
from shared.invoicing import LineInput
from shared.ledger.received import record_received_payment
from shared.mail import list_outbox, outbox_dir
from shared.models import CallbackEvent, Invoice, ReviewItem
from shared.views.callbacks import CallbackFilter, callback_page, callback_rows
from shared.views.customers import (
    customer_credit_page,
    customer_credit_rows,
    customer_page,
    customer_rows,
)
from shared.views.exceptions import ReviewFilter, review_page, review_rows
from shared.views.outbox import OUTBOX_COLUMNS, outbox_table
from shared.views.payments import PAYMENT_COLUMNS, PaymentFilter, payment_page, payment_rows
from tests.dashboard.conftest import app_as, download_links, make_attempt, no_exceptions, open_page
from tests.utils.factories import make_channel, make_customer, make_invoice

TZ = "Europe/Riga"
DOWNLOADS = ["Download CSV", "Download XLSX"]


def _every_page(fetch, limit: int = 1) -> tuple:
    """The rows of every page of a list, one small page after another."""
    rows: list = []
    offset = 0
    while True:
        table = fetch(offset=offset, limit=limit)
        rows += table.rows
        offset += limit
        if offset >= table.total:
            return tuple(rows)


def _csv(columns, rows) -> list[list[str]]:
    with exports.csv_file(columns, rows) as handle:
        return list(csv.reader(io.StringIO(handle.read().decode("utf-8").removeprefix("\ufeff"))))


def _payments():
    channel = make_channel()
    anna = make_customer(name="Anna SIA")
    first, second = (
        make_invoice(
            channel=channel,
            customer=anna,
            due_date=due,
            lines=[LineInput("Consulting", "1", "100.00", "21")],
        )
        for due in (date(2026, 5, 10), date(2026, 5, 20))
    )
    make_attempt(first, amount_minor=5000, at=datetime(2026, 5, 2, tzinfo=UTC))
    make_attempt(second, state="failed", booked=False, at=datetime(2026, 5, 3, tzinfo=UTC))
    with write_session() as session:
        record_received_payment(
            session,
            actor="finance",
            customer_id=anna.id,
            method="cash",
            received_on=date(2026, 5, 4),
            amount="71.00",
            currency="EUR",
            bank_reference="=1+1",
            allocations=[(first.id, "71.00")],
        )
    return first, second


def test_payment_export_holds_every_page_in_order_with_a_total_per_currency(any_db):
    _payments()
    flt = PaymentFilter()
    exported = tuple(payment_rows(flt, tz=TZ))
    assert payment_page(flt, tz=TZ, limit=1).total == 3
    assert exported == _every_page(lambda **page: payment_page(flt, tz=TZ, **page))
    assert [row.source for row in exported] == ["Cash", "LinkPay", "LinkPay"]

    rows = _csv(PAYMENT_COLUMNS, with_totals(PAYMENT_COLUMNS, payment_rows(flt, tz=TZ)))
    assert rows[0] == [column.label for column in PAYMENT_COLUMNS]
    assert "'=1+1" in rows[1]  # a bank reference never runs as a formula
    total = dict(zip(rows[0], rows[-1], strict=True))
    assert (total["Created"], total["Currency"]) == (TOTAL_LABEL, "EUR")
    # Amount: 71.00 cash + 50.00 settled + 121.00 failed; booked: what reached invoices.
    assert (total["Amount"], total["Booked"]) == ("242.00", "121.00")
    assert len(rows) == 1 + 3 + 1


def test_payment_export_follows_the_filter(any_db):
    first, _ = _payments()
    only_linkpay = PaymentFilter(sources=("linkpay",), reference=first.number)
    exported = tuple(payment_rows(only_linkpay, tz=TZ))
    assert [(row.source, row.invoice) for row in exported] == [("LinkPay", first.number)]
    assert tuple(payment_rows(PaymentFilter(states=("refunded",), sources=("cash",)), tz=TZ)) == ()


def test_callback_export_holds_every_page_of_the_filter(any_db):
    channel = make_channel()
    with write_session() as session:
        for index, status in enumerate(("processed", "rejected", "processed")):
            session.add(
                CallbackEvent(
                    channel_id=channel.id,
                    payment_reference=f"{index:02d}" * 32,
                    order_reference=f"INV-2026-000{index}",
                    event_name="status_updated",
                    status=status,
                    outcome="+ paid" if index == 2 else "",
                    received_at=datetime(2026, 5, 1 + index, tzinfo=UTC),
                )
            )
    every, processed = CallbackFilter(), CallbackFilter(statuses=("processed",))
    assert tuple(callback_rows(every, tz=TZ)) == _every_page(
        lambda **page: callback_page(every, tz=TZ, **page)
    )
    exported = tuple(callback_rows(processed, tz=TZ))
    assert [row.order_reference for row in exported] == ["INV-2026-0002", "INV-2026-0000"]
    rows = _csv(callback_page(processed, tz=TZ).columns, exported)
    assert rows[1][rows[0].index("Outcome")] == "'+ paid"


def test_exception_export_totals_each_currency_on_its_own(any_db):
    invoice = make_invoice(channel=make_channel())
    with write_session() as session:
        for index, (amount, currency, status) in enumerate(
            (
                (5000, "EUR", "open"),
                (700, "USD", "open"),
                (1250, "EUR", "open"),
                (99, "EUR", "resolved"),
                (None, None, "open"),  # e.g. a lost payment: no amount to add up
            )
        ):
            session.add(
                ReviewItem(
                    kind="amount_mismatch",
                    dedupe_key=f"test:{index}",
                    reason="@SUM(A1)" if index == 0 else "Paid a different amount.",
                    invoice_id=invoice.id,
                    amount_minor=amount,
                    currency=currency,
                    status=status,
                )
            )
    flt = ReviewFilter()
    table = review_page(flt, tz=TZ, limit=1)
    assert table.total == 4
    assert tuple(review_rows(flt, tz=TZ)) == _every_page(
        lambda **page: review_page(flt, tz=TZ, **page)
    )
    rows = _csv(table.columns, with_totals(table.columns, review_rows(flt, tz=TZ)))
    totals = {row[5]: row for row in rows if row[0] == TOTAL_LABEL}
    assert list(totals) == ["EUR", "USD"]
    assert (totals["EUR"][0], totals["EUR"][4]) == (TOTAL_LABEL, "62.50")
    assert totals["USD"][4] == "7.00"
    assert "'@SUM(A1)" in {row[2] for row in rows}


def test_customer_and_credit_exports_hold_every_page(any_db):
    for name in ("Cēsu Koks", "Anna SIA", "-Minus SIA", "Bērziņš"):
        make_customer(name=name)
    assert tuple(customer_rows()) == _every_page(lambda **page: customer_page(**page))
    assert [row.name for row in customer_rows("SIA")] == ["-Minus SIA", "Anna SIA"]
    assert _csv(customer_page().columns, customer_rows("minus"))[1][0] == "'-Minus SIA"

    invoices = [make_invoice(channel=None) for _ in range(2)]
    with write_session() as session:
        for invoice, open_minor in zip(invoices, (-500, -250), strict=True):
            session.get(Invoice, invoice.id).open_minor = open_minor
    exported = tuple(customer_credit_rows())
    assert exported == _every_page(lambda **page: customer_credit_page(**page))
    columns = customer_credit_page().columns
    total = _csv(columns, with_totals(columns, customer_credit_rows()))[-1]
    assert total == [TOTAL_LABEL, "EUR", "7.50"]


def _mail(received: datetime, subject: str) -> None:
    """A mail as the demo mail server files it: named by its arrival in nanoseconds."""
    name = f"{int(received.timestamp()) * 10**9:020d}-0123456789ab.eml"
    outbox_dir().mkdir(parents=True, exist_ok=True)
    headers = f"From: billing@example.lv\r\nTo: ap@example.lv\r\nSubject: {subject}\r\n"
    (outbox_dir() / name).write_bytes(f"{headers}\r\nHi\r\n".encode())


def test_outbox_exports_the_mails_it_lists(db, tmp_path):
    _mail(datetime(2026, 5, 2, 9, 0, tzinfo=UTC), "=HYPERLINK(1)")
    _mail(datetime(2026, 5, 3, 9, 0, tzinfo=UTC), "Invoice INV-2026-0002")
    table = outbox_table(list_outbox(), tz=TZ)
    assert [row.subject for row in table.rows] == ["Invoice INV-2026-0002", "=HYPERLINK(1)"]
    assert table.rows[0].received == datetime(2026, 5, 3, 12, 0)  # Riga time
    target = tmp_path / "outbox.xlsx"
    exports.write_xlsx(str(target), OUTBOX_COLUMNS, table.rows)
    sheet = openpyxl.load_workbook(target).active
    assert [cell.value for cell in sheet[1]] == ["Received", "Sender", "Recipient", "Subject"]
    assert sheet["D3"].value == "'=HYPERLINK(1)"

    at = open_page(app_as("manager"), "outbox")
    no_exceptions(at)
    assert [label for label, _ in download_links(at)][:2] == DOWNLOADS


def test_every_list_page_offers_csv_and_xlsx_to_a_manager(db):
    channel = make_channel()
    invoice = make_invoice(channel=channel)
    attempt = make_attempt(invoice, at=datetime(2026, 5, 2, tzinfo=UTC))
    with write_session() as session:
        session.add(
            CallbackEvent(
                channel_id=channel.id,
                payment_reference="ab" * 32,
                order_reference=invoice.number,
                event_name="status_updated",
                status="processed",
            )
        )
        session.add(
            ReviewItem(
                kind="amount_mismatch",
                dedupe_key="test:1",
                reason="Paid less.",
                invoice_id=invoice.id,
                payment_attempt_id=attempt.id,
                amount_minor=100,
                currency="EUR",
            )
        )
    at = app_as("manager")
    for page in ("payments", "callbacks", "exceptions", "customers"):
        at = open_page(at, page)
        no_exceptions(at)
        labels = [label for label, _ in download_links(at)]
        assert labels[:2] == DOWNLOADS, page
