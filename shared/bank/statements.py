"""What the Bank statements page shows: statements with their match summary, the
transactions of one statement with state and reason, a reconciliation summary per account
and period, and the rows of the CSV/XLSX export. Reads only; aggregates in SQL."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func
from sqlmodel import col, select

from shared.company import to_local
from shared.db import read_session
from shared.exports import Column, Table
from shared.models import (
    BankAccount,
    BankStatement,
    BankStatementEntry,
    BankStatementFile,
    BankStatementTransaction,
    Customer,
    Invoice,
    MatchState,
)
from shared.money import from_minor
from shared.states import MATCH_STATE_LABELS

STATEMENT_COLUMNS = (
    Column("account", "Account"),
    Column("statement", "Statement"),
    Column("period", "Period"),
    Column("file", "File"),
    Column("imported_at", "Imported", "datetime"),
    Column("transactions", "Transactions", "int"),
    Column("booked_auto", "Booked automatically", "int"),
    Column("booked_manual", "Booked by hand", "int"),
    Column("suggested", "Suggested", "int"),
    Column("unmatched", "Unmatched", "int"),
)
TRANSACTION_COLUMNS = (
    Column("booking_date", "Booking date", "date"),
    Column("direction", "In/out"),
    Column("amount", "Amount", "money"),
    Column("currency", "Currency"),
    Column("counterparty", "Counterparty"),
    Column("iban", "Counterparty IBAN"),
    Column("details", "Payment details"),
    Column("state", "Match state"),
    Column("reason", "Reason"),
)
SUMMARY_COLUMNS = (
    Column("account", "Account"),
    Column("currency", "Currency"),
    Column("state", "Match state"),
    Column("transactions", "Transactions", "int"),
    Column("amount", "Amount", "money"),
)


def _count(state: str):
    return func.coalesce(
        func.sum(case((col(BankStatementTransaction.match_state) == state, 1), else_=0)), 0
    )


def _account_label(name: str, iban: str) -> str:
    return f"{name} · {iban}" if iban else name


def statement_table(*, tz: str, offset: int = 0, limit: int = 50) -> Table:
    """Imported statements, newest first, each with how its transactions stand."""
    counts = (
        select(
            col(BankStatementEntry.statement_id).label("statement_id"),
            func.count(col(BankStatementTransaction.id)).label("transactions"),
            _count(MatchState.BOOKED_AUTO).label("booked_auto"),
            _count(MatchState.BOOKED_MANUAL).label("booked_manual"),
            _count(MatchState.SUGGESTED).label("suggested"),
            (_count(MatchState.UNMATCHED) + _count(MatchState.NEW)).label("unmatched"),
        )
        .join(
            BankStatementTransaction,
            col(BankStatementTransaction.entry_id) == col(BankStatementEntry.id),
        )
        .group_by(col(BankStatementEntry.statement_id))
        .subquery()
    )
    with read_session() as session:
        total = session.exec(select(func.count()).select_from(BankStatement)).one()
        rows = session.exec(
            select(BankStatement, BankAccount, BankStatementFile.filename, counts)
            .join(BankAccount, col(BankAccount.id) == col(BankStatement.bank_account_id))
            .join(BankStatementFile, col(BankStatementFile.id) == col(BankStatement.file_id))
            .outerjoin(counts, counts.c.statement_id == col(BankStatement.id))
            .order_by(col(BankStatement.imported_at).desc(), col(BankStatement.id).desc())
            .offset(offset)
            .limit(limit)
        ).all()
    return Table(
        columns=STATEMENT_COLUMNS,
        rows=tuple(
            (
                _account_label(row[1].name, row[1].iban),
                row[0].statement_id,
                f"{row[0].period_start or '?'} – {row[0].period_end or '?'}",
                row[2],
                to_local(row[0].imported_at, tz),
                row.transactions or 0,
                row.booked_auto or 0,
                row.booked_manual or 0,
                row.suggested or 0,
                row.unmatched or 0,
            )
            for row in rows
        ),
        total=total,
        offset=offset,
        ids=tuple(r[0].id for r in rows),
    )


def statement_options(*, limit: int = 200) -> tuple[tuple[int, str], ...]:
    """(id, label) of the newest statements, for a picker."""
    with read_session() as session:
        rows = session.exec(
            select(BankStatement, BankAccount.name)
            .join(BankAccount, col(BankAccount.id) == col(BankStatement.bank_account_id))
            .order_by(col(BankStatement.imported_at).desc(), col(BankStatement.id).desc())
            .limit(limit)
        ).all()
    return tuple(
        (
            statement.id,
            f"{statement.statement_id} · {name} · "
            f"{statement.period_start or '?'} – {statement.period_end or '?'}",
        )
        for statement, name in rows
    )


def _transaction_select(statement_id: int, states: Sequence[str]):
    query = (
        select(BankStatementTransaction, BankStatementEntry)
        .join(
            BankStatementEntry,
            col(BankStatementEntry.id) == col(BankStatementTransaction.entry_id),
        )
        .where(col(BankStatementEntry.statement_id) == statement_id)
        .order_by(
            col(BankStatementEntry.booking_date),
            col(BankStatementEntry.id),
            col(BankStatementTransaction.position),
        )
    )
    if states:
        query = query.where(col(BankStatementTransaction.match_state).in_(list(states)))
    return query


def _details(tx: BankStatementTransaction) -> str:
    return " · ".join(part for part in (tx.creditor_reference, tx.remittance_text) if part)


def _transaction_row(tx: BankStatementTransaction, entry: BankStatementEntry) -> tuple:
    sign = 1 if entry.direction == "credit" else -1
    return (
        entry.booking_date,
        "In" if sign > 0 else "Out",
        from_minor(sign * tx.amount_minor, entry.currency),
        entry.currency,
        tx.counterparty_name,
        tx.counterparty_iban,
        _details(tx),
        MATCH_STATE_LABELS.get(tx.match_state, tx.match_state),
        tx.match_reason,
    )


def transaction_table(
    *, statement_id: int, states: Sequence[str] = (), offset: int = 0, limit: int = 50
) -> Table:
    """One statement's transactions in booking order, with match state and reason."""
    query = _transaction_select(statement_id, states)
    with read_session() as session:
        total = session.exec(select(func.count()).select_from(query.subquery())).one()
        rows = session.exec(query.offset(offset).limit(limit)).all()
    return Table(
        columns=TRANSACTION_COLUMNS,
        rows=tuple(_transaction_row(tx, entry) for tx, entry in rows),
        total=total,
        offset=offset,
        ids=tuple(tx.id for tx, _ in rows),
    )


def transaction_rows(*, statement_id: int, states: Sequence[str] = ()) -> Iterator[tuple]:
    """Every row the filter matches, for the export, read in pages."""
    query = _transaction_select(statement_id, states)
    offset = 0
    while True:
        with read_session() as session:
            rows = session.exec(query.offset(offset).limit(1000)).all()
        yield from (_transaction_row(tx, entry) for tx, entry in rows)
        if len(rows) < 1000:
            return
        offset += 1000


@dataclass(frozen=True)
class TransactionView:
    """One transaction as the action panel shows it."""

    id: int
    state: str
    reason: str
    direction: str
    amount_minor: int
    currency: str
    counterparty: str
    details: str
    booking_date: date | None
    suggested_customer: str
    suggested_invoices: tuple[tuple[str, Decimal], ...]


def transaction_views(*, statement_id: int, states: Sequence[str]) -> tuple[TransactionView, ...]:
    """The statement's transactions in ``states``, at most 500, for the action picker."""
    with read_session() as session:
        rows = session.exec(_transaction_select(statement_id, states).limit(500)).all()
        customers = {
            c.id: c.name
            for c in session.exec(
                select(Customer).where(
                    col(Customer.id).in_({tx.match_customer_id for tx, _ in rows} - {None})
                )
            ).all()
        }
        invoice_ids = {pair[0] for tx, _ in rows for pair in tx.match_allocations}
        numbers = dict(
            session.exec(
                select(Invoice.id, Invoice.number).where(col(Invoice.id).in_(invoice_ids))
            ).all()
        )
    return tuple(
        TransactionView(
            id=tx.id,
            state=tx.match_state,
            reason=tx.match_reason,
            direction=entry.direction,
            amount_minor=tx.amount_minor,
            currency=entry.currency,
            counterparty=tx.counterparty_name,
            details=_details(tx),
            booking_date=entry.booking_date,
            suggested_customer=customers.get(tx.match_customer_id, ""),
            suggested_invoices=tuple(
                (numbers.get(invoice_id) or f"#{invoice_id}", from_minor(minor, entry.currency))
                for invoice_id, minor in tx.match_allocations
            ),
        )
        for tx, entry in rows
    )


def reconciliation_summary(*, date_from: date | None, date_to: date | None) -> Table:
    """Per account and currency, how the period's transactions stand: how many and how
    much booked automatically, by hand, waiting, unmatched, set aside."""
    conditions: list[Any] = []
    if date_from is not None:
        conditions.append(col(BankStatementEntry.booking_date) >= date_from)
    if date_to is not None:
        conditions.append(col(BankStatementEntry.booking_date) <= date_to)
    signed = case(
        (col(BankStatementEntry.direction) == "credit", col(BankStatementTransaction.amount_minor)),
        else_=-col(BankStatementTransaction.amount_minor),
    )
    with read_session() as session:
        rows = session.exec(
            select(
                BankAccount.name,
                BankAccount.iban,
                BankStatementEntry.currency,
                BankStatementTransaction.match_state,
                func.count(col(BankStatementTransaction.id)),
                func.sum(signed),
            )
            .join(
                BankStatementEntry,
                col(BankStatementEntry.id) == col(BankStatementTransaction.entry_id),
            )
            .join(BankAccount, col(BankAccount.id) == col(BankStatementEntry.bank_account_id))
            .where(*conditions)
            .group_by(
                col(BankAccount.id),
                col(BankAccount.name),
                col(BankAccount.iban),
                col(BankStatementEntry.currency),
                col(BankStatementTransaction.match_state),
            )
            .order_by(col(BankAccount.name), col(BankStatementEntry.currency))
        ).all()
    order = list(MatchState)
    rows = sorted(
        rows, key=lambda r: (r[0], r[1], r[2], order.index(r[3]) if r[3] in order else 99)
    )
    return Table(
        columns=SUMMARY_COLUMNS,
        rows=tuple(
            (
                _account_label(name, iban),
                currency,
                MATCH_STATE_LABELS.get(state, state),
                int(count),
                from_minor(int(amount or 0), currency),
            )
            for name, iban, currency, state, count, amount in rows
        ),
        total=len(rows),
    )
