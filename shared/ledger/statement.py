"""The customer statement (Latvian "salīdzināšanās akts"): what a customer owed at the
start of a period, every invoice and ledger entry in it in date order with a running
balance, and what they owe at its end, per currency.

A balance is what the customer owes the company: invoices add their total; payments and
credit notes take their amount off; money paid back (refunds, chargebacks) adds it again.
A payment taken back (a negative payment) therefore adds to it. Below zero, the company
owes the customer (their credit). Invoices count from their issue date, ledger entries
from their value date, so the opening balance on a day is "invoices issued before it minus
entries valued before it", and the closing balance after the last movement equals the
sum of the customer's open balances.

Drafts and cancelled invoices are not on a statement: the ledger never moves them.
"""

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlmodel import Session

from shared.documents import current_company
from shared.errors import ValidationError
from shared.ledger.posting import POSTABLE_STATUSES
from shared.models import Company, Customer, Invoice, LedgerEntry, LedgerEntryKind

INVOICE_LINE = "invoice"
# How each kind of entry moves what the customer owes, per unit of its amount.
_BALANCE_SIGN = {
    LedgerEntryKind.PAYMENT: -1,
    LedgerEntryKind.CREDIT_NOTE: -1,
    LedgerEntryKind.MONEY_BACK: 1,
}


def balance_effect(kind: str, amount_minor: int) -> int:
    """What a ledger entry adds to the customer's balance (negative: takes off)."""
    return _BALANCE_SIGN[LedgerEntryKind(kind)] * amount_minor


@dataclass(frozen=True)
class Party:
    name: str
    registration_number: str
    vat_number: str
    address: str
    email: str


@dataclass(frozen=True)
class StatementLine:
    day: date
    kind: str  # INVOICE_LINE or a LedgerEntryKind
    source: str  # the entry's LedgerSource; "" for an invoice
    document: str  # the invoice number the line belongs to
    reference: str
    debit_minor: int  # what the line adds to the balance
    credit_minor: int  # what it takes off
    balance_minor: int  # the running balance after it


@dataclass(frozen=True)
class CurrencyStatement:
    currency: str
    opening_minor: int
    lines: tuple[StatementLine, ...]

    @property
    def debit_minor(self) -> int:
        return sum(line.debit_minor for line in self.lines)

    @property
    def credit_minor(self) -> int:
        return sum(line.credit_minor for line in self.lines)

    @property
    def closing_minor(self) -> int:
        return self.opening_minor + self.debit_minor - self.credit_minor


@dataclass(frozen=True)
class Statement:
    customer_id: int
    customer: Party
    company: Party
    language: str
    email: str
    cc_emails: str
    date_from: date
    date_to: date
    currencies: tuple[CurrencyStatement, ...]  # alphabetical; those with nothing left out


def _party(row: Company | Customer) -> Party:
    return Party(row.name, row.registration_number, row.vat_number, row.address, row.email)


def customer_statement(
    session: Session, *, customer_id: int, date_from: date, date_to: date
) -> Statement:
    """The statement of ``customer_id`` for the days ``date_from`` to ``date_to``,
    both included."""
    if date_from > date_to:
        raise ValidationError("“From” must be on or before “To”.", field="date_from")
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise ValidationError("That customer does not exist.")
    postable = Invoice.status.in_(POSTABLE_STATUSES)
    theirs = Invoice.customer_id == customer_id
    entries = (
        select()
        .select_from(LedgerEntry)
        .join(Invoice, Invoice.id == LedgerEntry.invoice_id)
        .where(LedgerEntry.customer_id == customer_id, postable)
    )

    opening: dict[str, int] = {}
    for currency, invoiced in session.execute(
        select(Invoice.currency, func.sum(Invoice.total_minor))
        .where(theirs, postable, Invoice.issue_date < date_from)
        .group_by(Invoice.currency)
    ):
        opening[currency] = opening.get(currency, 0) + int(invoiced)
    for currency, kind, amount in session.execute(
        entries.add_columns(
            LedgerEntry.currency, LedgerEntry.kind, func.sum(LedgerEntry.amount_minor)
        )
        .where(LedgerEntry.value_date < date_from)
        .group_by(LedgerEntry.currency, LedgerEntry.kind)
    ):
        opening[currency] = opening.get(currency, 0) + balance_effect(kind, int(amount))

    # (day, invoices before entries on the same day, id): a payment on the day an invoice
    # is issued reads after it, as it happened.
    movements: list[tuple[date, int, int, str, str, str, str, str, int]] = []
    for day, invoice_id, number, currency, total in session.execute(
        select(
            Invoice.issue_date, Invoice.id, Invoice.number, Invoice.currency, Invoice.total_minor
        ).where(theirs, postable, Invoice.issue_date >= date_from, Invoice.issue_date <= date_to)
    ):
        movements.append((day, 0, invoice_id, currency, INVOICE_LINE, "", number, "", total))
    for day, entry_id, currency, kind, source, reference, number, amount in session.execute(
        entries.add_columns(
            LedgerEntry.value_date,
            LedgerEntry.id,
            LedgerEntry.currency,
            LedgerEntry.kind,
            LedgerEntry.source,
            LedgerEntry.reference,
            Invoice.number,
            LedgerEntry.amount_minor,
        ).where(LedgerEntry.value_date >= date_from, LedgerEntry.value_date <= date_to)
    ):
        effect = balance_effect(kind, amount)
        movements.append((day, 1, entry_id, currency, kind, source, number, reference, effect))
    movements.sort(key=lambda movement: movement[:3])

    lines: dict[str, list[StatementLine]] = {}
    running = dict(opening)
    for day, _, _, currency, kind, source, number, reference, effect in movements:
        running[currency] = running.get(currency, 0) + effect
        lines.setdefault(currency, []).append(
            StatementLine(
                day=day,
                kind=kind,
                source=source,
                document=number or "",
                reference=reference,
                debit_minor=max(effect, 0),
                credit_minor=max(-effect, 0),
                balance_minor=running[currency],
            )
        )
    return Statement(
        customer_id=customer_id,
        customer=_party(customer),
        company=_party(current_company(session)),
        language=customer.language,
        email=customer.email,
        cc_emails=customer.cc_emails,
        date_from=date_from,
        date_to=date_to,
        currencies=tuple(
            CurrencyStatement(
                currency=currency,
                opening_minor=opening.get(currency, 0),
                lines=tuple(lines.get(currency, ())),
            )
            for currency in sorted(set(opening) | set(lines))
        ),
    )
