"""Tables as the dashboard shows them, and their CSV / XLSX exports.

A ``Table`` is what a page displays: labelled columns and plain rows. Exports take the
same columns and the same rows (from the same query), so a file holds exactly what the
screen shows. Both formats stream: CSV comes out of a generator in chunks, XLSX is written
by xlsxwriter in ``constant_memory`` mode (one row at a time to a temporary file).

Lists too long for Python to format row by row have their CSV formatted by the database
(``postgres_safe_text``, ``sqlite_csv_text``); those files must equal what ``csv_file``
writes for the same rows, byte for byte.
"""

import csv
import io
import re
import sqlite3
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any

import xlsxwriter
from sqlalchemy import ColumnElement, case, func, literal, or_

# Excel's sheet has 1,048,576 rows; one is the header.
EXCEL_MAX_DATA_ROWS = 1_048_575
CSV_CHUNK_ROWS = 1000
# Formula injection ("CSV injection", OWASP). A cell starting with one of = + - @ tab CR is
# run as a formula by spreadsheet programs, also after spaces or a double quote, which
# readers trim or take as quoting; an apostrophe in front makes it plain text again.
# Escaping the cell's start is not enough: Excel in Latvia, Lithuania and Estonia opens a
# .csv with ";" as its list separator, others split on tabs, and a line break starts a new
# row for any reader, so whatever follows ; , tab CR or LF may become a cell of its own
# ("Acme;=1+1"). The rule, for every text cell of every export: an apostrophe before the
# cell and right after each separator whose text would start a formula. Numbers (amounts,
# counts) are not text and stay numbers, "-1.00" included.
# The patterns hold the characters themselves, no escapes, and mean the same to Python's
# re and PostgreSQL's regular expressions; SQLite has none and calls ``safe_text``.
FORMULA_START = '^[ "]*[-=+@\t\r]'
FORMULA_AFTER_SEPARATOR = '([;,\t\r\n])(?=[ "]*[-=+@\t\r])'
FORMULA_ANYWHERE = '(^|[;,\t\r\n])[ "]*[-=+@\t\r]'  # either of the two
_FORMULA_START = re.compile(FORMULA_START)
_FORMULA_AFTER_SEPARATOR = re.compile(FORMULA_AFTER_SEPARATOR)
_FORMULA_ANYWHERE = re.compile(FORMULA_ANYWHERE)
# SQLite's cheap test: only a text holding one of these, or starting with one, can need
# an apostrophe.
FORMULA_SUSPECT_CHARS = (";", ",", "\t", "\r", "\n")
FORMULA_SUSPECT_STARTS = ("=", "+", "-", "@", "\t", "\r", " ", '"')
SQLITE_CSV_CELL = "linkpay_csv_cell"
CSV_LINE_END = "\r\n"
# csv.writer's minimal quoting: a cell is quoted when it holds the delimiter, the quote
# character or a character of the line terminator.
CSV_QUOTED_CHARS = (",", '"', "\r", "\n")


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "text"  # text, int, money, date, datetime, percent


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    total: int = 0  # rows that match the filter; more than len(rows) when paged
    offset: int = 0
    ids: tuple[int, ...] = field(default=())  # the entity id behind each row, not shown

    @property
    def labels(self) -> list[str]:
        return [column.label for column in self.columns]

    @property
    def first_row_number(self) -> int:
        return self.offset + 1 if self.rows else 0

    @property
    def last_row_number(self) -> int:
        return self.offset + len(self.rows)


@dataclass(frozen=True)
class XlsxResult:
    rows_written: int
    truncated: bool

    @property
    def message(self) -> str:
        if not self.truncated:
            return ""
        return (
            f"Excel holds at most {EXCEL_MAX_DATA_ROWS:,} rows: the XLSX file has the first "
            f"{self.rows_written:,}. Download CSV to get every row."
        )


def xlsx_is_capped(total_rows: int) -> bool:
    """Whether an XLSX of ``total_rows`` rows holds only the first ``EXCEL_MAX_DATA_ROWS``."""
    return total_rows > EXCEL_MAX_DATA_ROWS


def safe_text(value: str) -> str:
    """``value`` as a text cell that no spreadsheet runs as a formula, whatever its list
    separator (see FORMULA_START)."""
    if not _FORMULA_ANYWHERE.search(value):
        return value  # nearly every text: one search instead of a substitution and a match
    escaped = _FORMULA_AFTER_SEPARATOR.sub("\\1'", value)
    return "'" + escaped if _FORMULA_START.match(value) else escaped


def csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | Decimal):
        return str(value)
    return safe_text(str(value))


def csv_cell(text: str) -> str:
    """A text cell as it stands in the file, for values the database does not format."""
    if any(char in text for char in CSV_QUOTED_CHARS):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_header(columns: Sequence[Column]) -> str:
    """The start of every CSV export; the BOM lets Excel read Latvian letters correctly."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    csv.writer(buffer, lineterminator=CSV_LINE_END).writerow(
        [safe_text(column.label) for column in columns]
    )
    return buffer.getvalue()


def postgres_safe_text(value: ColumnElement) -> ColumnElement:
    """``safe_text`` done by PostgreSQL. One regular expression finds the rare text that
    needs an apostrophe (measured: half the CPU of five ``strpos`` and a first-character
    test); only those pay for placing them."""
    escaped = case((value.op("~")(FORMULA_START), literal("'")), else_="").op("||")(
        func.regexp_replace(value, FORMULA_AFTER_SEPARATOR, "\\1'", "g")
    )
    return case((value.op("~")(FORMULA_ANYWHERE), escaped), else_=value)


def _sqlite_csv_cell(value: str) -> str:
    return csv_cell(safe_text(value))


def add_sqlite_csv_function(connection: sqlite3.Connection) -> None:
    """Lets SQLite call ``safe_text`` itself (as SQLITE_CSV_CELL): it has no regular
    expressions, and the one rule stays written once."""
    connection.create_function(SQLITE_CSV_CELL, 1, _sqlite_csv_cell, deterministic=True)


def sqlite_csv_text(value: ColumnElement) -> ColumnElement:
    """A text cell as ``csv_chunks`` writes it (formula-escaped, quoted where csv.writer
    quotes), built by SQLite; needs ``add_sqlite_csv_function`` on the connection. Texts
    with nothing to escape or quote, nearly all, stay in SQLite. ``value`` should be a bare
    column: SQLite computes an expression again at every mention."""
    special = or_(
        func.substr(value, 1, 1).in_(FORMULA_SUSPECT_STARTS),
        *(
            func.instr(value, char) > 0
            for char in dict.fromkeys((*FORMULA_SUSPECT_CHARS, *CSV_QUOTED_CHARS))
        ),
    )
    return case((special, getattr(func, SQLITE_CSV_CELL)(value)), else_=value)


def csv_chunks(
    columns: Sequence[Column], rows: Iterable[Sequence[Any]], *, chunk_rows: int = CSV_CHUNK_ROWS
) -> Iterator[str]:
    """UTF-8 CSV text in chunks, starting with ``csv_header``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=CSV_LINE_END)
    buffer.write(csv_header(columns))
    pending = 0
    for row in rows:
        writer.writerow([csv_value(value) for value in row])
        pending += 1
        if pending >= chunk_rows:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


def csv_file(columns: Sequence[Column], rows: Iterable[Sequence[Any]]) -> IO[bytes]:
    """The CSV in a temporary file, read from the start; memory stays at one chunk."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - the caller reads and closes it
    for chunk in csv_chunks(columns, rows):
        handle.write(chunk.encode("utf-8"))
    handle.seek(0)
    return handle


def write_xlsx(
    target: str | IO[bytes],
    columns: Sequence[Column],
    rows: Iterable[Sequence[Any]],
    *,
    sheet_name: str = "Export",
) -> XlsxResult:
    workbook = xlsxwriter.Workbook(
        target, {"constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False}
    )
    formats = {
        "money": workbook.add_format({"num_format": "#,##0.00"}),
        "date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
        "datetime": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
        "percent": workbook.add_format({"num_format": "0.0"}),
        "header": workbook.add_format({"bold": True}),
    }
    sheet = workbook.add_worksheet(sheet_name[:31])
    for index, column in enumerate(columns):
        sheet.write_string(0, index, safe_text(column.label), formats["header"])
        sheet.set_column(index, index, 20 if column.kind in ("text", "datetime") else 14)
    written = 0
    truncated = False
    # Looked up once, not per cell (12 million cells for a million invoices).
    number_formats = [formats.get(column.kind) for column in columns]
    for row in rows:
        if written >= EXCEL_MAX_DATA_ROWS:
            truncated = True
            break
        written += 1
        for index, (number_format, value) in enumerate(zip(number_formats, row, strict=True)):
            _write_cell(sheet, written, index, value, number_format, formats)
    workbook.close()
    return XlsxResult(rows_written=written, truncated=truncated)


def _write_cell(sheet, row: int, col: int, value: Any, number_format, formats: dict) -> None:
    if value is None or value == "":
        return  # xlsxwriter writes nothing for a blank cell without a format
    if isinstance(value, str):
        sheet.write_string(row, col, safe_text(value))
    elif isinstance(value, bool):
        sheet.write_string(row, col, "yes" if value else "no")
    elif isinstance(value, datetime):
        sheet.write_datetime(row, col, value.replace(tzinfo=None), formats["datetime"])
    elif isinstance(value, date):
        sheet.write_datetime(
            row, col, datetime(value.year, value.month, value.day), formats["date"]
        )
    elif isinstance(value, Decimal | int):
        # Spreadsheet cells are binary floating point by definition; amounts have two
        # decimals and stay exact far beyond any invoice total.
        sheet.write_number(row, col, float(value), number_format)
    else:
        sheet.write_string(row, col, safe_text(str(value)))


def xlsx_file(
    columns: Sequence[Column], rows: Iterable[Sequence[Any]], *, sheet_name: str = "Export"
) -> tuple[IO[bytes], XlsxResult]:
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - the caller reads and closes it
    result = write_xlsx(handle, columns, rows, sheet_name=sheet_name)
    handle.seek(0)
    return handle, result


CSV_MIME = "text/csv"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


TOTAL_LABEL = "Total"


def with_totals(
    columns: Sequence[Column], rows: Iterable[Sequence[Any]], *, label: str = TOTAL_LABEL
) -> Iterator[tuple[Any, ...]]:
    """``rows`` as they come, then one totals row per currency (in currency order) with the
    sum of every money column. Amounts in different currencies are never added together;
    a row without an amount adds nothing, and a currency without any amount gets no row.
    The label stands in the first column that is not the currency; other columns stay
    empty, since counts may not add up (a document can be counted under several VAT
    rates). Streams: only the sums are kept."""
    keys = [column.key for column in columns]
    currency_at = keys.index("currency")
    label_at = next(index for index, key in enumerate(keys) if key != "currency")
    money_at = [index for index, column in enumerate(columns) if column.kind == "money"]
    sums: dict[str, dict[int, Decimal]] = {}
    for row in rows:
        per_column = sums.setdefault(row[currency_at], {})
        for index in money_at:
            if row[index] is not None:
                per_column[index] = per_column.get(index, Decimal(0)) + row[index]
        yield tuple(row)
    for currency in sorted(sums):
        if not sums[currency]:
            continue  # nothing to add up: rows without an amount (and often a currency)
        totals: list[Any] = [None] * len(columns)
        totals[label_at] = label
        totals[currency_at] = currency
        for index in money_at:
            totals[index] = sums[currency].get(index)
        yield tuple(totals)
