"""Matching bank-statement transactions to invoices, and booking the sure ones.

Each transaction of an imported statement is looked at once, rules in this order, and
keeps the reason the rule gives:

1. a payout (``classify``): left to the EveryPay payout match, never booked here;
   a bank reversal (``RvslInd``): it cancels the earlier booking it reverses, found on
   the same account the other way for the same amount by the reference it quotes (else,
   when unambiguous, by payer and an earlier date); that booking's payment is undone
   through ``undo_booking`` and both stand as reversed, or both just cancel out when
   nothing was booked; with no such booking, or several, it is left unmatched;
2. the RF creditor reference of an invoice (structured, or written in the payment
   details): exact, booked on that invoice;
3. invoice numbers in the payment details, written the way people write them
   ("INV-2026-0034", "INV 2026 34", "inv2026/34", "rēķins Nr. 34"): exact when they are
   one customer's and the amount is at most what that customer owes, booked on the named
   invoices first (several named: each gets its share); otherwise a suggestion;
4. the amount equals what is open on an invoice of the payer (known by an IBAN that paid
   them before, or by name): a suggestion, accepted with one click;
5. nothing: unmatched, for a person to match by hand or mark "not a customer payment".

Money going out is matched only to a customer's credit being paid back, as a suggestion.

Exact matches are booked through the ledger's one path (``record_received_payment``, or
for a batch its two halves ``stage_received_payment`` and ``write_received_payments``). A
transaction moves between states only by a conditional UPDATE from the state its mover
expects, in the same transaction as the booking, so two imports, two matchers or two
clicks racing on it book it once: the loser's UPDATE finds the state moved (PostgreSQL
re-reads the row once the winner commits; SQLite runs the writers one after the other).
A statement's new transactions are matched ``MATCH_BATCH`` at a time with set-based reads
and writes (``_match_batch``), with the same outcome as one after the other.
"""

import gc
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import Row, bindparam, func, or_, update
from sqlalchemy.orm import load_only
from sqlmodel import Session, col, select

from shared.audit import audit_row, record_audit, record_audits
from shared.bank.importing import ImportReport, import_statement
from shared.bank.model import CREDIT, DEBIT
from shared.bank.payouts import explain_payouts, looks_like_payout
from shared.bank.references import format_creditor_reference, invoice_id_from_reference
from shared.company import company_settings, local_today
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.invoicing import OPEN_STATUSES, lock_invoice
from shared.ledger.posting import POSTABLE_STATUSES
from shared.ledger.received import (
    OpenInvoice,
    StagedPayment,
    open_invoices,
    record_received_payment,
    refund_customer_credit,
    reverse_received_payment,
    stage_received_payment,
    write_received_payments,
)
from shared.models import (
    BankStatementEntry,
    BankStatementTransaction,
    Customer,
    Invoice,
    InvoiceNumberSequence,
    LedgerSource,
    MatchState,
    NumberSeries,
    ReceivedPayment,
    utcnow,
)
from shared.money import SUPPORTED_CURRENCIES, format_money
from shared.numbering import DEFAULT_DIGITS, INVOICE, NO_RESET_YEAR, number_text
from shared.states import MATCH_STATE_LABELS
from shared.text import search_key
from shared.users import require_permission

# --- Classifying: customer money or an EveryPay payout -------------------------------------

CUSTOMER = "customer"
PAYOUT = "payout"


def classify(tx: BankStatementTransaction, entry: BankStatementEntry) -> str:
    """``PAYOUT`` for EveryPay paying settled LinkPay money out (explained against the
    payments by shared.bank.payouts, never booked on an invoice), else ``CUSTOMER``."""
    return PAYOUT if looks_like_payout(tx, entry) else CUSTOMER


Classifier = Callable[[BankStatementTransaction, BankStatementEntry], str]

# --- Text as banks and payers write it -----------------------------------------------------

# Letters NFKD does not take apart into a base letter and a mark.
_PLAIN_LETTERS = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ı": "i", "æ": "ae"})
_LEGAL_FORMS = frozenset({"sia", "as", "ik", "ou", "uab", "ab", "oy", "ltd", "llc", "gmbh"})


def fold(text: str) -> str:
    """Casefolded (``search_key``) and without diacritics: banks often drop "ē" and "ņ"
    ("BERZINA"), payers type them or not."""
    decomposed = unicodedata.normalize("NFKD", search_key(text or ""))
    plain = "".join(char for char in decomposed if not unicodedata.combining(char))
    return plain.translate(_PLAIN_LETTERS)


@lru_cache(maxsize=65536)  # the rules compare each candidate's name with each payer's
def name_key(name: str) -> str:
    """A payer's or customer's name as compared: folded words in any order, quotes and
    legal forms left out ("SIA “Bērziņš”" and "BERZINS SIA" are one name)."""
    words = re.findall(r"[a-z0-9]+", fold(name))
    return " ".join(sorted(word for word in words if word not in _LEGAL_FORMS))


# An RF reference as written in free text, possibly in groups of four.
_RF_IN_TEXT = re.compile(r"RF\d{2}(?: ?[0-9A-Z]){1,21}")
# Words that say "invoice" (Latvian, English, Estonian) or "number".
_INVOICE_WORDS = ("rekins", "rekina", "rek", "invoice", "inv", "arve", "nr", "no")
# Series (or one of those words), year and number, with any separators or none:
# "INV-2026-0034", "INV 2026 34", "inv2026/34", "Nr. 2026/34". Never a date ("2026-11-02").
_FULL_NUMBER = re.compile(
    r"(?<![a-z0-9])([a-z]{1,10})[\s\-/_.#:]*((?:19|20)\d{2})[\s\-/_.#:]*(\d{1,9})"
    r"(?!\d|[\-/.]\d)"
)
# A number after one of those words: "rēķins Nr. 34". Not after a bare "no", which in
# Latvian means "from" ("no 01.11"), and never a number that runs on into a date.
_SHORT_NUMBER = re.compile(
    r"(?<![a-z0-9])(?:" + "|".join(word for word in _INVOICE_WORDS if word != "no") + r")"
    r"\.?\s*(?:nr|no|num|number)?\.?\s*[:#]?\s*(\d{1,9})(?!\d|[/.\-]\d)"
)


def references_in_text(text: str) -> list[str]:
    """Creditor references written in free text, compact, the valid ones only."""
    found = []
    for match in _RF_IN_TEXT.finditer((text or "").upper()):
        candidate = match.group().replace(" ", "")
        # A reference run together with the digits after it: drop digits until it checks.
        while len(candidate) > 4 and invoice_id_from_reference(candidate) is None:
            candidate = candidate[:-1]
        if len(candidate) > 4:
            found.append(candidate)
    return found


class SeriesYear(NamedTuple):
    """A counter of an invoice series: its prefix, its year (NO_RESET_YEAR: none) and width."""

    series: str
    year: int
    digits: int


@dataclass(frozen=True)
class NumberMention:
    """An invoice number as a payer wrote it: series and year when they wrote them."""

    number: int
    year: int | None = None
    series: str | None = None


def invoice_numbers_in_text(text: str) -> list[NumberMention]:
    """The invoice numbers a payer wrote, in the order written."""
    folded = fold(text)
    mentions: list[NumberMention] = []
    taken: list[tuple[int, int]] = []
    for match in _FULL_NUMBER.finditer(folded):
        word, year, number = match.groups()
        mentions.append(NumberMention(number=int(number), year=int(year), series=word.upper()))
        taken.append(match.span())
    for match in _SHORT_NUMBER.finditer(folded):
        if any(start <= match.start(1) < end for start, end in taken):
            continue
        mentions.append(NumberMention(number=int(match.group(1))))
    return [mention for mention in mentions if mention.number > 0]


# --- Deciding ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    state: MatchState
    reason: str
    customer_id: int | None = None
    allocations: tuple[tuple[int, int], ...] = ()
    reverses: int | None = None  # the transaction a bank reversal cancels


def _money(minor: int, currency: str) -> str:
    return format_money(minor, currency)


def _numbers(invoices: Sequence[Invoice]) -> str:
    return ", ".join(invoice.number or f"#{invoice.id}" for invoice in invoices)


def _reference_of(tx: BankStatementTransaction) -> str | None:
    """The first RF reference of one of our invoices the transfer quotes."""
    if tx.creditor_reference and invoice_id_from_reference(tx.creditor_reference):
        return tx.creditor_reference
    written = references_in_text(_payment_details(tx))
    return next((ref for ref in written if invoice_id_from_reference(ref)), None)


def _by_reference(reads: "Reads", tx: BankStatementTransaction, currency: str) -> Match | None:
    reference = reads.reference_of(tx)
    if reference is None:
        return None
    shown = format_creditor_reference(reference.replace(" ", "").upper())
    invoice = reads.invoice(invoice_id_from_reference(reference))
    if invoice is None or invoice.status not in POSTABLE_STATUSES:
        return Match(
            MatchState.UNMATCHED, f"RF reference {shown} is not one of our issued invoices."
        )
    if invoice.currency != currency:
        return Match(
            MatchState.UNMATCHED,
            f"RF reference {shown} is invoice {invoice.number} in {invoice.currency}; "
            f"the transfer is in {currency}.",
        )
    share = ((invoice.id, tx.amount_minor),)
    if invoice.open_minor <= 0:
        return Match(
            MatchState.SUGGESTED,
            f"RF reference {shown} of invoice {invoice.number}, which has nothing open: "
            "booking it makes the amount the customer's credit.",
            invoice.customer_id,
            share,
        )
    return Match(
        MatchState.BOOKED_AUTO,
        f"RF reference {shown} of invoice {invoice.number}.",
        invoice.customer_id,
        share,
    )


def _candidate_numbers(
    series_by_year: Sequence[SeriesYear], mention: NumberMention, *, booked_in: int
) -> list[str]:
    """The invoice numbers a mention may stand for, in each series' own format: a series
    without yearly reset matches a mention that names no year."""
    years = {mention.year} if mention.year else {booked_in, booked_in - 1}
    known = {row.series for row in series_by_year}
    if mention.series in known:
        series = {mention.series}
    elif mention.series is None or mention.series.lower() in _INVOICE_WORDS:
        series = known
    else:
        return []  # "Payment 2026 5": a word that is no series of ours
    return [
        number_text(prefix=row.series, year=row.year, digits=row.digits, counter=mention.number)
        for row in series_by_year
        if row.series in series
        and (row.year in years or (row.year == NO_RESET_YEAR and mention.year is None))
    ]


def _payment_details(tx: BankStatementTransaction) -> str:
    return f"{tx.remittance_text} {tx.additional_info}"


def _booked_in(entry: BankStatementEntry) -> int:
    return (entry.booking_date or entry.value_date or utcnow().date()).year


def _named_invoices(reads: "Reads", text: str, *, booked_in: int) -> list[Invoice]:
    """The invoices the payment details name, in the order named; a short "Nr. 34" only
    when it fits one invoice."""
    named: list[Invoice] = []
    series_by_year = reads.series_by_year()
    for mention in invoice_numbers_in_text(text):
        numbers = _candidate_numbers(series_by_year, mention, booked_in=booked_in)
        if not numbers:
            continue
        found = reads.invoices_numbered(numbers)
        if len(found) == 1 and found[0] not in named:
            named.append(found[0])
    return named


def _allocate(
    reads: "Reads", *, named: Sequence[Invoice], amount_minor: int, currency: str
) -> tuple[tuple[int, int], ...]:
    """The named invoices first, each up to what is open on it; what is left settles the
    customer's other open invoices oldest due first, and beyond that rides on the last
    named invoice (where the ledger makes it the customer's credit)."""
    shares: dict[int, int] = {}
    left = amount_minor
    for invoice in named:
        if left == 0:
            break
        share = min(left, max(invoice.open_minor, 0))
        if share:
            shares[invoice.id] = share
            left -= share
    if left:
        others = reads.open_invoices(customer_id=named[0].customer_id, currency=currency)
        for other in others:
            if left == 0:
                break
            if other.id in shares:
                continue
            share = min(left, other.open_minor)
            shares[other.id] = share
            left -= share
    if left:
        last = next((i.id for i in reversed(named) if i.id in shares), named[-1].id)
        shares[last] = shares.get(last, 0) + left
    return tuple(shares.items())


def _by_invoice_number(
    reads: "Reads", tx: BankStatementTransaction, entry: BankStatementEntry
) -> Match | None:
    named = _named_invoices(reads, _payment_details(tx), booked_in=_booked_in(entry))
    if not named:
        return None
    listed = _numbers(named)
    if len({invoice.customer_id for invoice in named}) > 1:
        return Match(
            MatchState.UNMATCHED,
            f"The payment details name invoices {listed} of different customers.",
        )
    if any(invoice.currency != entry.currency for invoice in named):
        return Match(
            MatchState.UNMATCHED,
            f"The payment details name invoice {listed}, not in {entry.currency}.",
        )
    payable = [i for i in named if i.status in OPEN_STATUSES and i.open_minor > 0]
    if not payable:
        return Match(
            MatchState.UNMATCHED,
            f"The payment details name invoice {listed}, which has nothing open.",
        )
    customer_id = payable[0].customer_id
    allocations = _allocate(
        reads, named=payable, amount_minor=tx.amount_minor, currency=entry.currency
    )
    owed = reads.customer_open_total(customer_id=customer_id, currency=entry.currency)
    found = "Invoice number" if len(payable) == 1 else "Invoice numbers"
    reason = f"{found} {_numbers(payable)} in the payment details"
    if tx.amount_minor <= owed:
        return Match(MatchState.BOOKED_AUTO, f"{reason}.", customer_id, allocations)
    return Match(
        MatchState.SUGGESTED,
        f"{reason}, but {_money(tx.amount_minor, entry.currency)} is more than the "
        f"{_money(owed, entry.currency)} the customer owes: the rest would become credit.",
        customer_id,
        allocations,
    )


def _customers_paying_from(session: Session, iban: str) -> set[int]:
    """Customers an earlier transfer from ``iban`` was booked to (and not taken back)."""
    if not iban:
        return set()
    return set(
        session.exec(
            select(ReceivedPayment.customer_id)
            .join(
                BankStatementTransaction,
                col(BankStatementTransaction.received_payment_id) == col(ReceivedPayment.id),
            )
            .where(
                col(BankStatementTransaction.counterparty_iban) == iban,
                col(ReceivedPayment.reversed_at).is_(None),
            )
            .distinct()
        ).all()
    )


# --- What the rules read --------------------------------------------------------------------


class Reads:
    """The rules' questions about invoices, each answered by a query on ``session``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def reference_of(self, tx: BankStatementTransaction) -> str | None:
        return _reference_of(tx)

    def invoice(self, invoice_id: int) -> Invoice | None:
        return self.session.get(Invoice, invoice_id)

    def series_by_year(self) -> Sequence[SeriesYear]:
        """Each invoice series' counter years, with its number width (a counter of a prefix
        no series row describes, from before series were configurable, is read as INV was)."""
        rows = self.session.exec(
            select(
                InvoiceNumberSequence.series,
                InvoiceNumberSequence.year,
                func.coalesce(NumberSeries.digits, DEFAULT_DIGITS),
            )
            .outerjoin(NumberSeries, col(NumberSeries.prefix) == col(InvoiceNumberSequence.series))
            .where(
                or_(
                    col(NumberSeries.document_type).is_(None),
                    col(NumberSeries.document_type) == INVOICE,
                )
            )
        ).all()
        return [SeriesYear(*row) for row in rows]

    def invoices_numbered(self, numbers: Sequence[str]) -> list[Invoice]:
        return list(
            self.session.exec(
                select(Invoice).where(col(Invoice.number).in_(numbers)).order_by(col(Invoice.id))
            ).all()
        )

    def open_invoices(self, *, customer_id: int, currency: str) -> Sequence[OpenInvoice]:
        return open_invoices(self.session, customer_id=customer_id, currency=currency)

    def customer_open_total(self, *, customer_id: int, currency: str) -> int:
        return self.session.exec(
            select(func.coalesce(func.sum(Invoice.open_minor), 0)).where(
                col(Invoice.customer_id) == customer_id,
                col(Invoice.currency) == currency,
                col(Invoice.status).in_(OPEN_STATUSES),
                col(Invoice.open_minor) > 0,
            )
        ).one()

    def invoices_open_for(
        self, amount_minor: int, *, currency: str
    ) -> Sequence[tuple[Invoice, Customer]]:
        """Open invoices with exactly ``amount_minor`` open, oldest due first."""
        return self.session.exec(
            select(Invoice, Customer)
            .join(Customer, col(Customer.id) == col(Invoice.customer_id))
            .where(
                col(Invoice.open_minor) == amount_minor,
                col(Invoice.currency) == currency,
                col(Invoice.status).in_(OPEN_STATUSES),
            )
            .order_by(col(Invoice.due_date).is_(None), col(Invoice.due_date), col(Invoice.id))
            .limit(_AMOUNT_CANDIDATES)
        ).all()

    def customers_paying_from(self, iban: str) -> set[int]:
        return _customers_paying_from(self.session, iban)


_AMOUNT_CANDIDATES = 200
_AMOUNT_READ = 250  # candidates a batch reads per amount
# Ids per IN list: far below SQLite's and PostgreSQL's limits on bound parameters.
_IN_CHUNK = 5000


def _chunks(values: Sequence, size: int = _IN_CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _owed_by(invoice: Invoice) -> int:
    """What the invoice adds to what its customer owes."""
    if invoice.status in OPEN_STATUSES and invoice.open_minor > 0:
        return invoice.open_minor
    return 0


def _due_order(invoice: Invoice) -> tuple:
    return (invoice.due_date is None, invoice.due_date or date.min, invoice.id)


# The columns of a named invoice the rules and the ledger's staging read (``_by_reference``,
# ``_by_invoice_number``, ``_allocate``, ``shared.ledger.posting.stage_entry``): a third
# of the invoice's, so a batch's hundreds of locked invoices load in half the time. A
# column missing here would be read when first asked for, one query per invoice (slower,
# never wrong); tests/bank/test_matching.py makes that an error to keep the list whole.
RULES_AND_LEDGER_COLUMNS = (
    Invoice.id,
    Invoice.number,
    Invoice.customer_id,
    Invoice.currency,
    Invoice.status,
    Invoice.due_date,
    Invoice.total_minor,
    Invoice.paid_minor,
    Invoice.credited_minor,
    Invoice.returned_minor,
    Invoice.open_minor,
    Invoice.sent_at,
    Invoice.paid_at,
)
_RULES_AND_LEDGER_READ = load_only(*RULES_AND_LEDGER_COLUMNS)


class BatchReads(Reads):
    """The same answers for a batch of transactions, read up front in a few set-based
    queries and then kept current in memory.

    The invoices the transfers name (by RF reference or number) are read here and
    locked, in one statement per id range, in ascending id order (the order every writer
    of several invoices uses). They are the session's own objects: a staged booking
    (``stage_received_payment``) moves their totals, so filtering them by their current
    values answers what a query would answer after each booking. What the named
    invoices' customers owe, the invoices with a transfer's amount open, and the
    customers paying from its IBAN are read at the start and adjusted by what the batch
    booked since (``booked``). The rare payment beyond the named invoices reads the
    customer's other open invoices with a query (the session writes the staged totals
    first), and the ledger locks those as it books them, as one by one."""

    def __init__(self, session: Session, pairs: Sequence[tuple[Any, Any]]) -> None:
        super().__init__(session)
        self.today = local_today(company_settings(session).timezone)
        self._series = super().series_by_year()
        references, numbers = set(), set()
        # Per transfer without an RF reference (one always decides): the candidate numbers
        # of each invoice number it mentions.
        mentioned: list[tuple[Any, list[list[str]]]] = []
        self._references = {tx.id: _reference_of(tx) for tx, _ in pairs}
        for tx, entry in pairs:
            reference = self._references[tx.id]
            if reference is not None:
                references.add(invoice_id_from_reference(reference))
                continue
            candidates = [
                _candidate_numbers(self._series, mention, booked_in=_booked_in(entry))
                for mention in invoice_numbers_in_text(_payment_details(tx))
            ]
            numbers.update(number for found in candidates for number in found)
            mentioned.append((tx, candidates))
        named: dict[str, tuple[int, int]] = {}
        for chunk in _chunks(sorted(numbers)):
            named.update(
                (number, (invoice_id, customer_id))
                for invoice_id, customer_id, number in session.exec(
                    select(Invoice.id, Invoice.customer_id, Invoice.number).where(
                        col(Invoice.number).in_(chunk)
                    )
                ).all()
            )
        # Amount and payer are looked at only for transfers naming no invoice.
        amounts, ibans = set(), set()
        for tx, candidates in mentioned:
            if not any(sum(number in named for number in found) == 1 for found in candidates):
                amounts.add(tx.amount_minor)
                if tx.counterparty_iban:
                    ibans.add(tx.counterparty_iban)
        bookable = set(references) | {invoice_id for invoice_id, _ in named.values()}
        self.locked: dict[int, Invoice] = {}
        for chunk in _chunks(sorted(bookable)):
            self.locked.update(
                (invoice.id, invoice)
                for invoice in session.exec(
                    select(Invoice)
                    .options(_RULES_AND_LEDGER_READ)
                    .where(col(Invoice.id).in_(chunk))
                    .order_by(col(Invoice.id))
                    .with_for_update(key_share=True)
                    .execution_options(populate_existing=True)
                ).all()
            )
        # What the named invoices' customers owe (read once their invoices are locked).
        self._owed: dict[tuple[int, str], int] = {}
        for chunk in _chunks(sorted({customer_id for _, customer_id in named.values()})):
            for customer_id, currency, total in session.exec(
                select(Invoice.customer_id, Invoice.currency, func.sum(Invoice.open_minor))
                .where(
                    col(Invoice.customer_id).in_(chunk),
                    col(Invoice.status).in_(OPEN_STATUSES),
                    col(Invoice.open_minor) > 0,
                )
                .group_by(col(Invoice.customer_id), col(Invoice.currency))
            ).all():
                self._owed[customer_id, currency] = int(total)
        # The first candidates per amount and currency, as plain rows: more than the rule
        # looks at, so that the batch's bookings rarely empty the list below that.
        self._by_amount: dict[tuple[int, str], list[Row]] = {}
        for chunk in _chunks(sorted(amounts)):
            ranked = (
                select(
                    Invoice.id,
                    Invoice.number,
                    Invoice.customer_id,
                    Invoice.currency,
                    Invoice.status,
                    Invoice.open_minor,
                    Invoice.due_date,
                    func.row_number()
                    .over(
                        partition_by=(col(Invoice.open_minor), col(Invoice.currency)),
                        order_by=(
                            col(Invoice.due_date).is_(None),
                            col(Invoice.due_date),
                            col(Invoice.id),
                        ),
                    )
                    .label("rank"),
                )
                .where(col(Invoice.open_minor).in_(chunk), col(Invoice.status).in_(OPEN_STATUSES))
                .subquery()
            )
            for row in session.execute(select(ranked).where(ranked.c.rank <= _AMOUNT_READ)).all():
                self._by_amount.setdefault((row.open_minor, row.currency), []).append(row)
        self._invoices = self.locked
        self._by_number = {
            invoice.number: invoice for invoice in self.locked.values() if invoice.number in numbers
        }
        # What each locked invoice added to its customer's open total when read.
        self._owed_at_start = {i: _owed_by(invoice) for i, invoice in self.locked.items()}
        # The locked invoices' customers as the session's objects (the ledger reads them;
        # held here, as the session keeps only objects someone refers to), the other
        # candidates' by id and name.
        self._customers: dict[int, Any] = {}
        for chunk in _chunks(sorted({i.customer_id for i in self.locked.values()})):
            self._customers.update(
                (customer.id, customer)
                for customer in session.exec(
                    select(Customer)
                    .options(load_only(Customer.id, Customer.name))
                    .where(col(Customer.id).in_(chunk))
                ).all()
            )
        customer_ids = {row.customer_id for rows in self._by_amount.values() for row in rows}
        for chunk in _chunks(sorted(customer_ids - self._customers.keys())):
            self._customers.update(
                (row.id, row)
                for row in session.execute(
                    select(Customer.id, Customer.name).where(col(Customer.id).in_(chunk))
                ).all()
            )
        self._paying: dict[str, set[int]] = {}
        for chunk in _chunks(sorted(ibans)):
            for iban, customer_id in session.exec(
                select(BankStatementTransaction.counterparty_iban, ReceivedPayment.customer_id)
                .join(
                    BankStatementTransaction,
                    col(BankStatementTransaction.received_payment_id) == col(ReceivedPayment.id),
                )
                .where(
                    col(BankStatementTransaction.counterparty_iban).in_(chunk),
                    col(ReceivedPayment.reversed_at).is_(None),
                )
                .distinct()
            ).all():
                self._paying.setdefault(iban, set()).add(customer_id)
        # The invoices the batch booked on: all, per customer, per current open amount.
        self._touched: set[int] = set()
        self._touched_of: dict[int, set[int]] = {}
        self._touched_at: dict[tuple[int, str], set[int]] = {}
        self._touched_key: dict[int, tuple[int, str]] = {}

    def lock(self, invoice_ids: Sequence[int]) -> None:
        """Locks (and from now on follows) invoices a booking reaches beyond the named
        ones: the customer's other open invoices, read by ``open_invoices``."""
        for invoice_id in sorted(set(invoice_ids) - self.locked.keys()):
            invoice = lock_invoice(self.session, invoice_id=invoice_id)
            self.locked[invoice_id] = self._invoices[invoice_id] = invoice
            self._owed_at_start[invoice_id] = _owed_by(invoice)
            if invoice.customer_id not in self._customers:
                self._customers[invoice.customer_id] = self.session.get(
                    Customer, invoice.customer_id
                )

    def booked(self, tx: BankStatementTransaction, payment: StagedPayment) -> None:
        """What a booking staged in this batch changes in the answers."""
        for booking in payment.bookings:
            invoice = self._invoices[booking.invoice_id]
            self._touched.add(invoice.id)
            self._touched_of.setdefault(invoice.customer_id, set()).add(invoice.id)
            before = self._touched_key.get(invoice.id)
            if before is not None:
                self._touched_at[before].discard(invoice.id)
            key = self._touched_key[invoice.id] = (invoice.open_minor, invoice.currency)
            self._touched_at.setdefault(key, set()).add(invoice.id)
        if tx.counterparty_iban:
            self._paying.setdefault(tx.counterparty_iban, set()).add(payment.values["customer_id"])

    def reference_of(self, tx: BankStatementTransaction) -> str | None:
        return self._references[tx.id]

    def invoice(self, invoice_id: int) -> Invoice | None:
        return self._invoices.get(invoice_id)

    def series_by_year(self) -> Sequence[SeriesYear]:
        return self._series

    def invoices_numbered(self, numbers: Sequence[str]) -> list[Invoice]:
        found = {
            self._by_number[number].id: self._by_number[number]
            for number in numbers
            if number in self._by_number
        }
        return [found[invoice_id] for invoice_id in sorted(found)]

    def customer_open_total(self, *, customer_id: int, currency: str) -> int:
        """As read at the start, with what the batch's bookings changed since: they
        touch only locked invoices (a payment beyond them flushes and books others, which
        ``booked`` counts too)."""
        total = self._owed.get((customer_id, currency), 0)
        for invoice_id in self._touched_of.get(customer_id, ()):
            invoice = self._invoices[invoice_id]
            if invoice.currency == currency:
                total += _owed_by(invoice) - self._owed_at_start[invoice_id]
        return total

    def invoices_open_for(
        self, amount_minor: int, *, currency: str
    ) -> Sequence[tuple[Invoice, Customer]]:
        first = self._by_amount.get((amount_minor, currency), [])
        # Rows read at the start are current unless the batch booked on them; those, and
        # any other invoice it booked on, are judged by their current values.
        rows = [row for row in first if row.id not in self._touched]
        if len(first) == _AMOUNT_READ and len(rows) < _AMOUNT_CANDIDATES:
            # The list went on beyond what was read, and the batch's bookings left fewer
            # than the rule looks at: ask anew.
            return super().invoices_open_for(amount_minor, currency=currency)
        rows += [
            invoice
            for invoice in map(
                self._invoices.__getitem__, self._touched_at.get((amount_minor, currency), ())
            )
            if invoice.status in OPEN_STATUSES
        ]
        rows = sorted(rows, key=_due_order)[:_AMOUNT_CANDIDATES]
        return [(invoice, self._customers[invoice.customer_id]) for invoice in rows]

    def customers_paying_from(self, iban: str) -> set[int]:
        return set(self._paying.get(iban, ())) if iban else set()


def _payer_is(customer: Customer, *, tx: BankStatementTransaction, by_iban: set[int]) -> str | None:
    """How the payer is known to be ``customer`` ("IBAN", "name"), or None."""
    if customer.id in by_iban:
        return f"IBAN {tx.counterparty_iban}"
    payer = name_key(tx.counterparty_name)
    if payer and payer == name_key(customer.name):
        return "name"
    return None


def _by_amount_and_payer(
    reads: "Reads", tx: BankStatementTransaction, currency: str
) -> Match | None:
    rows = reads.invoices_open_for(tx.amount_minor, currency=currency)
    if not rows:
        return None
    by_iban = reads.customers_paying_from(tx.counterparty_iban)
    fitting = [
        (invoice, customer, how)
        for invoice, customer in rows
        if (how := _payer_is(customer, tx=tx, by_iban=by_iban))
    ]
    if not fitting:
        return None
    invoice, customer, how = fitting[0]
    others = f" (the oldest due of {len(fitting)})" if len(fitting) > 1 else ""
    return Match(
        MatchState.SUGGESTED,
        f"{_money(tx.amount_minor, currency)} is what is open on invoice {invoice.number}"
        f"{others}, and the payer's {how} is {customer.name}'s.",
        customer.id,
        ((invoice.id, tx.amount_minor),),
    )


def _credit_paid_back(
    session: Session, tx: BankStatementTransaction, currency: str
) -> Match | None:
    """Money going out to a customer holding at least that much credit."""
    rows = session.exec(
        select(Customer, func.sum(-col(Invoice.open_minor)))
        .join(Invoice, col(Invoice.customer_id) == col(Customer.id))
        .where(col(Invoice.open_minor) < 0, col(Invoice.currency) == currency)
        .group_by(col(Customer.id))
        .order_by(col(Customer.id))
        .limit(500)
    ).all()
    by_iban = _customers_paying_from(session, tx.counterparty_iban)
    for customer, credit in rows:
        how = _payer_is(customer, tx=tx, by_iban=by_iban)
        if how and int(credit) >= tx.amount_minor:
            return Match(
                MatchState.SUGGESTED,
                f"Paid to {customer.name} (by {how}), who has "
                f"{_money(int(credit), currency)} credit: record it as credit paid back.",
                customer.id,
            )
    return None


# --- Bank reversals ----------------------------------------------------------------------------

# States a reversal's original can be in and be cancelled: a payout is explained by the
# payouts, a reversed one is cancelled already (by another reversal of the same amount).
_NOT_REVERSIBLE = (MatchState.REVERSED, MatchState.PAYOUT)
BOOKED = (MatchState.BOOKED_AUTO, MatchState.BOOKED_MANUAL)


def _day(entry: BankStatementEntry) -> str:
    day = entry.booking_date or entry.value_date
    return day.isoformat() if day else "an unknown date"


def _same_reference(
    reversal: BankStatementTransaction,
    original: BankStatementTransaction,
    original_entry: BankStatementEntry,
) -> bool:
    """The reversal quotes a reference of the original: its end-to-end id, the payment's
    transaction id, or the bank's own reference of the booking."""
    pairs = (
        (reversal.end_to_end_id, {original.end_to_end_id}),
        (reversal.transaction_id, {original.transaction_id}),
        (reversal.bank_reference, {original.bank_reference, original_entry.bank_reference}),
    )
    return any(given and given in theirs for given, theirs in pairs)


def _same_payer(reversal: BankStatementTransaction, original: BankStatementTransaction) -> bool:
    if reversal.counterparty_iban and original.counterparty_iban:
        return reversal.counterparty_iban == original.counterparty_iban
    payer = name_key(reversal.counterparty_name)
    return bool(payer) and payer == name_key(original.counterparty_name)


def _by_reversed_original(
    session: Session, tx: BankStatementTransaction, entry: BankStatementEntry
) -> Match:
    """The earlier booking a bank reversal cancels: on the same account, the other way,
    same amount and currency; the one whose reference the reversal quotes, else (when it
    quotes none of them) the only earlier one from the same payer."""
    candidates = session.exec(
        select(BankStatementTransaction, BankStatementEntry)
        .join(
            BankStatementEntry,
            col(BankStatementEntry.id) == col(BankStatementTransaction.entry_id),
        )
        .where(
            col(BankStatementEntry.bank_account_id) == entry.bank_account_id,
            col(BankStatementEntry.currency) == entry.currency,
            col(BankStatementEntry.direction) != entry.direction,
            col(BankStatementEntry.reversal).is_(False),
            col(BankStatementTransaction.amount_minor) == tx.amount_minor,
            col(BankStatementTransaction.match_state).not_in(list(_NOT_REVERSIBLE)),
        )
        .order_by(col(BankStatementTransaction.id))
    ).all()
    amount = _money(tx.amount_minor, entry.currency)
    found = [pair for pair in candidates if _same_reference(tx, *pair)]
    how = "the reference it quotes"
    if not found:
        day = entry.booking_date or entry.value_date
        found = [
            (original, original_entry)
            for original, original_entry in candidates
            if _same_payer(tx, original)
            and (
                day is None
                or (original_entry.booking_date or original_entry.value_date or day) <= day
            )
        ]
        how = "the payer and the amount"
    if len(found) > 1:
        return Match(
            MatchState.UNMATCHED,
            f"The bank reversed a booking of {amount}, and {len(found)} earlier bookings fit "
            f"({how}): check which one by hand.",
        )
    if not found:
        return Match(
            MatchState.UNMATCHED,
            f"The bank reversed a booking of {amount} that is on no imported statement "
            "(same account, amount and reference or payer): check it by hand.",
        )
    original, original_entry = found[0]
    if original.match_state in BOOKED and original.received_payment_id is None:
        return Match(
            MatchState.UNMATCHED,
            f"The bank reversed the booking of {_day(original_entry)} ({amount}), which was "
            "recorded as credit paid back to a customer: undo that by hand.",
        )
    if original.match_state in BOOKED:
        reason = f"its booking on {_booked_on(session, original)} is undone"
    else:
        reason = "the two cancel out, nothing was booked"
    return Match(
        MatchState.REVERSED,
        f"Reverses the bank's booking of {_day(original_entry)} ({amount}"
        f"{', ' + original.counterparty_name if original.counterparty_name else ''}): "
        f"{reason}.",
        reverses=original.id,
    )


def _booked_on(session: Session, original: BankStatementTransaction) -> str:
    invoices = session.exec(
        select(Invoice)
        .where(col(Invoice.id).in_([invoice_id for invoice_id, _ in original.match_allocations]))
        .order_by(col(Invoice.id))
    ).all()
    return _numbers(invoices) if invoices else "the customer's account"


def _cancel_original(
    session: Session, *, actor: str, reversal_entry: BankStatementEntry, original_id: int
) -> None:
    """Undoes the original's booking (the ledger's own undo) and marks it reversed; a
    ValidationError when someone moved it meanwhile rolls the whole match back."""
    original, _ = _load(session, original_id)
    reason = f"Reversed by the bank on {_day(reversal_entry)}"
    # Undoing empties the match; the reversed transaction keeps whose money it was.
    customer_id = original.match_customer_id
    allocations = [(invoice_id, minor) for invoice_id, minor in original.match_allocations]
    if original.match_state in BOOKED:
        outcome = f"{reason}: the booking on {_booked_on(session, original)} is undone."
        undo_booking(session, actor=actor, transaction_id=original.id, reason=reason)
    else:
        outcome = f"{reason}: cancelled by the reversal, nothing was booked."
    if not _move(
        session,
        transaction_id=original.id,
        expected=[state for state in MatchState if state not in _NOT_REVERSIBLE + BOOKED],
        actor=actor,
        state=MatchState.REVERSED,
        reason=outcome,
        customer_id=customer_id,
        allocations=allocations,
    ):
        raise _refused(original)


def decide(
    session: Session,
    *,
    tx: BankStatementTransaction,
    entry: BankStatementEntry,
    classify: Classifier = classify,
    reads: "Reads | None" = None,
) -> Match:
    """What the rules make of one transaction (nothing is written); ``reads`` answers the
    rules' questions about invoices (by default straight from ``session``)."""
    reads = reads or Reads(session)
    if classify(tx, entry) == PAYOUT:
        return Match(
            MatchState.PAYOUT, "EveryPay payout: explained by the payouts, not by invoices."
        )
    if entry.reversal:
        return _by_reversed_original(session, tx, entry)
    if entry.currency not in SUPPORTED_CURRENCIES:
        return Match(MatchState.UNMATCHED, f"No invoice is in {entry.currency}.")
    if entry.direction == DEBIT:
        return _credit_paid_back(session, tx, entry.currency) or Match(
            MatchState.OUTGOING, "Outgoing payment, to no customer holding credit."
        )
    return (
        _by_reference(reads, tx, entry.currency)
        or _by_invoice_number(reads, tx, entry)
        or _by_amount_and_payer(reads, tx, entry.currency)
        or Match(
            MatchState.UNMATCHED,
            "No RF reference or invoice number in the payment details, and no open "
            f"invoice of {_money(tx.amount_minor, entry.currency)} from this payer.",
        )
    )


# --- Moving a transaction's state, once ------------------------------------------------------


def _move(
    session: Session,
    *,
    transaction_id: int,
    expected: Sequence[str],
    actor: str,
    state: str,
    reason: str,
    customer_id: int | None = None,
    allocations: Sequence[tuple[int, int]] = (),
    received_payment_id: int | None = None,
) -> bool:
    """Sets the transaction's state if it still is in one of ``expected``; False when
    someone else moved it first."""
    moved = session.exec(
        update(BankStatementTransaction)
        .where(
            col(BankStatementTransaction.id) == transaction_id,
            col(BankStatementTransaction.match_state).in_(list(expected)),
        )
        .values(
            match_state=state,
            match_reason=reason[:500],
            match_customer_id=customer_id,
            match_allocations=[list(pair) for pair in allocations],
            received_payment_id=received_payment_id,
            matched_by=actor[:64],
            matched_at=utcnow(),
        )
    ).rowcount
    return moved == 1


def _load(
    session: Session, transaction_id: int
) -> tuple[BankStatementTransaction, BankStatementEntry]:
    tx = session.get(BankStatementTransaction, transaction_id)
    if tx is None:
        raise ValidationError("That statement transaction does not exist.")
    session.refresh(tx)
    return tx, session.get(BankStatementEntry, tx.entry_id)


def _book(
    session: Session,
    *,
    actor: str,
    tx: BankStatementTransaction,
    entry: BankStatementEntry,
    customer_id: int | None,
    allocations: Sequence[tuple[int, str | int]],
    note: str,
) -> int:
    """Records the transfer as received on the invoices; returns the received payment."""
    result = record_received_payment(
        session,
        actor=actor,
        customer_id=customer_id,
        method=LedgerSource.BANK_STATEMENT,
        received_on=entry.booking_date or entry.value_date,
        amount=tx.amount_minor,
        currency=entry.currency,
        payer=tx.counterparty_name[:200],
        bank_reference=(entry.bank_reference or tx.bank_reference or tx.end_to_end_id)[:140],
        note=note[:1000],
        allocations=allocations,
    )
    return result.received_payment_id


def _audit(session: Session, *, actor: str, action: str, tx_id: int, **details) -> None:
    record_audit(
        session,
        actor=actor,
        action=action,
        entity_type="bank_statement_transaction",
        entity_id=tx_id,
        details=details,
    )


def match_transaction(
    session: Session, *, actor: str, transaction_id: int, classify: Classifier = classify
) -> MatchState | None:
    """Matches one new transaction and books it when the match is exact; None when it was
    matched already (by another run). The caller commits."""
    tx, entry = _load(session, transaction_id)
    if tx.match_state != MatchState.NEW:
        return None
    match = decide(session, tx=tx, entry=entry, classify=classify)
    if not _move(
        session,
        transaction_id=tx.id,
        expected=(MatchState.NEW,),
        actor=actor,
        state=match.state,
        reason=match.reason,
        customer_id=match.customer_id,
        allocations=match.allocations,
    ):
        return None
    if match.reverses is not None:
        _cancel_original(session, actor=actor, reversal_entry=entry, original_id=match.reverses)
    if match.state == MatchState.BOOKED_AUTO:
        payment_id = _book(
            session,
            actor=actor,
            tx=tx,
            entry=entry,
            customer_id=match.customer_id,
            allocations=match.allocations,
            note=match.reason,
        )
        session.exec(
            update(BankStatementTransaction)
            .where(col(BankStatementTransaction.id) == tx.id)
            .values(received_payment_id=payment_id)
        )
    _audit(session, actor=actor, action="bank_statement.match", tx_id=tx.id, state=match.state)
    return match.state


@dataclass
class MatchSummary:
    counts: Counter = field(default_factory=Counter)
    payouts: tuple[str, ...] = ()  # one line per EveryPay payout explained

    def describe(self) -> str:
        if not self.counts:
            return "No new transactions to match."
        parts = ", ".join(
            f"{MATCH_STATE_LABELS[state].lower()} {count}"
            for state, count in sorted(
                self.counts.items(), key=lambda item: list(MatchState).index(item[0])
            )
        )
        total = sum(self.counts.values())
        return f"Matched {total} transaction{'' if total == 1 else 's'}: {parts}."


# Transactions matched per write transaction: the batch's reads and writes are a few
# set-based statements each, so a batch keeps the write lock short (well under a second)
# while 10,000 lines take ten commits, not 10,000.
MATCH_BATCH = 1000


def run_matching(
    *, actor: str, statement_id: int | None = None, classify: Classifier = classify
) -> MatchSummary:
    """Matches every new transaction (of one statement, or all), ``MATCH_BATCH`` to a write
    transaction (``_match_batch``): a transfer that cannot be booked (an invoice cancelled
    meanwhile) goes to Unmatched with the reason instead of undoing the others."""
    with read_session() as session:
        require_permission(session, actor=actor, permission="edit")
        query = (
            select(BankStatementTransaction.id)
            .join(
                BankStatementEntry,
                col(BankStatementEntry.id) == col(BankStatementTransaction.entry_id),
            )
            .where(col(BankStatementTransaction.match_state) == MatchState.NEW)
            .order_by(col(BankStatementTransaction.id))
        )
        if statement_id is not None:
            query = query.where(col(BankStatementEntry.statement_id) == statement_id)
        ids = list(session.exec(query).all())
    summary = MatchSummary()
    for start in range(0, len(ids), MATCH_BATCH):
        with write_session() as session:
            _match_batch(
                session,
                actor=actor,
                ids=ids[start : start + MATCH_BATCH],
                classify=classify,
                counts=summary.counts,
            )
    return summary


def _needs_session(
    tx: BankStatementTransaction, entry: BankStatementEntry, classify: Classifier
) -> bool:
    """Bank reversals (they undo bookings) and money going out (matched against customer
    credit) are matched one by one by ``match_transaction``."""
    if classify(tx, entry) == PAYOUT:
        return False
    return entry.reversal or (entry.currency in SUPPORTED_CURRENCIES and entry.direction == DEBIT)


def _match_batch(
    session: Session, *, actor: str, ids: Sequence[int], classify: Classifier, counts: Counter
) -> None:
    """Matches the batch's new transactions in id order, as ``match_transaction`` would one
    after the other, with set-based reads and writes.

    Invariants (the same as one by one): the transactions are locked first (FOR UPDATE,
    ascending ids; a second matcher waits, then finds them matched and skips them) and
    each still moves only by a conditional UPDATE from "new"; the invoices a booking may
    touch are locked next (``BatchReads``), so the order is transaction before invoice as
    in every other path; the rules see every booking made before them in the batch; an
    exact match is booked through ``stage_received_payment`` (the ledger's checks, totals
    moved by ``shared.ledger.posting`` only, each entry under its unique key) and written
    with ``write_received_payments`` in this same transaction; a booking the ledger
    refuses (``ValidationError``) leaves the transfer Unmatched with the reason, having
    moved nothing; one audit row per transaction matched."""
    pairs = _lock_new(session, ids)
    while pairs:
        reads = BatchReads(session, pairs)
        decided: list[tuple[Row, Match, StagedPayment | None]] = []
        for tx, entry in pairs:
            if _needs_session(tx, entry, classify):
                break
            match = decide(session, tx=tx, entry=entry, classify=classify, reads=reads)
            payment = None
            if match.state == MatchState.BOOKED_AUTO:
                try:
                    payment = _stage(session, tx=tx, entry=entry, match=match, reads=reads)
                except ValidationError as error:
                    match = Match(MatchState.UNMATCHED, f"Not booked automatically: {error}")
                else:
                    reads.booked(tx, payment)
            decided.append((tx, match, payment))
            counts[match.state] += 1
        _write_batch(session, actor=actor, decided=decided)
        if len(decided) < len(pairs):
            tx = pairs[len(decided)][0]
            state = _match_one(session, actor=actor, transaction_id=tx.id, classify=classify)
            if state is not None:
                counts[state] += 1
            # What it did (a reversal cancels a booking) is read afresh for the rest.
            pairs = _lock_new(session, [tx.id for tx, _ in pairs[len(decided) + 1 :]])
        else:
            pairs = []


def _lock_new(session: Session, ids: Sequence[int]) -> list[tuple[Row, Row]]:
    """The transactions of ``ids`` still new, locked (ascending ids), with their entries:
    plain rows, read-only (the rules read them; the batch writes by statements)."""
    if not ids:
        return []
    txs = BankStatementTransaction.__table__
    entries = BankStatementEntry.__table__
    rows = session.execute(
        select(txs)
        .where(txs.c.id.in_(ids), txs.c.match_state == MatchState.NEW)
        .order_by(txs.c.id)
        .with_for_update()
    ).all()
    by_id = {
        entry.id: entry
        for entry in session.execute(
            select(entries).where(entries.c.id.in_({row.entry_id for row in rows}))
        ).all()
    }
    return [(row, by_id[row.entry_id]) for row in rows]


def _match_one(
    session: Session, *, actor: str, transaction_id: int, classify: Classifier
) -> MatchState | None:
    try:
        with session.begin_nested():
            return match_transaction(
                session, actor=actor, transaction_id=transaction_id, classify=classify
            )
    except ValidationError as error:
        moved = _move(
            session,
            transaction_id=transaction_id,
            expected=(MatchState.NEW,),
            actor=actor,
            state=MatchState.UNMATCHED,
            reason=f"Not booked automatically: {error}",
        )
        return MatchState.UNMATCHED if moved else None


def _stage(
    session: Session,
    *,
    tx: Row,
    entry: BankStatementEntry,
    match: Match,
    reads: BatchReads,
) -> StagedPayment:
    """``_book`` for a batch: the transfer checked and put on its invoices in memory."""
    reads.lock([invoice_id for invoice_id, _ in match.allocations])
    return stage_received_payment(
        session,
        customer_id=match.customer_id,
        method=LedgerSource.BANK_STATEMENT,
        received_on=entry.booking_date or entry.value_date,
        amount=tx.amount_minor,
        currency=entry.currency,
        payer=tx.counterparty_name[:200],
        bank_reference=(entry.bank_reference or tx.bank_reference or tx.end_to_end_id)[:140],
        note=match.reason[:1000],
        allocations=match.allocations,
        locked=reads.locked,
        today=reads.today,
    )


def _write_batch(
    session: Session,
    *,
    actor: str,
    decided: Sequence[tuple[Row, Match, StagedPayment | None]],
) -> None:
    """The batch's payments, ledger entries, transaction states and audit rows, a few
    statements in all."""
    if not decided:
        return
    write_received_payments(
        session, actor=actor, staged=[payment for _, _, payment in decided if payment]
    )
    table = BankStatementTransaction.__table__
    now = utcnow()
    moved = session.execute(
        update(table)
        .where(
            table.c.id == bindparam("tx_id"),
            table.c.match_state == MatchState.NEW,
        )
        .values(
            match_state=bindparam("state"),
            match_reason=bindparam("reason"),
            match_customer_id=bindparam("customer_id"),
            match_allocations=bindparam("allocations"),
            received_payment_id=bindparam("payment_id"),
            matched_by=actor[:64],
            matched_at=now,
        ),
        [
            {
                "tx_id": tx.id,
                "state": match.state,
                "reason": match.reason[:500],
                "customer_id": match.customer_id,
                "allocations": [list(pair) for pair in match.allocations],
                "payment_id": payment.received_payment_id if payment else None,
            }
            for tx, match, payment in decided
        ],
    ).rowcount
    if moved != len(decided):  # they are locked: only a bug gets here; roll the batch back
        raise RuntimeError("a locked statement transaction moved during its match")
    record_audits(
        session,
        [
            audit_row(
                actor=actor,
                action="bank_statement.match",
                entity_type="bank_statement_transaction",
                entity_id=tx.id,
                details={"state": match.state},
                at=now,
            )
            for tx, match, _ in decided
        ],
    )


@contextmanager
def _collector_spares_what_exists() -> Iterator[None]:
    """Python's cyclic garbage collector walks every object it tracks on each full
    collection. An import allocates enough to run many of them over the hundreds of
    thousands of objects the process already holds (its modules, the ORM's mappings),
    about a sixth of the import's time: those are set aside (``gc.freeze``) meanwhile.
    What the import leaves as garbage is collected as before; the rest afterwards."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def import_and_match(
    *, actor: str, filename: str, content: bytes
) -> tuple[ImportReport, MatchSummary]:
    """Imports a statement file (all or nothing) and, in the same transaction, explains
    the EveryPay payouts on it; then matches the customers' transfers it brought."""
    with _collector_spares_what_exists():
        return _import_and_match(actor=actor, filename=filename, content=content)


def _import_and_match(
    *, actor: str, filename: str, content: bytes
) -> tuple[ImportReport, MatchSummary]:
    with write_session() as session:
        require_permission(session, actor=actor, permission="edit")
        report = import_statement(session, actor=actor, filename=filename, content=content)
        payouts = tuple(
            payout.line()
            for result in report.statements
            for payout in explain_payouts(session, statement_id=result.bank_statement_id)
        )
    summary = run_matching(actor=actor)
    summary.payouts = payouts
    return report, summary


# --- What a person does ---------------------------------------------------------------------


def _refused(tx: BankStatementTransaction) -> ValidationError:
    return ValidationError(
        "This transaction is {state} now (someone else acted on it); reload the list.",
        state=MATCH_STATE_LABELS.get(tx.match_state, tx.match_state).lower(),
    )


def accept_suggestion(session: Session, *, actor: str, transaction_id: int) -> str:
    """Books a suggested match as suggested; returns what was done, for the page."""
    require_permission(session, actor=actor, permission="edit")
    tx, entry = _load(session, transaction_id)
    if tx.match_state != MatchState.SUGGESTED or tx.match_customer_id is None:
        raise _refused(tx)
    reason = f"Suggestion accepted: {tx.match_reason}"
    allocations = [(invoice_id, minor) for invoice_id, minor in tx.match_allocations]
    customer_id = tx.match_customer_id
    if not _move(
        session,
        transaction_id=tx.id,
        expected=(MatchState.SUGGESTED,),
        actor=actor,
        state=MatchState.BOOKED_MANUAL,
        reason=reason,
        customer_id=customer_id,
        allocations=allocations,
    ):
        raise _refused(tx)
    payment_id = None
    if entry.direction == CREDIT:
        payment_id = _book(
            session,
            actor=actor,
            tx=tx,
            entry=entry,
            customer_id=customer_id,
            allocations=allocations,
            note=reason,
        )
        done = f"Booked {_money(tx.amount_minor, entry.currency)} as suggested."
    else:
        refund_customer_credit(
            session,
            actor=actor,
            customer_id=customer_id,
            currency=entry.currency,
            amount=tx.amount_minor,
            paid_on=entry.booking_date or entry.value_date,
            note=reason[:500],
        )
        done = f"Recorded {_money(tx.amount_minor, entry.currency)} of credit paid back."
    session.exec(
        update(BankStatementTransaction)
        .where(col(BankStatementTransaction.id) == tx.id)
        .values(received_payment_id=payment_id)
    )
    _audit(session, actor=actor, action="bank_statement.accept", tx_id=tx.id)
    return done


MANUAL_FROM = (MatchState.NEW, MatchState.SUGGESTED, MatchState.UNMATCHED)


def match_by_hand(
    session: Session,
    *,
    actor: str,
    transaction_id: int,
    customer_id: int | None,
    allocations: Sequence[tuple[int, str | int]] = (),
) -> str:
    """Books a transfer on the invoices a person chose (split as allocated; without
    allocations, the customer's oldest-due invoices first)."""
    require_permission(session, actor=actor, permission="edit")
    tx, entry = _load(session, transaction_id)
    if tx.match_state not in MANUAL_FROM:
        raise _refused(tx)
    if entry.direction != CREDIT:
        raise ValidationError("Money going out is not booked on invoices.")
    customer = session.get(Customer, customer_id) if customer_id is not None else None
    if customer is None:
        raise ValidationError("Choose the customer who paid.", field="customer")
    reason = f"Matched by hand to {customer.name}."
    if not _move(
        session,
        transaction_id=tx.id,
        expected=MANUAL_FROM,
        actor=actor,
        state=MatchState.BOOKED_MANUAL,
        reason=reason,
        customer_id=customer.id,
    ):
        raise _refused(tx)
    payment_id = _book(
        session,
        actor=actor,
        tx=tx,
        entry=entry,
        customer_id=customer.id,
        allocations=allocations,
        note=reason,
    )
    session.exec(
        update(BankStatementTransaction)
        .where(col(BankStatementTransaction.id) == tx.id)
        .values(received_payment_id=payment_id)
    )
    _audit(session, actor=actor, action="bank_statement.match_by_hand", tx_id=tx.id)
    return f"Booked {_money(tx.amount_minor, entry.currency)} for {customer.name}."


SET_ASIDE_FROM = (MatchState.NEW, MatchState.SUGGESTED, MatchState.UNMATCHED, MatchState.OUTGOING)


def mark_not_customer_payment(
    session: Session, *, actor: str, transaction_id: int, note: str
) -> str:
    """Sets a transaction aside as no customer's payment (a loan, a supplier's refund…)."""
    require_permission(session, actor=actor, permission="edit")
    note = note.strip()
    if not note:
        raise ValidationError("Write what the money is, so others can follow it.", field="note")
    if len(note) > 500:
        raise ValidationError("At most 500 characters, please.", field="note")
    tx, _ = _load(session, transaction_id)
    if not _move(
        session,
        transaction_id=tx.id,
        expected=SET_ASIDE_FROM,
        actor=actor,
        state=MatchState.NOT_CUSTOMER,
        reason=note,
    ):
        raise _refused(tx)
    _audit(session, actor=actor, action="bank_statement.not_customer", tx_id=tx.id, note=note)
    return "Marked as not a customer payment."


def undo_booking(session: Session, *, actor: str, transaction_id: int, reason: str) -> str:
    """Takes a statement booking back off its invoices, with the reason; the transaction
    goes back to Unmatched."""
    require_permission(session, actor=actor, permission="edit")
    reason = reason.strip()
    if not reason:
        raise ValidationError("Say why the booking is undone.", field="reason")
    tx, entry = _load(session, transaction_id)
    payment_id = tx.received_payment_id
    if payment_id is None or tx.match_state not in (
        MatchState.BOOKED_AUTO,
        MatchState.BOOKED_MANUAL,
    ):
        raise ValidationError("This transaction has no booking to undo.")
    if not _move(
        session,
        transaction_id=tx.id,
        expected=(MatchState.BOOKED_AUTO, MatchState.BOOKED_MANUAL),
        actor=actor,
        state=MatchState.UNMATCHED,
        reason=f"Booking undone by {actor}: {reason}",
    ):
        raise _refused(tx)
    payment = session.get(ReceivedPayment, payment_id)
    # Reversed already on the Payments page: only the statement's side is left to undo.
    if payment is not None and payment.reversed_at is None:
        reverse_received_payment(
            session, actor=actor, received_payment_id=payment_id, reason=reason
        )
    _audit(session, actor=actor, action="bank_statement.undo", tx_id=tx.id, reason=reason)
    return f"Booking of {_money(tx.amount_minor, entry.currency)} undone; back to Unmatched."
