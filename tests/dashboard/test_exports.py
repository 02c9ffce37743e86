"""CSV and XLSX exports: same columns and rows as the table, streamed, injection-safe."""

import csv
import io
import re
import zipfile
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest

from shared import exports
from shared.db import write_session
from shared.exports import Column, csv_chunks, write_xlsx
from shared.invoicing import LineInput
from shared.models import Customer, Invoice, PaymentChannel
from shared.views.invoices import INVOICE_COLUMNS, InvoiceFilter, invoice_csv_file, invoice_rows
from tests.utils.factories import make_channel, make_customer, make_invoice

COLUMNS = (
    Column("number", "Number"),
    Column("customer", "Customer"),
    Column("issued", "Issue date", "date"),
    Column("at", "Updated", "datetime"),
    Column("count", "Payments", "int"),
    Column("total", "Total", "money"),
)
ROWS = [
    (
        "INV-2026-0001",
        "Anna Bērziņa SIA",
        date(2026, 5, 2),
        datetime(2026, 5, 2, 9, 15),
        2,
        Decimal("1234.50"),
    ),
    ("INV-2026-0002", '=HYPERLINK("http://evil")', None, None, 0, Decimal("-10.00")),
    ("INV-2026-0003", "+371 2000", date(2026, 5, 3), None, 1, Decimal("0.00")),
    ("INV-2026-0004", "@SUM(A1)", None, None, 1, None),
    ("INV-2026-0005", "-2+3", None, None, 1, Decimal("5.10")),
    ("INV-2026-0006", "\tTab", None, None, 1, Decimal("5.10")),
]


def _read_csv(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_csv_has_exactly_the_shown_columns_and_rows_cell_by_cell():
    rows = _read_csv("".join(csv_chunks(COLUMNS, ROWS)))
    assert rows[0] == ["Number", "Customer", "Issue date", "Updated", "Payments", "Total"]
    assert rows[1] == [
        "INV-2026-0001",
        "Anna Bērziņa SIA",
        "2026-05-02",
        "2026-05-02 09:15:00",
        "2",
        "1234.50",
    ]
    assert rows[2] == ["INV-2026-0002", '\'=HYPERLINK("http://evil")', "", "", "0", "-10.00"]
    assert [row[1] for row in rows[3:]] == ["'+371 2000", "'@SUM(A1)", "'-2+3", "'\tTab"]
    assert rows[4][5] == ""
    assert len(rows) == 1 + len(ROWS)


def test_csv_streams_in_chunks_from_a_generator():
    generated = (("INV", str(i), None, None, i, Decimal(i)) for i in range(2500))
    chunks = csv_chunks(COLUMNS, generated, chunk_rows=1000)
    assert not isinstance(chunks, list)
    parts = list(chunks)
    assert len(parts) == 3
    assert len(_read_csv("".join(parts))) == 2501


def test_xlsx_read_back_cell_by_cell(tmp_path):
    target = tmp_path / "export.xlsx"
    result = write_xlsx(str(target), COLUMNS, ROWS, sheet_name="Invoices")
    assert (result.rows_written, result.truncated, result.message) == (len(ROWS), False, "")
    sheet = openpyxl.load_workbook(target).active
    assert sheet.title == "Invoices"
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[0] == ["Number", "Customer", "Issue date", "Updated", "Payments", "Total"]
    assert values[1] == [
        "INV-2026-0001",
        "Anna Bērziņa SIA",
        datetime(2026, 5, 2),
        datetime(2026, 5, 2, 9, 15),
        2,
        1234.5,
    ]
    assert values[2][1] == '\'=HYPERLINK("http://evil")'
    assert values[2][5] == -10
    assert [row[1] for row in values[3:]] == ["'+371 2000", "'@SUM(A1)", "'-2+3", "'\tTab"]
    assert values[4][5] is None
    assert sheet["F2"].number_format == "#,##0.00"
    assert sheet["B3"].data_type == "s"  # text, never a formula


def test_xlsx_stops_at_excels_row_limit_with_a_message(tmp_path, monkeypatch):
    monkeypatch.setattr(exports, "EXCEL_MAX_DATA_ROWS", 5)
    rows = ((f"INV-{i}", "x", None, None, i, Decimal(1)) for i in range(8))
    result = write_xlsx(str(tmp_path / "big.xlsx"), COLUMNS, rows)
    assert (result.rows_written, result.truncated) == (5, True)
    assert "the XLSX file has the first 5. Download CSV to get every row." in result.message
    sheet = openpyxl.load_workbook(tmp_path / "big.xlsx").active
    assert sheet.max_row == 6
    assert exports.xlsx_is_capped(8)
    assert not exports.xlsx_is_capped(5)


def test_real_limit_is_excels():
    assert exports.EXCEL_MAX_DATA_ROWS == 1_048_575


@pytest.mark.parametrize("builder", [exports.csv_file, lambda c, r: exports.xlsx_file(c, r)[0]])
def test_file_builders_hand_back_a_readable_file(builder):
    handle = builder(COLUMNS, ROWS)
    assert len(handle.read()) > 100
    handle.close()


# --- The invoice list's CSV, formatted by the database ---------------------------------------

TODAY = date(2026, 5, 20)
TRICKY_NAMES = (
    'SIA "Koks", Rīga',
    "Ēriks Bērziņš\nBrīvības 1",
    '=HYPERLINK("http://evil")',
    "+371 2000",
    "-2+3",
    "@SUM(A1)",
    "\tTab",
    "\rReturn",
    "",
)


def _edit_invoice(invoice_id: int, **values) -> None:
    with write_session() as session:
        invoice = session.get(Invoice, invoice_id)
        for name, value in values.items():
            setattr(invoice, name, value)


@pytest.fixture
def tricky_invoices(any_db):
    """Every kind of cell the invoice list can hold, including what the app itself would
    not write (a negative total, an unknown status, a number to escape)."""
    channel = make_channel()
    with write_session() as session:
        session.get(PaymentChannel, channel.id).name = '=Kanāls "A", test'
    customers = [make_customer(name=name) for name in TRICKY_NAMES]
    prices = ("0.05", "1234567.89", "100.00", "19.99", "7.10", "1.00", "250.00", "3.30", "12.34")
    issued = [
        make_invoice(
            channel=channel,
            customer=customer,
            lines=[LineInput("Consulting", "1", price, "0")],
            issue_date=date(2026, 4, 1 + index),
            due_date=date(2026, 5, 16 + index),  # the first four are overdue on TODAY
        )
        for index, (customer, price) in enumerate(zip(customers, prices, strict=True))
    ]
    make_invoice(channel=None, customer=customers[0], issue=False)
    yen_draft = make_invoice(
        channel=None,
        customer=customers[1],
        issue=False,
        currency="JPY",
        lines=[LineInput("Licence", "1", "500", "0")],
    )
    yen = make_invoice(
        channel=None,
        customer=customers[2],
        currency="JPY",
        lines=[LineInput("Licence", "1", "1234", "0")],
        issue_date=date(2026, 4, 20),
        due_date=date(2026, 6, 1),
    )
    dinar = make_invoice(
        channel=None,
        customer=customers[3],
        currency="BHD",
        lines=[LineInput("Licence", "2", "0.617", "0")],
        issue_date=date(2026, 4, 21),
        due_date=date(2026, 6, 2),
    )
    _edit_invoice(issued[0].id, open_minor=-5)  # overpaid by 0.05
    _edit_invoice(issued[1].id, status="paid", open_minor=0)
    _edit_invoice(issued[2].id, number="=1+2", total_minor=-123456, open_minor=-100)
    _edit_invoice(issued[5].id, number='INV,"7"', status="cancelled")
    _edit_invoice(issued[6].id, status="-odd", currency="eur")
    _edit_invoice(issued[7].id, currency="")
    _edit_invoice(yen.id, open_minor=-7)
    _edit_invoice(yen_draft.id, currency="jpy")  # decimals by the code, whatever its case
    _edit_invoice(dinar.id, open_minor=-5)
    return issued


EXPORTS = {
    "everything, newest first": (InvoiceFilter(), "newest", True),
    "status filter, by total": (
        InvoiceFilter(statuses=("overdue", "draft", "issued")),
        "total",
        False,
    ),
    "no cell on two lines, by due date": (
        InvoiceFilter(statuses=("overdue", "issued", "cancelled")),
        "due_date",
        True,
    ),
}


@pytest.mark.parametrize("export", EXPORTS.values(), ids=EXPORTS.keys())
def test_invoice_csv_from_the_database_is_the_generic_file_byte_for_byte(tricky_invoices, export):
    flt, sort, descending = export
    rows = invoice_rows(flt, today=TODAY, sort=sort, descending=descending)
    with exports.csv_file(INVOICE_COLUMNS, rows) as generic:
        expected = generic.read()
    with invoice_csv_file(flt, today=TODAY, sort=sort, descending=descending) as fast:
        produced = fast.read()
    assert produced == expected
    assert len(_read_csv(produced.decode("utf-8"))) > 3


def test_invoice_csv_from_the_database_holds_every_kind_of_cell(tricky_invoices):
    with invoice_csv_file(InvoiceFilter(), today=TODAY) as fast:
        rows = _read_csv(fast.read().decode("utf-8"))
    assert rows[0] == [column.label for column in INVOICE_COLUMNS]
    cells = {cell for row in rows[1:] for cell in row}
    assert {'SIA "Koks", Rīga', "Ēriks Bērziņš\nBrīvības 1", "'\rReturn", ""} <= cells
    assert {'\'=HYPERLINK("http://evil")', "'+371 2000", "'-2+3", "'@SUM(A1)", "'\tTab"} <= cells
    assert {'\'=Kanāls "A", test · Merchant EUR', "'=1+2", 'INV,"7"', "'-odd", "eur"} <= cells
    assert {"Overdue", "Issued", "Paid", "Cancelled", "Draft", "(draft)"} <= cells
    assert {"0.05", "-0.05", "1234567.89", "-1234.56", "-1.00", "1234", "-7", "1.234"} <= cells
    yen_draft = next(row[5:11] for row in rows[1:] if row[5] == "jpy")
    assert yen_draft == ["jpy", "500", "0", "500", "0", "500"]  # net, VAT, total, paid, open
    draft = next(row for row in rows[1:] if row[0] == "(draft)" and row[5] == "EUR")
    assert draft[3:5] == ["", ""] and draft[11] == ""
    assert next(row for row in rows[1:] if row[5] == "")[6:11] == [""] * 5
    assert len(rows) == 1 + 13


# --- Formula injection through a spreadsheet's other list separators --------------------------
#
# Excel in Latvia, Lithuania and Estonia opens a .csv with ";" as the list separator, others
# use a tab, and a line break starts a new row for any reader: every text after one of those
# becomes a cell of its own.

HOSTILE = (
    "Acme;=1+1",
    "Acme;=1+1;",
    "x,=cmd|' /C calc'!A0",
    "a\t=1",
    "Acme; =1+1",
    'Acme;"=1+1";',
    "Acme\n=1+1",
    "Acme\r\n@SUM(A1)",
    "a;-2+3",
    "a;+371 2000",
    "a;\t=1",
    "=1;=2",
)
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def _formula_cells(text: str) -> list[str]:
    """Cells some spreadsheet would read as a formula, whatever its list separator: read
    as CSV (quotes honoured) and split naively (quotes ignored), on each separator. A
    negative amount the export writes as a number is a number, not a formula."""
    text = text.removeprefix("\ufeff")
    found = []
    for separator in (",", ";", "\t"):
        readings = list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))
        readings += [re.split("[\r\n]", line) for line in text.split(separator)]
        for cells in readings:
            for cell in cells:
                start = cell.lstrip(' "')
                if start.startswith(TRIGGERS) and not PLAIN_NUMBER.fullmatch(cell):
                    found.append(cell)
    return found


@pytest.mark.parametrize("value", HOSTILE)
def test_no_segment_of_a_text_cell_starts_a_formula_in_any_reader(value):
    row = ("INV-1", value, None, None, 1, Decimal("-1.00"))
    text = "".join(csv_chunks(COLUMNS, [row]))
    assert _formula_cells(text) == []
    assert text.endswith(",1,-1.00\r\n")  # a negative amount stays a number


def test_formula_escape_keeps_ordinary_text_as_it_is():
    assert exports.safe_text("Acme;=1+1") == "Acme;'=1+1"
    assert exports.safe_text("x,=cmd|' /C calc'!A0") == "x,'=cmd|' /C calc'!A0"
    assert exports.safe_text("a\t=1") == "a\t'=1"
    assert exports.safe_text("=1;=2") == "'=1;'=2"
    for ordinary in ('SIA "Koks", Rīga', "Ēriks Bērziņš\nBrīvības 1", "A; B, C", "INV-2026-0001"):
        assert exports.safe_text(ordinary) == ordinary


@pytest.fixture
def hostile_invoices(any_db):
    """Hostile customer names, a hostile channel name and invoice number, written straight
    to the database as a bug or another client could, and a negative open amount."""
    channel = make_channel()
    with write_session() as session:
        session.get(PaymentChannel, channel.id).name = "Kanāls;=1+1;"
    invoices = []
    for index, name in enumerate(HOSTILE):
        customer = make_customer(name=f"Customer {index}")
        with write_session() as session:
            session.get(Customer, customer.id).name = name
        invoices.append(
            make_invoice(
                channel=channel,
                customer=customer,
                lines=[LineInput("Consulting", "1", "10.00", "0")],
                issue_date=date(2026, 4, 1),
                due_date=date(2026, 6, 1),
            )
        )
    _edit_invoice(invoices[0].id, number="INV;=2+2", open_minor=-100)
    return invoices


def test_invoice_csv_has_no_formula_in_any_reader_on_either_path(hostile_invoices):
    rows = invoice_rows(InvoiceFilter(), today=TODAY)
    with exports.csv_file(INVOICE_COLUMNS, rows) as generic:
        expected = generic.read()
    with invoice_csv_file(InvoiceFilter(), today=TODAY) as fast:
        produced = fast.read()
    assert produced == expected
    text = produced.decode("utf-8")
    assert _formula_cells(text) == []
    assert "INV;'=2+2" in text and "Kanāls;'=1+1;" in text
    assert ",10.00,0.00,-1.00," in text  # the negative open amount is still a number


def test_invoice_xlsx_writes_hostile_names_as_text_never_formulas(hostile_invoices, tmp_path):
    """Each name reads as the CSV's cell does: text, escaped by the same rule."""
    target = tmp_path / "invoices.xlsx"
    rows = invoice_rows(InvoiceFilter(), today=TODAY)
    write_xlsx(str(target), INVOICE_COLUMNS, rows)
    with zipfile.ZipFile(target) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet1.xml").decode("utf-8")
    sheet = openpyxl.load_workbook(target).active
    customers = [row[1] for row in sheet.iter_rows(min_row=2)]
    assert {cell.data_type for cell in customers} == {"s"}
    # xlsxwriter writes a CR as Excel's escape _x000D_, which openpyxl leaves as it is.
    shown = {cell.value.replace("_x000D_", "\r") for cell in customers}
    assert shown == {exports.safe_text(name) for name in HOSTILE}
    assert "Acme;'=1+1" in shown
    open_amounts = [row[10] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert -1 in open_amounts
