"""Importing a statement file into the database: all of it, once, or nothing.

The whole file is parsed and checked before anything is written, so a bad file adds
nothing and the message names the entry and field. Each statement's IBAN must be one of
the company's bank accounts. The file itself is kept byte for byte (``BankStatementFile``,
unique by SHA-256): the same file again adds nothing and says when it was imported.

Entries are written with ``INSERT … ON CONFLICT DO NOTHING`` on the unique key per
account (``BankStatementEntry.dedupe_key``), so overlapping statements, a camt.054 that
details a booking a camt.053 already brought, or two imports running at once on
PostgreSQL never add one booking twice. Whichever file brings a booking first brings its
transaction details; a later file's details of the same booking are not merged in.

The caller owns the transaction: ``import_statement`` flushes, the caller commits.
"""

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from shared.audit import record_audit
from shared.bank.model import ParsedEntry, ParsedStatement
from shared.bank.parse import parse_statement_file
from shared.errors import ValidationError
from shared.models import (
    BankAccount,
    BankStatement,
    BankStatementEntry,
    BankStatementFile,
    BankStatementTransaction,
    utcnow,
)


@dataclass
class StatementResult:
    bank_statement_id: int  # BankStatement.id, for what runs after the import
    iban: str
    currency: str
    statement_id: str
    period_start: date | None
    period_end: date | None
    new_statement: bool
    entries_added: int
    entries_known: int
    not_booked: int
    warnings: list[str] = field(default_factory=list)


@dataclass
class ImportReport:
    filename: str
    message: str
    already_imported_at: datetime | None = None
    statements: list[StatementResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def entries_added(self) -> int:
        return sum(result.entries_added for result in self.statements)

    @property
    def entries_known(self) -> int:
        return sum(result.entries_known for result in self.statements)

    def lines(self) -> list[str]:
        if self.already_imported_at is not None:
            return [
                f"{self.filename}: already imported on "
                f"{self.already_imported_at:%Y-%m-%d %H:%M} UTC; nothing added."
            ]
        lines = [f"{self.filename} ({self.message}):"]
        for result in self.statements:
            period = f"{result.period_start or '?'} to {result.period_end or '?'}"
            lines.append(
                f"  {result.iban} {result.currency} {period}: entries added "
                f"{result.entries_added}, already known {result.entries_known}"
                + (
                    f", not booked (information only) {result.not_booked}"
                    if result.not_booked
                    else ""
                )
                + ("" if result.new_statement else "; statement seen before")
            )
            lines += [f"    warning: {warning}" for warning in result.warnings]
        lines += [f"  warning: {warning}" for warning in self.warnings]
        return lines

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _insert(session: Session, table):
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def _cut(text: str, column) -> str:
    """Free text from a bank, cut to its column (PostgreSQL refuses longer strings)."""
    length = _length(column)
    return text[:length] if length else text


@cache  # asked for every field of every entry
def _length(column) -> int | None:
    return getattr(column.type, "length", None)


def _account_for(session: Session, statement: ParsedStatement) -> BankAccount:
    account = session.exec(
        select(BankAccount).where(BankAccount.iban == statement.iban).order_by(BankAccount.id)
    ).first()
    if account is None:
        raise ValidationError(
            "The statement is for account {iban}, which is not one of the company's bank "
            "accounts. Create it under Bank accounts (a regular account with IBAN {iban}), then "
            "import the file again.",
            iban=statement.iban,
            field="iban",
        )
    return account


def _store_file(
    session: Session, *, actor: str, filename: str, content: bytes, message: str, digest: str
) -> int | None:
    """The new file's id, or None when the same bytes were imported already."""
    table = BankStatementFile.__table__
    statement = (
        _insert(session, table)
        .values(
            sha256=digest,
            filename=_cut(filename, table.c.filename),
            message=message,
            size_bytes=len(content),
            content=content,
            imported_by=actor,
            imported_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["sha256"])
        .returning(table.c.id)
    )
    return session.execute(statement).scalar()


def _store_statement(
    session: Session, *, account_id: int, file_id: int, statement: ParsedStatement
) -> tuple[int, bool]:
    table = BankStatement.__table__
    values = {
        "bank_account_id": account_id,
        "file_id": file_id,
        "message": statement.message,
        "statement_id": _cut(statement.statement_id, table.c.statement_id),
        "currency": statement.currency,
        "period_start": statement.period_start,
        "period_end": statement.period_end,
        "opening_balance_minor": statement.opening_balance_minor,
        "closing_balance_minor": statement.closing_balance_minor,
        "balance_difference_minor": statement.balance_difference_minor,
        "entry_count": len(statement.entries),
        "not_booked_count": statement.not_booked,
        "warnings": statement.warnings,
        "imported_at": utcnow(),
    }
    inserted = session.execute(
        _insert(session, table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["bank_account_id", "currency", "statement_id"])
        .returning(table.c.id)
    ).scalar()
    if inserted is not None:
        return inserted, True
    existing = session.exec(
        select(table.c.id).where(
            table.c.bank_account_id == account_id,
            table.c.currency == statement.currency,
            table.c.statement_id == values["statement_id"],
        )
    ).one()
    return existing, False


def _entry_row(entry: ParsedEntry, *, account_id: int, statement_id: int) -> dict:
    columns = BankStatementEntry.__table__.c
    return {
        "bank_account_id": account_id,
        "statement_id": statement_id,
        "dedupe_key": entry.dedupe_key,
        "bank_reference": _cut(entry.bank_reference, columns.bank_reference),
        "amount_minor": entry.amount_minor,
        "currency": entry.currency,
        "direction": entry.direction,
        "booking_date": entry.booking_date,
        "value_date": entry.value_date,
        "reversal": entry.reversal,
        "bank_transaction_code": _cut(entry.bank_transaction_code, columns.bank_transaction_code),
        "batch_reference": _cut(entry.batch_reference, columns.batch_reference),
        "batch_size": entry.batch_size,
        "created_at": utcnow(),
    }


def _transaction_rows(entry: ParsedEntry, entry_id: int) -> list[dict]:
    columns = BankStatementTransaction.__table__.c
    rows = []
    for position, tx in enumerate(entry.transactions, start=1):
        rows.append(
            {
                "entry_id": entry_id,
                "position": position,
                "amount_minor": tx.amount_minor,
                "counterparty_name": _cut(tx.counterparty_name, columns.counterparty_name),
                "counterparty_iban": _cut(tx.counterparty_iban, columns.counterparty_iban),
                "counterparty_bic": _cut(tx.counterparty_bic, columns.counterparty_bic),
                "creditor_reference": _cut(tx.creditor_reference, columns.creditor_reference),
                "remittance_text": tx.remittance_text,
                "additional_info": tx.additional_info,
                "bank_reference": _cut(tx.bank_reference, columns.bank_reference),
                "end_to_end_id": _cut(tx.end_to_end_id, columns.end_to_end_id),
                "transaction_id": _cut(tx.transaction_id, columns.transaction_id),
                "original_amount_minor": tx.original_amount_minor,
                "original_currency": tx.original_currency,
            }
        )
    return rows


def _store_entries(
    session: Session, *, account_id: int, statement_id: int, entries: list[ParsedEntry]
) -> int:
    """Insert the entries this account does not have yet; returns how many were new."""
    if not entries:
        return 0
    table = BankStatementEntry.__table__
    # One key order for every importer, so two imports of overlapping files on
    # PostgreSQL wait for each other instead of deadlocking.
    entries = sorted(entries, key=lambda entry: entry.dedupe_key)
    by_key = {entry.dedupe_key: entry for entry in entries}
    # One statement, compiled once, sent as many multi-row INSERTs as it takes (the
    # driver's "insertmanyvalues" batching); RETURNING names only the rows inserted.
    returned = session.execute(
        _insert(session, table)
        .on_conflict_do_nothing(index_elements=["bank_account_id", "dedupe_key"])
        .returning(table.c.id, table.c.dedupe_key),
        [_entry_row(e, account_id=account_id, statement_id=statement_id) for e in entries],
    ).all()
    # Transactions in the entries' order (ids ascending, as inserted): matching reads them
    # in id order, so a reversal comes after the booking it reverses in the same file.
    rows = [
        row
        for entry_id, key in sorted(returned)
        for row in _transaction_rows(by_key[key], entry_id)
    ]
    if rows:
        session.execute(BankStatementTransaction.__table__.insert(), rows)
    return len(returned)


def import_statement(
    session: Session, *, actor: str, filename: str, content: bytes
) -> ImportReport:
    """Import a camt.053/camt.054/FiDAViSta file; raises ``ValidationError`` (nothing
    written) for a file that cannot be imported."""
    parsed = parse_statement_file(content)
    accounts = [_account_for(session, statement) for statement in parsed.statements]
    report = ImportReport(filename=filename, message=parsed.message, warnings=parsed.warnings)
    digest = hashlib.sha256(content).hexdigest()
    file_id = _store_file(
        session,
        actor=actor,
        filename=filename,
        content=content,
        message=parsed.message,
        digest=digest,
    )
    if file_id is None:
        report.already_imported_at = session.exec(
            select(BankStatementFile.imported_at).where(BankStatementFile.sha256 == digest)
        ).one()
        report.warnings = []
        return report
    pairs = sorted(
        zip(parsed.statements, accounts, strict=True),
        key=lambda pair: (pair[1].id, pair[0].currency, pair[0].statement_id),
    )
    for statement, account in pairs:
        statement_id, new = _store_statement(
            session, account_id=account.id, file_id=file_id, statement=statement
        )
        added = _store_entries(
            session, account_id=account.id, statement_id=statement_id, entries=statement.entries
        )
        report.statements.append(
            StatementResult(
                bank_statement_id=statement_id,
                iban=statement.iban,
                currency=statement.currency,
                statement_id=statement.statement_id,
                period_start=statement.period_start,
                period_end=statement.period_end,
                new_statement=new,
                entries_added=added,
                entries_known=len(statement.entries) - added,
                not_booked=statement.not_booked,
                warnings=statement.warnings,
            )
        )
    record_audit(
        session,
        actor=actor,
        action="bank_statement.import",
        entity_type="bank_statement_file",
        entity_id=file_id,
        details={
            "filename": filename,
            "message": parsed.message,
            "entries_added": report.entries_added,
            "entries_known": report.entries_known,
        },
    )
    session.flush()
    return report
