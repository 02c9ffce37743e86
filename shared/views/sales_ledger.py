"""Reports → Sales ledger and VAT summary: what the accountant books and files.

The sales ledger has one row per invoice and one per credit note issued in the period
(issue dates are the company's local days). Drafts have no number and never show. A
cancelled invoice shows with its number, its status and every amount zero: its number
was used, so the series stays gapless for the accountant, but it was never a sale (it can
only be cancelled while no money has moved on it), so it adds nothing to the sales, the
VAT or the open balance, and the VAT summary leaves it out. A credit note shows negative,
with the invoice it credits.

Net and VAT per rate follow ``shared.invoicing.vat_breakdown``: the lines' rounded net and
VAT summed per rate. ``build_lines`` stores each rate in that rule's normal form ("21",
"5", "0"), so the database groups and pivots by the stored text and rounds nothing. The 0 %
supplies are split by VAT category, as the VAT summary splits them, because the VAT return
has a line for each: zero-rated, exempt, reverse charge, intra-EU supply and export each
have a net column of their own (their VAT is nil). Paid and open are the ledger's columns on
the invoice, as of now.
"""

from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import (
    CTE,
    CompoundSelect,
    Row,
    Select,
    and_,
    case,
    func,
    literal,
    null,
    select,
    union_all,
)

from shared.company import local_today
from shared.db import read_session
from shared.exports import TOTAL_LABEL, Column, Table, with_totals
from shared.invoicing import is_overdue
from shared.models import (
    CreditNote,
    CreditNoteLine,
    Customer,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
)
from shared.money import from_minor
from shared.reports import period_start
from shared.states import INVOICE_STATUS_LABELS, OVERDUE
from shared.vat import VatCategory
from shared.vat import label as vat_label
from shared.views.common import Window, label, page, stream

INVOICE = "invoice"
CREDIT_NOTE = "credit_note"
DOCUMENT_TYPES = {INVOICE: "Invoice", CREDIT_NOTE: "Credit note"}
# Latvia's VAT rates, each with columns of its own so the file's shape never changes;
# any other rate (a foreign one, a rate changed by law) lands in "other rates".
LATVIAN_RATES = ("21", "12", "5", "0")
CHARGED_RATES = ("21", "12", "5")
OTHER = "other"
# The 0 % lines, one net column per VAT category a VAT return lists apart; "0" is
# zero-rated (Z) and whatever else is at 0 %, so the columns always add up to the total.
ZERO_RATE_CATEGORIES = {
    "exempt": VatCategory.EXEMPT,
    "reverse_charge": VatCategory.REVERSE_CHARGE,
    "intra_eu": VatCategory.INTRA_EU_SUPPLY,
    "export": VatCategory.EXPORT,
}
ZERO_RATE_KEYS = ("0", *ZERO_RATE_CATEGORIES)
# Every amount column a document's total is the sum of, in the file's order.
AMOUNT_KEYS = (
    *(f"{part}_{rate}" for rate in CHARGED_RATES for part in ("net", "vat")),
    *(f"net_{key}" for key in ZERO_RATE_KEYS),
    "net_other",
    "vat_other",
)
VAT_GRANULARITIES = ("month", "quarter")
ALL_RATES = "all rates"


def _amount_label(key: str) -> str:
    """ "Net 21 %", "VAT other rates", "Net 0 % Reverse charge (AE)"."""
    part, _, rate = key.partition("_")
    title = "Net" if part == "net" else "VAT"
    if rate == OTHER:
        return f"{title} other rates"
    if rate in ZERO_RATE_CATEGORIES:
        return f"{title} 0 % {vat_label(ZERO_RATE_CATEGORIES[rate])}"
    return f"{title} {rate} %"


SALES_LEDGER_COLUMNS = (
    Column("number", "Number"),
    Column("type", "Type"),
    Column("issue_date", "Issue date", "date"),
    Column("due_date", "Due date", "date"),
    Column("invoice", "Credits invoice"),
    Column("customer", "Customer"),
    Column("registration_number", "Registration no."),
    Column("vat_number", "VAT no."),
    Column("currency", "Currency"),
    *(Column(key, _amount_label(key), "money") for key in AMOUNT_KEYS),
    Column("total", "Total", "money"),
    Column("paid", "Paid", "money"),
    Column("open", "Open balance", "money"),
    Column("status", "Status"),
)


class SalesLedgerRow(NamedTuple):
    number: str
    type: str
    issue_date: date
    due_date: date | None
    invoice: str  # the credited invoice's number; empty on an invoice's own row
    customer: str
    registration_number: str
    vat_number: str
    currency: str
    net_21: Decimal
    vat_21: Decimal
    net_12: Decimal
    vat_12: Decimal
    net_5: Decimal
    vat_5: Decimal
    net_0: Decimal  # zero-rated (Z)
    net_exempt: Decimal
    net_reverse_charge: Decimal
    net_intra_eu: Decimal
    net_export: Decimal
    net_other: Decimal
    vat_other: Decimal
    total: Decimal
    paid: Decimal | None  # a credit note's payments and balance are its invoice's
    open: Decimal | None
    status: str


VAT_SUMMARY_COLUMNS = (
    Column("period", "Period"),
    Column("currency", "Currency"),
    Column("vat_rate", "VAT rate"),
    Column("net", "Net sales", "money"),
    Column("vat", "VAT", "money"),
    Column("credit_net", "Credit notes net", "money"),
    Column("credit_vat", "Credit notes VAT", "money"),
    Column("net_after", "Net after credit notes", "money"),
    Column("vat_after", "VAT after credit notes", "money"),
    Column("documents", "Documents", "int"),
)


class VatSummaryRow(NamedTuple):
    period: str
    currency: str
    vat_rate: str
    net: Decimal | None
    vat: Decimal | None
    credit_net: Decimal | None
    credit_vat: Decimal | None
    net_after: Decimal | None
    vat_after: Decimal | None
    documents: int | None  # none on a totals row: a document may have several rates


def _issued_invoices(date_from: date, date_to: date) -> Select:
    return select(
        literal(INVOICE).label("kind"),
        Invoice.id.label("doc_id"),
        Invoice.id.label("id"),
        Invoice.number.label("number"),
        Invoice.issue_date.label("issue_date"),
        Invoice.due_date.label("due_date"),
        null().label("invoice_number"),
        Invoice.customer_id.label("customer_id"),
        Invoice.currency.label("currency"),
        Invoice.status.label("status"),
        Invoice.total_minor.label("total"),
        Invoice.paid_minor.label("paid"),
        Invoice.open_minor.label("open"),
    ).where(
        Invoice.issue_date >= date_from,
        Invoice.issue_date <= date_to,
        Invoice.status != InvoiceStatus.DRAFT,
        Invoice.number.is_not(None),
    )


def _issued_credit_notes(date_from: date, date_to: date) -> Select:
    credited = Invoice.__table__.alias("credited")
    return (
        select(
            literal(CREDIT_NOTE).label("kind"),
            CreditNote.id.label("doc_id"),
            # The row's id is the credited invoice's: that is where the credit note is seen.
            CreditNote.invoice_id.label("id"),
            CreditNote.number.label("number"),
            CreditNote.issue_date.label("issue_date"),
            null().label("due_date"),
            credited.c.number.label("invoice_number"),
            CreditNote.customer_id.label("customer_id"),
            CreditNote.currency.label("currency"),
            CreditNote.status.label("status"),
            (-CreditNote.total_minor).label("total"),
            null().label("paid"),
            null().label("open"),
        )
        .join(credited, credited.c.id == CreditNote.invoice_id)
        .where(CreditNote.issue_date >= date_from, CreditNote.issue_date <= date_to)
    )


def _documents(date_from: date, date_to: date) -> CompoundSelect:
    return union_all(_issued_invoices(date_from, date_to), _issued_credit_notes(date_from, date_to))


def _document_order(documents) -> list:
    return [documents.c.issue_date, documents.c.kind.desc(), documents.c.number, documents.c.doc_id]


def _rate_sums(documents: CTE):
    """Net and VAT per rate column for each document in ``documents``, credit notes
    negative."""
    parts = []
    for kind, line, doc_column, sign in (
        (INVOICE, InvoiceLine, InvoiceLine.invoice_id, 1),
        (CREDIT_NOTE, CreditNoteLine, CreditNoteLine.credit_note_id, -1),
    ):
        wanted = select(documents.c.doc_id).where(documents.c.kind == kind)
        at_zero = line.vat_rate == "0"
        matching = {
            **{rate: line.vat_rate == rate for rate in CHARGED_RATES},
            "0": and_(at_zero, line.vat_category.not_in(ZERO_RATE_CATEGORIES.values())),
            **{
                key: and_(at_zero, line.vat_category == category)
                for key, category in ZERO_RATE_CATEGORIES.items()
            },
            OTHER: line.vat_rate.not_in(LATVIAN_RATES),
        }
        sums = []
        for key in AMOUNT_KEYS:
            part, _, rate = key.partition("_")
            amount = line.net_minor if part == "net" else line.vat_minor
            sums.append(func.sum(case((matching[rate], sign * amount), else_=0)).label(key))
        parts.append(
            select(literal(kind).label("kind"), doc_column.label("doc_id"), *sums)
            .where(doc_column.in_(wanted))
            .group_by(doc_column)
        )
    return union_all(*parts).subquery("rate_sums")


def _ledger_select(documents: CTE) -> Select:
    sums = _rate_sums(documents)
    return (
        select(
            documents,
            Customer.name.label("customer"),
            Customer.registration_number,
            Customer.vat_number,
            *(sums.c[key] for key in AMOUNT_KEYS),
        )
        .join(Customer, Customer.id == documents.c.customer_id)
        .outerjoin(sums, and_(sums.c.kind == documents.c.kind, sums.c.doc_id == documents.c.doc_id))
        .order_by(*_document_order(documents))
    )


def _ledger_row(today: date):
    def convert(row: Row) -> SalesLedgerRow:
        currency = row.currency
        # A cancelled invoice was never a sale: every amount of it reads zero.
        cancelled = row.kind == INVOICE and row.status == InvoiceStatus.CANCELLED

        def amount(minor: int | None) -> Decimal:
            return from_minor(0 if cancelled else minor or 0, currency)

        def balance(minor: int | None) -> Decimal | None:
            return None if minor is None else amount(minor)

        if row.kind == INVOICE:
            overdue = is_overdue(status=row.status, due_date=row.due_date, today=today)
            status = label(INVOICE_STATUS_LABELS, OVERDUE if overdue else row.status)
        else:
            status = "Issued"
        return SalesLedgerRow(
            number=row.number,
            type=DOCUMENT_TYPES[row.kind],
            issue_date=row.issue_date,
            due_date=row.due_date,
            invoice=row.invoice_number or "",
            customer=row.customer,
            registration_number=row.registration_number,
            vat_number=row.vat_number,
            currency=currency,
            **{key: amount(getattr(row, key)) for key in AMOUNT_KEYS},
            total=amount(row.total),
            paid=balance(row.paid),
            open=balance(row.open),
            status=status,
        )

    return convert


def sales_ledger(
    *, date_from: date, date_to: date, tz: str, offset: int = 0, limit: int = 50
) -> Table:
    """One page of the sales ledger for local days date_from..date_to, oldest first; each
    row's id is its invoice's (the credited one for a credit note). ``tz`` gives today,
    against which a shown status reads "Overdue"."""
    documents = _documents(date_from, date_to).subquery("documents")

    def query(session, dialect: str, window: Window):
        total = session.execute(select(func.count()).select_from(documents)).scalar_one()
        # Only the page's documents have their lines summed.
        page_documents = window.apply(select(documents).order_by(*_document_order(documents))).cte(
            "page_documents"
        )
        return total, _ledger_select(page_documents)

    return page(
        SALES_LEDGER_COLUMNS,
        query,
        _ledger_row(local_today(tz)),
        offset=offset,
        limit=limit,
    )


def sales_ledger_rows(*, date_from: date, date_to: date, tz: str) -> Iterator[SalesLedgerRow]:
    """Every row of the sales ledger, in the page's order, streamed."""
    documents = _documents(date_from, date_to).cte("documents")
    return stream(_ledger_select(documents), _ledger_row(local_today(tz)))


def sales_ledger_export(*, date_from: date, date_to: date, tz: str) -> Iterator[tuple]:
    """The ledger as its files hold it: every row, then a totals row per currency."""
    rows = sales_ledger_rows(date_from=date_from, date_to=date_to, tz=tz)
    return with_totals(SALES_LEDGER_COLUMNS, rows)


# --- VAT summary --------------------------------------------------------------------------


def _period_label(day: date, granularity: str) -> str:
    if granularity == "quarter":
        return f"{day.year} Q{(day.month - 1) // 3 + 1}"
    return f"{day:%Y-%m}"


def _daily_rate_totals(session, date_from: date, date_to: date) -> list[Row]:
    """Per issue day, currency, rate, VAT category and kind: net, VAT and the number of
    documents.
    A day's grain keeps the result small (days × rates) whatever the number of invoices,
    and lets any period be summed from it."""
    invoices = (
        select(
            literal(INVOICE).label("kind"),
            Invoice.issue_date.label("day"),
            Invoice.currency.label("currency"),
            InvoiceLine.vat_rate.label("rate"),
            InvoiceLine.vat_category.label("category"),
            func.sum(InvoiceLine.net_minor).label("net"),
            func.sum(InvoiceLine.vat_minor).label("vat"),
            func.count(func.distinct(Invoice.id)).label("documents"),
        )
        .join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .where(
            Invoice.issue_date >= date_from,
            Invoice.issue_date <= date_to,
            Invoice.number.is_not(None),
            Invoice.status.not_in((InvoiceStatus.DRAFT, InvoiceStatus.CANCELLED)),
        )
        .group_by(
            Invoice.issue_date, Invoice.currency, InvoiceLine.vat_rate, InvoiceLine.vat_category
        )
    )
    notes = (
        select(
            literal(CREDIT_NOTE).label("kind"),
            CreditNote.issue_date.label("day"),
            CreditNote.currency.label("currency"),
            CreditNoteLine.vat_rate.label("rate"),
            CreditNoteLine.vat_category.label("category"),
            func.sum(-CreditNoteLine.net_minor).label("net"),
            func.sum(-CreditNoteLine.vat_minor).label("vat"),
            func.count(func.distinct(CreditNote.id)).label("documents"),
        )
        .join(CreditNoteLine, CreditNoteLine.credit_note_id == CreditNote.id)
        .where(CreditNote.issue_date >= date_from, CreditNote.issue_date <= date_to)
        .group_by(
            CreditNote.issue_date,
            CreditNote.currency,
            CreditNoteLine.vat_rate,
            CreditNoteLine.vat_category,
        )
    )
    return session.execute(union_all(invoices, notes)).all()


def vat_summary(*, date_from: date, date_to: date, tz: str, granularity: str = "month") -> Table:
    """Sales and credit notes per period (month or quarter), currency and VAT rate, for
    issue dates date_from..date_to, with a totals row per currency. ``tz`` is taken like
    the other period reports'; issue dates are already the company's local days. The 0 %
    supplies a VAT return reports apart (exempt, reverse charge, intra-EU supply, export)
    have rows of their own, named by their category."""
    if granularity not in VAT_GRANULARITIES:
        raise ValueError(f"VAT is summed per month or quarter, not per {granularity}")
    with read_session() as session:
        days = _daily_rate_totals(session, date_from, date_to)
        documents = _documents_per_currency(session, date_from, date_to)
    # (period start, currency, rate, category) -> [net, VAT, credit net, credit VAT, documents]
    totals: dict[tuple[date, str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for day in days:
        key = (period_start(day.day, granularity), day.currency, day.rate, day.category)
        figures = totals[key]
        offset = 0 if day.kind == INVOICE else 2
        figures[offset] += day.net
        figures[offset + 1] += day.vat
        figures[4] += day.documents
    rows = []
    for (start, currency, rate, category), figures in sorted(
        totals.items(), key=lambda item: (item[0][0], item[0][1], -Decimal(item[0][2]), item[0][3])
    ):
        net, vat, credit_net, credit_vat, count = figures
        rows.append(
            VatSummaryRow(
                period=_period_label(start, granularity),
                currency=currency,
                vat_rate=_rate_label(rate, category),
                net=from_minor(net, currency),
                vat=from_minor(vat, currency),
                credit_net=from_minor(credit_net, currency),
                credit_vat=from_minor(credit_vat, currency),
                net_after=from_minor(net + credit_net, currency),
                vat_after=from_minor(vat + credit_vat, currency),
                documents=count,
            )
        )
    table_rows = tuple(
        _filled_totals(VatSummaryRow(*row), documents)
        for row in with_totals(VAT_SUMMARY_COLUMNS, rows)
    )
    return Table(VAT_SUMMARY_COLUMNS, table_rows, total=len(table_rows))


def _rate_label(rate: str, category: str) -> str:
    """The row's rate: "21 %"; "0 %" when zero-rated; "0 % Reverse charge (AE)" for a
    category a VAT return lists apart."""
    if category in (VatCategory.STANDARD, VatCategory.ZERO_RATED):
        return f"{rate} %"
    return f"{rate} % {vat_label(VatCategory(category))}"


def _filled_totals(row: VatSummaryRow, documents: dict[str, int]) -> VatSummaryRow:
    """A totals row names its rates and counts each document once (a document with two
    rates stands in two rows above), so no cell of it reads as missing."""
    if row.period != TOTAL_LABEL:
        return row
    return row._replace(vat_rate=ALL_RATES, documents=documents.get(row.currency, 0))


def _documents_per_currency(session, date_from: date, date_to: date) -> dict[str, int]:
    invoices = (
        select(Invoice.currency, func.count())
        .where(
            Invoice.issue_date >= date_from,
            Invoice.issue_date <= date_to,
            Invoice.number.is_not(None),
            Invoice.status.not_in((InvoiceStatus.DRAFT, InvoiceStatus.CANCELLED)),
        )
        .group_by(Invoice.currency)
    )
    notes = (
        select(CreditNote.currency, func.count())
        .where(CreditNote.issue_date >= date_from, CreditNote.issue_date <= date_to)
        .group_by(CreditNote.currency)
    )
    counted: dict[str, int] = defaultdict(int)
    for currency, count in [*session.execute(invoices).all(), *session.execute(notes).all()]:
        counted[currency] += count
    return counted
