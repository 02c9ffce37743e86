"""Payments → Payments: LinkPay attempts and payments recorded by hand in one list, and
what recording or reversing a payment needs (open invoices, a suggested allocation)."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import (
    Integer,
    Row,
    Select,
    String,
    case,
    cast,
    func,
    literal_column,
    null,
    or_,
    select,
    union_all,
)

from shared.channels import channel_display_name
from shared.company import to_local
from shared.db import read_session
from shared.exports import Column, Table
from shared.ledger.received import (
    METHOD_LABELS,
    RECORDED_METHODS,
    SOURCE_LABELS,
    OpenInvoice,
    open_invoices,
    suggest_allocation,
)
from shared.models import (
    BankAccount,
    Customer,
    Invoice,
    LedgerEntry,
    LedgerSource,
    PaymentAttempt,
    PaymentChannel,
    ReceivedPayment,
)
from shared.payment_methods import payment_method_label
from shared.states import PAYMENT_STATE_LABELS, RECEIVED_STATE_LABELS
from shared.text import search_text
from shared.views.common import (
    Window,
    contains,
    count,
    dialect_name,
    label,
    local_days,
    money,
    name_contains,
    page,
    starts_with,
    stream,
)

ATTEMPT_COLUMNS = (
    Column("created", "Created", "datetime"),
    Column("updated", "Updated", "datetime"),
    Column("invoice", "Invoice"),
    Column("customer", "Customer"),
    Column("channel", "Channel"),
    Column("state", "State"),
    Column("method", "Method"),
    Column("card", "Card"),
    Column("amount", "Amount", "money"),
    Column("standing", "Standing amount", "money"),
    Column("booked", "Booked", "money"),
    Column("currency", "Currency"),
    Column("reference", "Payment reference"),
)
PAYMENT_COLUMNS = (
    *ATTEMPT_COLUMNS[:4],
    Column("source", "Source"),
    *ATTEMPT_COLUMNS[4:],
)
PAYMENT_SOURCES = (LedgerSource.LINKPAY, *METHOD_LABELS, LedgerSource.BANK_STATEMENT)


class AttemptRow(NamedTuple):
    created: datetime | None
    updated: datetime | None
    invoice: str
    customer: str
    channel: str
    state: str
    method: str
    card: str
    amount: Decimal | None
    standing: Decimal | None
    booked: Decimal | None
    currency: str
    reference: str


class PaymentRow(NamedTuple):
    created: datetime | None
    updated: datetime | None
    invoice: str
    customer: str
    source: str
    channel: str
    state: str
    method: str
    card: str
    amount: Decimal | None
    standing: Decimal | None
    booked: Decimal | None
    currency: str
    reference: str


class PaymentOption(NamedTuple):
    """A recorded payment in a picker; the page writes its label in the reader's language."""

    id: int
    received_on: date
    method: str  # a LedgerSource value, METHOD_LABELS' key
    amount_minor: int
    currency: str
    customer: str
    bank_reference: str


@dataclass(frozen=True)
class PaymentFilter:
    states: tuple[str, ...] = ()
    channel_id: int | None = None
    invoice_id: int | None = None
    date_from: date | None = None  # created, local days
    date_to: date | None = None
    reference: str = ""  # start of the order reference (invoice number) or payment reference
    sources: tuple[str, ...] = ()  # LedgerSource values: LinkPay and the ways money is recorded


def _attempt_conditions(flt: PaymentFilter, *, tz: str, dialect: str) -> list:
    conditions: list = []
    if flt.states:
        conditions.append(PaymentAttempt.state.in_(flt.states))
    if flt.channel_id is not None:
        conditions.append(PaymentAttempt.channel_id == flt.channel_id)
    if flt.invoice_id is not None:
        conditions.append(PaymentAttempt.invoice_id == flt.invoice_id)
    conditions += local_days(PaymentAttempt.created_at, flt.date_from, flt.date_to, tz)
    reference = search_text(flt.reference)
    if reference:
        conditions.append(
            or_(
                starts_with(PaymentAttempt.order_reference, reference.upper(), dialect),
                starts_with(PaymentAttempt.payment_reference, reference.lower(), dialect),
            )
        )
    return conditions


def _card(brand: str | None, last4: str | None) -> str:
    if not last4:
        return brand or ""
    return f"{brand or 'Card'} •••• {last4}"


def attempt_row(row: Row, tz: str) -> AttemptRow:
    """A payment as the invoice page lists its attempts; the merged list adds the source."""
    return AttemptRow(
        created=to_local(row.created_at, tz),
        updated=to_local(row.updated_at, tz),
        invoice=row.invoice or "",
        customer=row.customer or "",
        channel=row.channel or "",
        state=label(PAYMENT_STATE_LABELS | RECEIVED_STATE_LABELS, row.state),
        method=payment_method_label(row.method),
        card=_card(row.card_brand, row.card_last4),
        amount=money(row.amount, row.currency),
        standing=money(row.standing, row.currency),
        booked=money(row.booked, row.currency),
        currency=row.currency,
        reference=row.reference,
    )


def attempt_select(flt: PaymentFilter, *, tz: str, dialect: str) -> Select:
    """LinkPay attempts, newest first, in the column order of the merged payments list."""
    return (
        select(
            literal_column("'linkpay'", String).label("source"),
            PaymentAttempt.id.label("id"),
            PaymentAttempt.created_at.label("created_at"),
            PaymentAttempt.updated_at.label("updated_at"),
            Invoice.number.label("invoice"),
            literal_column("1", Integer).label("invoices"),
            Customer.name.label("customer"),
            channel_display_name().label("channel"),
            PaymentAttempt.state.label("state"),
            PaymentAttempt.payment_method.label("method"),
            PaymentAttempt.card_brand.label("card_brand"),
            PaymentAttempt.card_last4.label("card_last4"),
            PaymentAttempt.initial_amount_minor.label("amount"),
            PaymentAttempt.standing_amount_minor.label("standing"),
            PaymentAttempt.booked_minor.label("booked"),
            PaymentAttempt.currency.label("currency"),
            PaymentAttempt.payment_reference.label("reference"),
        )
        .outerjoin(Invoice, Invoice.id == PaymentAttempt.invoice_id)
        .outerjoin(Customer, Customer.id == Invoice.customer_id)
        .outerjoin(PaymentChannel, PaymentChannel.id == PaymentAttempt.channel_id)
        .outerjoin(BankAccount, BankAccount.id == PaymentChannel.bank_account_id)
        .where(*_attempt_conditions(flt, tz=tz, dialect=dialect))
        .order_by(PaymentAttempt.created_at.desc(), PaymentAttempt.id.desc())
    )


def _allocated(*columns) -> Select:
    """The received payment's own entries (its reversal's left out), for a subquery
    correlated with the outer query's payment."""
    return (
        select(*columns)
        .where(
            LedgerEntry.received_payment_id == ReceivedPayment.id,
            LedgerEntry.reverses_entry_id.is_(None),
        )
        .correlate(ReceivedPayment)
    )


def _received_conditions(flt: PaymentFilter, *, tz: str, dialect: str) -> list | None:
    """Conditions on received payments, or None when the filter leaves none of them in (a
    channel, a LinkPay state, or only LinkPay as source)."""
    methods = [source for source in flt.sources if source in RECORDED_METHODS]
    if flt.channel_id is not None or (flt.sources and not methods):
        return None
    conditions: list = [ReceivedPayment.method.in_(methods)] if methods else []
    if flt.states:
        wanted = set(flt.states) & set(RECEIVED_STATE_LABELS)
        if not wanted:
            return None
        if wanted == {"received"}:
            conditions.append(ReceivedPayment.reversed_at.is_(None))
        elif wanted == {"reversed"}:
            conditions.append(ReceivedPayment.reversed_at.is_not(None))
    if flt.invoice_id is not None:
        conditions.append(
            _allocated(LedgerEntry.id).where(LedgerEntry.invoice_id == flt.invoice_id).exists()
        )
    conditions += local_days(ReceivedPayment.created_at, flt.date_from, flt.date_to, tz)
    reference = search_text(flt.reference)
    if reference:
        numbers = select(Invoice.id).where(starts_with(Invoice.number, reference.upper(), dialect))
        conditions.append(
            or_(
                starts_with(ReceivedPayment.bank_reference, reference, dialect),
                _allocated(LedgerEntry.id).where(LedgerEntry.invoice_id.in_(numbers)).exists(),
            )
        )
    return conditions


def _received_branch(conditions: list) -> Select:
    """Payments finance recorded, in the merged list's column order: the first invoice
    they pay and how many, and nothing left of them once reversed."""
    first_invoice = (
        _allocated(func.min(Invoice.number))
        .join_from(LedgerEntry, Invoice, Invoice.id == LedgerEntry.invoice_id)
        .scalar_subquery()
    )
    paid_invoices = _allocated(func.count(LedgerEntry.id)).scalar_subquery()
    kept = case((ReceivedPayment.reversed_at.is_(None), ReceivedPayment.amount_minor), else_=0)
    return (
        select(
            ReceivedPayment.method.label("source"),
            ReceivedPayment.id.label("id"),
            ReceivedPayment.created_at.label("created_at"),
            func.coalesce(ReceivedPayment.reversed_at, ReceivedPayment.created_at).label(
                "updated_at"
            ),
            first_invoice.label("invoice"),
            paid_invoices.label("invoices"),
            Customer.name.label("customer"),
            cast(null(), String).label("channel"),
            case((ReceivedPayment.reversed_at.is_(None), "received"), else_="reversed").label(
                "state"
            ),
            cast(null(), String).label("method"),
            cast(null(), String).label("card_brand"),
            cast(null(), String).label("card_last4"),
            ReceivedPayment.amount_minor.label("amount"),
            kept.label("standing"),
            kept.label("booked"),
            ReceivedPayment.currency.label("currency"),
            ReceivedPayment.bank_reference.label("reference"),
        )
        .join(Customer, Customer.id == ReceivedPayment.customer_id)
        .where(*conditions)
        .order_by(ReceivedPayment.created_at.desc(), ReceivedPayment.id.desc())
    )


def _payment_row(row: Row, tz: str) -> PaymentRow:
    """A row of the merged list: a payment paying several invoices names the lowest
    number and how many more."""
    attempt = attempt_row(row, tz)
    if row.invoices and row.invoices > 1:
        attempt = attempt._replace(invoice=f"{attempt.invoice} +{row.invoices - 1}")
    return PaymentRow(**attempt._asdict(), source=label(SOURCE_LABELS, row.source))


def _payment_branches(
    flt: PaymentFilter, *, tz: str, dialect: str
) -> list[tuple[Any, list, Select]]:
    """The lists the filter leaves in, each as (table, conditions, newest-first select)."""
    branches: list[tuple[Any, list, Select]] = []
    if not flt.sources or LedgerSource.LINKPAY in flt.sources:
        conditions = _attempt_conditions(flt, tz=tz, dialect=dialect)
        branches.append((PaymentAttempt, conditions, attempt_select(flt, tz=tz, dialect=dialect)))
    received = _received_conditions(flt, tz=tz, dialect=dialect)
    if received is not None:
        branches.append((ReceivedPayment, received, _received_branch(received)))
    return branches


def _merged(selects: list[Select]) -> Select:
    merged = union_all(*selects).subquery() if len(selects) > 1 else selects[0].subquery()
    return select(merged).order_by(merged.c.created_at.desc(), merged.c.source, merged.c.id.desc())


def payment_page(flt: PaymentFilter, *, tz: str, offset: int = 0, limit: int = 50) -> Table:
    """LinkPay attempts and payments recorded by hand, newest first, in one paged list.

    Each side is cut to the rows the page can need (its newest ``offset + limit``, read
    from its created-at index) before the two are merged, so a page never sorts either
    table whole. ``ids`` are attempt ids on LinkPay rows, received payment ids on the
    others (the Source column tells which)."""

    def query(session, dialect: str, window: Window):
        branches = _payment_branches(flt, tz=tz, dialect=dialect)
        if not branches:
            return 0, None
        total = sum(count(session, table, conditions) for table, conditions, _ in branches)
        cut = [
            select(branch.limit(window.offset + window.limit).subquery())
            for _, _, branch in branches
        ]
        return total, window.apply(_merged(cut))

    return page(
        PAYMENT_COLUMNS, query, lambda row: _payment_row(row, tz), offset=offset, limit=limit
    )


def payment_rows(flt: PaymentFilter, *, tz: str) -> Iterator[PaymentRow]:
    """Every row ``payment_page`` pages through, in its order, for an export."""
    branches = _payment_branches(flt, tz=tz, dialect=dialect_name())
    if not branches:
        return iter(())
    # SQLite takes no ORDER BY inside a UNION's parts; the merged list orders the whole.
    merged = _merged([branch.order_by(None) for _, _, branch in branches])
    return stream(merged, lambda row: _payment_row(row, tz))


def open_invoice_options(customer_id: int, currency: str) -> tuple[OpenInvoice, ...]:
    """The customer's invoices a payment or credit can go to, oldest due first."""
    with read_session() as session:
        return tuple(open_invoices(session, customer_id=customer_id, currency=currency))


def suggested_allocation(customer_id: int, currency: str, amount_minor: int) -> dict[int, int]:
    with read_session() as session:
        return dict(
            suggest_allocation(
                session, customer_id=customer_id, currency=currency, amount_minor=amount_minor
            )
        )


def reversible_payments(search: str = "", *, limit: int = 100) -> tuple[PaymentOption, ...]:
    """The newest payments recorded by hand and not reversed, for a picker;
    ``search`` narrows them to a customer name or a bank reference."""
    search = search_text(search)
    conditions = [ReceivedPayment.reversed_at.is_(None)]
    if search:
        conditions.append(
            or_(name_contains(search), contains(ReceivedPayment.bank_reference, search))
        )
    with read_session() as session:
        rows = session.execute(
            select(
                ReceivedPayment.id,
                ReceivedPayment.received_on,
                ReceivedPayment.method,
                ReceivedPayment.amount_minor,
                ReceivedPayment.currency,
                ReceivedPayment.bank_reference,
                Customer.name,
            )
            .join(Customer, Customer.id == ReceivedPayment.customer_id)
            .where(*conditions)
            .order_by(ReceivedPayment.created_at.desc(), ReceivedPayment.id.desc())
            .limit(limit)
        ).all()
    return tuple(
        PaymentOption(
            id=row.id,
            received_on=row.received_on,
            method=row.method,
            amount_minor=row.amount_minor,
            currency=row.currency,
            customer=row.name,
            bank_reference=row.bank_reference or "",
        )
        for row in rows
    )
