"""The normalised form every bank-statement format is parsed into, and its shared rules.

A statement file (camt.053, camt.054, FiDAViSta) becomes a ``ParsedFile`` holding one
``ParsedStatement`` per account and currency. Each ``ParsedEntry`` is one booking on the
account (the money that moved); its ``transactions`` are the details behind it, one for an
ordinary transfer, several for a batch booking whose details add up to the entry.

Amounts are integer minor units (``shared.money``), positive, with the direction apart.
"""

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from shared.errors import ValidationError
from shared.money import format_money, round_money, to_minor

CREDIT = "credit"
DEBIT = "debit"


class StatementFileError(ValidationError):
    """A statement file that cannot be imported; the message says where and what."""


@dataclass
class ParsedTransaction:
    amount_minor: int
    counterparty_name: str = ""
    counterparty_iban: str = ""
    counterparty_bic: str = ""
    creditor_reference: str = ""
    remittance_text: str = ""
    additional_info: str = ""
    bank_reference: str = ""
    end_to_end_id: str = ""
    transaction_id: str = ""
    original_amount_minor: int | None = None
    original_currency: str = ""


@dataclass
class ParsedEntry:
    position: int  # 1-based within its statement, for messages
    amount_minor: int
    currency: str
    direction: str
    booking_date: date | None
    value_date: date | None
    bank_reference: str  # the bank's own reference of the booking ("" when it gives none)
    reversal: bool = False
    bank_transaction_code: str = ""
    batch_reference: str = ""
    batch_size: int | None = None
    transactions: list[ParsedTransaction] = field(default_factory=list)
    dedupe_key: str = ""

    @property
    def signed_minor(self) -> int:
        return self.amount_minor if self.direction == CREDIT else -self.amount_minor


@dataclass
class ParsedStatement:
    message: str  # "camt.053.001.02", "camt.054.001.04", "FiDAViSta 1.01"
    statement_id: str
    iban: str
    currency: str
    period_start: date | None
    period_end: date | None
    opening_balance_minor: int | None
    closing_balance_minor: int | None
    entries: list[ParsedEntry] = field(default_factory=list)
    not_booked: int = 0  # entries "for information" (pending, info): not money, not imported
    warnings: list[str] = field(default_factory=list)

    @property
    def balance_difference_minor(self) -> int | None:
        """Closing − (opening + booked entries); 0 when the statement adds up."""
        if self.opening_balance_minor is None or self.closing_balance_minor is None:
            return None
        moved = sum(entry.signed_minor for entry in self.entries)
        return self.closing_balance_minor - (self.opening_balance_minor + moved)


@dataclass
class ParsedFile:
    message: str
    statements: list[ParsedStatement]
    warnings: list[str] = field(default_factory=list)


_AMOUNT = re.compile(r"\d+(\.\d+)?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_WHITESPACE = re.compile(r"\s+")


def clean_text(value: str | None) -> str:
    """Inner whitespace collapsed, ends stripped: banks pad and wrap free text."""
    return " ".join(value.split()) if value else ""


def compact_account(value: str | None) -> str:
    """An account number without the spaces banks pad it with, upper case."""
    return _WHITESPACE.sub("", value or "").upper()


def parse_amount(text: str | None, currency: str, *, where: str, field_name: str) -> int:
    """A statement amount ("1234.50") to minor units; refuses signs, commas, extra decimals."""
    cleaned = (text or "").strip()
    if not _AMOUNT.fullmatch(cleaned):
        raise StatementFileError(
            f"{where}: {field_name} '{cleaned}' is not an amount (digits and a decimal point).",
            field=field_name,
        )
    try:
        value = Decimal(cleaned)
    except InvalidOperation:  # pragma: no cover - the pattern above admits only numbers
        raise StatementFileError(f"{where}: {field_name} '{cleaned}' is not an amount.") from None
    if value != round_money(value, currency):  # "79255.00" JPY is fine, "0.005" EUR is not
        raise StatementFileError(
            f"{where}: {field_name} '{cleaned}' has more decimals than {currency} has.",
            field=field_name,
        )
    return to_minor(value, currency)


def parse_currency(text: str | None, *, where: str, field_name: str) -> str:
    code = (text or "").strip().upper()
    if not _CURRENCY.fullmatch(code):
        raise StatementFileError(
            f"{where}: {field_name} '{code}' is not an ISO 4217 currency code.", field=field_name
        )
    return code


def parse_date(text: str | None, *, where: str, field_name: str) -> date | None:
    """ISO date or the date part of an ISO date-time; None when absent."""
    cleaned = (text or "").strip()
    if not cleaned:
        return None
    try:
        return date.fromisoformat(cleaned[:10])
    except ValueError:
        raise StatementFileError(
            f"{where}: {field_name} '{cleaned}' is not a date (YYYY-MM-DD).", field=field_name
        ) from None


def _fingerprint(entry: ParsedEntry) -> str:
    parts = [str(entry.booking_date or ""), str(entry.value_date or ""), entry.batch_reference]
    for tx in entry.transactions:
        parts += [
            tx.bank_reference,
            tx.transaction_id,
            tx.end_to_end_id,
            tx.counterparty_iban,
            tx.creditor_reference,
            tx.remittance_text,
            str(tx.amount_minor),
        ]
    return "content:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def assign_dedupe_keys(statement: ParsedStatement) -> int:
    """Give every entry the key that identifies it on its account across files.

    The key is the bank's own reference of the booking with direction, amount and
    currency; the n-th repeat of the same key within one statement gets "#n" (a bank that
    gives two bookings one reference, the same amount twice). An entry without any bank
    reference is keyed by its content instead. Returns how many entries had no reference.
    """
    seen: Counter[str] = Counter()
    unreferenced = 0
    for entry in statement.entries:
        reference = entry.bank_reference
        if not reference:
            unreferenced += 1
            reference = _fingerprint(entry)
        base = f"{reference}|{entry.direction}|{entry.amount_minor}|{entry.currency}"
        seen[base] += 1
        if seen[base] > 1:
            base = f"{base}#{seen[base]}"
        entry.dedupe_key = hashlib.sha256(base.encode()).hexdigest()
    return unreferenced


def check_balances(statement: ParsedStatement) -> None:
    """A statement whose balances do not add up is kept, with a warning naming the gap."""
    difference = statement.balance_difference_minor
    if difference:
        statement.warnings.append(
            f"Statement {statement.statement_id}: opening balance plus the booked entries "
            f"differs from the closing balance by {format_money(difference, statement.currency)}"
            " (entries missing from this file, or balances the bank computed otherwise)."
        )
