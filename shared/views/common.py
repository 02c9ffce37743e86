"""What every list shares: search conditions that use the indexes, local-day ranges, the
one paging helper and streaming for exports."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Row, Select, and_, func, select
from sqlmodel import Session

from shared.company import local_day_start_utc
from shared.db import read_session
from shared.exports import Column, Table
from shared.models import Customer
from shared.money import from_minor
from shared.text import search_key

PAGE_SIZES = (25, 50, 100)
MAX_PAGE_SIZE = 500
STREAM_BATCH = 1000


def label(labels: dict, value: str | None) -> str:
    return labels.get(value, value or "")


def money(minor: int | None, currency: str | None) -> Decimal | None:
    return None if minor is None or not currency else from_minor(minor, currency)


def starts_with(column, text: str, dialect: str):
    """ "Starts with", in a form each backend answers from the column's B-tree index."""
    if dialect == "sqlite":
        # SQLite's LIKE ignores case and so cannot use a binary index; a range can.
        upper = text[:-1] + chr(ord(text[-1]) + 1)
        return and_(column >= text, column < upper)
    return column.like(_escaped(text) + "%", escape="\\")


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(column, text: str):
    return column.ilike(f"%{_escaped(text)}%", escape="\\")


def contains_uncased(column, text: str):
    """For text with no letters (digits of an invoice number): nothing to fold, so a plain
    LIKE, which spares lower() on both sides of every row — at 1 M invoices 170 → 70 ms."""
    return column.like(f"%{_escaped(text)}%", escape="\\")


def name_contains(text: str):
    """Customers whose name contains ``text``, ignoring case in every alphabet: both sides
    are casefolded in Python (see Customer.search_name), so a plain LIKE answers alike on
    SQLite and PostgreSQL whatever the database's ctype."""
    return Customer.search_name.like(f"%{_escaped(search_key(text))}%", escape="\\")


def local_days(column, date_from: date | None, date_to: date | None, tz: str) -> list:
    """Local calendar days (inclusive) as UTC bounds, so the column's index is used."""
    conditions = []
    if date_from:
        conditions.append(column >= local_day_start_utc(date_from, tz))
    if date_to:
        conditions.append(column < local_day_start_utc(date_to + timedelta(days=1), tz))
    return conditions


def count(session: Session, table, conditions: list) -> int:
    return session.execute(select(func.count()).select_from(table).where(*conditions)).scalar_one()


@dataclass(frozen=True)
class Window:
    """The rows one page shows: ``offset`` never negative, ``limit`` within bounds."""

    offset: int
    limit: int

    @classmethod
    def of(cls, offset: int, limit: int) -> "Window":
        return cls(max(offset, 0), max(1, min(limit, MAX_PAGE_SIZE)))

    def apply(self, stmt: Select) -> Select:
        return stmt.offset(self.offset).limit(self.limit)


# What a list reads in its session for a window: how many rows match, and the statement
# for the window's rows (None when nothing can match). Each row has an ``id`` column.
PageQuery = Callable[[Session, str, Window], tuple[int, Select | None]]


def page(
    columns: tuple[Column, ...],
    query: PageQuery,
    convert: Callable[[Row], tuple[Any, ...]],
    *,
    offset: int,
    limit: int,
) -> Table:
    """One page of a list: the count and the rows read in one session, each row shaped by
    ``convert``, ``ids`` taken from the rows' ``id`` column."""
    window = Window.of(offset, limit)
    with read_session() as session:
        total, stmt = query(session, session.get_bind().dialect.name, window)
        rows = session.execute(stmt).all() if stmt is not None else []
    return Table(
        columns,
        tuple(convert(row) for row in rows),
        total=total,
        offset=window.offset,
        ids=tuple(row.id for row in rows),
    )


def stream(stmt: Select, convert) -> Iterator[tuple[Any, ...]]:
    with read_session() as session:
        result = session.execute(stmt.execution_options(yield_per=STREAM_BATCH))
        for row in result:
            yield convert(row)


def dialect_name() -> str:
    with read_session() as session:
        return session.get_bind().dialect.name
