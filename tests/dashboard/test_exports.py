"""CSV and XLSX exports: same columns and rows as the table, streamed, injection-safe."""

import csv
import io
from datetime import date, datetime
from decimal import Decimal

import openpyxl
import pytest

from shared import exports
from shared.exports import Column, csv_chunks, write_xlsx

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
    assert "first 5 of 8" in exports.xlsx_cap_message(8)
    assert exports.xlsx_cap_message(5) == ""


def test_real_limit_is_excels():
    assert exports.EXCEL_MAX_DATA_ROWS == 1_048_575


@pytest.mark.parametrize("builder", [exports.csv_file, lambda c, r: exports.xlsx_file(c, r)[0]])
def test_file_builders_hand_back_a_readable_file(builder):
    handle = builder(COLUMNS, ROWS)
    assert len(handle.read()) > 100
    handle.close()
