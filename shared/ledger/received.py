"""Money received outside LinkPay, and the customer credit it can leave behind.

Finance records a bank transfer, cash or set-off against one or more of the customer's
invoices; a payment larger than what it is allocated to leaves the rest on the last
allocated invoice, whose open balance goes below zero: that is the customer's credit.
Credit can later be moved to another open invoice or marked as paid back. Every movement
goes through ``post_entry``, with the invoices locked in ascending id order (the order
every other writer of several invoices uses), so concurrent actions wait for each other
instead of deadlocking or spending the same credit twice.
"""

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from shared.audit import audit_row, record_audit, record_audits
from shared.company import company_settings, local_today
from shared.errors import ValidationError, on_field
from shared.invoicing import OPEN_STATUSES, lock_invoice
from shared.ledger.posting import (
    POSTABLE_STATUSES,
    StagedEntry,
    post_entry,
    stage_entry,
    write_staged,
)
from shared.models import (
    Customer,
    Invoice,
    LedgerEntry,
    LedgerEntryKind,
    LedgerSource,
    ReceivedPayment,
    utcnow,
)
from shared.money import SUPPORTED_CURRENCIES, MoneyError, format_money, parse_amount_minor
from shared.users import require_permission

METHOD_LABELS = {
    LedgerSource.BANK_TRANSFER: "Bank transfer",
    LedgerSource.CASH: "Cash",
    LedgerSource.SET_OFF: "Set-off",
}
# What a payment can be recorded as: the methods finance picks from, and the bank statement,
# whose transactions shared.bank.matching books (never offered in the form).
RECORDED_METHODS = frozenset({*METHOD_LABELS, LedgerSource.BANK_STATEMENT})
SOURCE_LABELS = {
    LedgerSource.LINKPAY: "LinkPay",
    **METHOD_LABELS,
    LedgerSource.BANK_STATEMENT: "Bank statement",
    LedgerSource.CUSTOMER_CREDIT: "Customer credit",
    LedgerSource.CREDIT_NOTE: "Credit note",
    LedgerSource.REFUND: "Refund",
    LedgerSource.CHARGEBACK: "Chargeback",
    LedgerSource.REVERSAL: "Reversal",
}
KIND_LABELS = {
    LedgerEntryKind.PAYMENT: "Payment",
    LedgerEntryKind.CREDIT_NOTE: "Credit note",
    LedgerEntryKind.MONEY_BACK: "Money back",
}
# The longest texts a received payment keeps (the table's own limits).
_TEXT_LIMITS = {"payer": 200, "bank_reference": 140, "note": 1000}


@dataclass(frozen=True)
class OpenInvoice:
    id: int
    number: str
    due_date: date | None
    open_minor: int
    currency: str


@dataclass(frozen=True)
class Booking:
    """What one action moved on one invoice."""

    invoice_id: int
    number: str
    amount_minor: int


@dataclass(frozen=True)
class LedgerResult:
    """What an action booked, in plain values a page can show after the session closed."""

    currency: str
    bookings: tuple[Booking, ...]
    credit_minor: int = 0  # customer credit the action created
    received_payment_id: int | None = None

    @property
    def total_minor(self) -> int:
        return sum(booking.amount_minor for booking in self.bookings)

    def describe(self) -> str:
        parts = ", ".join(
            f"{format_money(b.amount_minor, self.currency)} on {b.number}" for b in self.bookings
        )
        if self.credit_minor:
            parts += f" ({format_money(self.credit_minor, self.currency)} customer credit)"
        return parts


@dataclass(frozen=True)
class EntryView:
    """One ledger entry as the invoice page lists it."""

    id: int
    booked_at: datetime
    value_date: date
    kind: str
    source: str
    amount_minor: int
    currency: str
    reference: str
    actor: str
    note: str
    received_payment_id: int | None


# --- Reading -----------------------------------------------------------------------------


def open_invoices(
    session: Session, *, customer_id: int, currency: str, limit: int = 50
) -> list[OpenInvoice]:
    """The customer's invoices still asking for money in ``currency``, oldest due first
    (undated ones last): the order a payment without allocation settles them in."""
    rows = session.exec(
        select(Invoice)
        .where(
            col(Invoice.customer_id) == customer_id,
            col(Invoice.currency) == currency,
            col(Invoice.status).in_(OPEN_STATUSES),
            col(Invoice.open_minor) > 0,
        )
        .order_by(col(Invoice.due_date).is_(None), col(Invoice.due_date), col(Invoice.id))
        .limit(limit)
    ).all()
    return [
        OpenInvoice(
            id=invoice.id,
            number=invoice.number or "",
            due_date=invoice.due_date,
            open_minor=invoice.open_minor,
            currency=invoice.currency,
        )
        for invoice in rows
    ]


def suggest_allocation(
    session: Session, *, customer_id: int, currency: str, amount_minor: int
) -> list[tuple[int, int]]:
    """(invoice id, minor) pairs settling the oldest-due open invoices first with
    ``amount_minor``; the last one takes what is left over, which becomes credit."""
    candidates = open_invoices(session, customer_id=customer_id, currency=currency)
    allocation: list[tuple[int, int]] = []
    left = amount_minor
    for invoice in candidates:
        if left <= 0:
            break
        share = min(left, invoice.open_minor)
        allocation.append((invoice.id, share))
        left -= share
    if allocation and left > 0:
        last_id, last_share = allocation[-1]
        allocation[-1] = (last_id, last_share + left)
    return allocation


def customer_credit(session: Session, *, customer_id: int) -> dict[str, int]:
    """The customer's credit per currency: what its invoices hold below zero."""
    rows = session.exec(
        select(Invoice.currency, func.sum(-col(Invoice.open_minor)))
        .where(col(Invoice.customer_id) == customer_id, col(Invoice.open_minor) < 0)
        .group_by(col(Invoice.currency))
        .order_by(col(Invoice.currency))
    ).all()
    return {currency: int(amount) for currency, amount in rows}


def invoice_entries(session: Session, *, invoice_id: int) -> list[EntryView]:
    """Every movement of the invoice's balance, oldest first."""
    entries = session.exec(
        select(LedgerEntry)
        .where(col(LedgerEntry.invoice_id) == invoice_id)
        .order_by(col(LedgerEntry.id))
    ).all()
    return [
        EntryView(
            id=entry.id,
            booked_at=entry.booked_at,
            value_date=entry.value_date,
            kind=entry.kind,
            source=entry.source,
            amount_minor=entry.amount_minor,
            currency=entry.currency,
            reference=entry.reference,
            actor=entry.actor,
            note=entry.note,
            received_payment_id=entry.received_payment_id,
        )
        for entry in entries
    ]


# --- Recording a payment ------------------------------------------------------------------


def record_received_payment(
    session: Session,
    *,
    actor: str,
    customer_id: int | None,
    method: str,
    received_on: date | None,
    amount: str | int,
    currency: str,
    payer: str = "",
    bank_reference: str = "",
    note: str = "",
    allocations: Sequence[tuple[int, str | int]] = (),
) -> LedgerResult:
    """Records money the customer paid outside LinkPay and books it on their invoices.

    ``amount`` is text as typed (or minor units); ``allocations`` are (invoice id, amount
    as text or minor units) pairs, rows left blank or at zero ignored. Without any, the
    oldest-due open invoices are settled first. What the allocations leave over is booked
    on the last allocated invoice and becomes the customer's credit.
    """
    require_permission(session, actor=actor, permission="edit")
    staged = stage_received_payment(
        session,
        customer_id=customer_id,
        method=method,
        received_on=received_on,
        amount=amount,
        currency=currency,
        payer=payer,
        bank_reference=bank_reference,
        note=note,
        allocations=allocations,
    )
    write_received_payments(session, actor=actor, staged=[staged])
    return staged.result()


@dataclass
class StagedPayment:
    """A received payment ``stage_received_payment`` checked and put on its (locked)
    invoices' totals; ``write_received_payments`` writes it."""

    values: dict
    entries: list[StagedEntry]
    bookings: tuple[Booking, ...]
    credit_minor: int
    received_payment_id: int | None = None

    def result(self) -> LedgerResult:
        return LedgerResult(
            currency=self.values["currency"],
            bookings=self.bookings,
            credit_minor=self.credit_minor,
            received_payment_id=self.received_payment_id,
        )


def stage_received_payment(
    session: Session,
    *,
    customer_id: int | None,
    method: str,
    received_on: date | None,
    amount: str | int,
    currency: str,
    payer: str = "",
    bank_reference: str = "",
    note: str = "",
    allocations: Sequence[tuple[int, str | int]] = (),
    locked: dict[int, Invoice] | None = None,
    today: date | None = None,
) -> StagedPayment:
    """``record_received_payment``'s checks and bookings, in memory (``shared.ledger.
    posting.stage_entry``): a bulk caller stages many, each seeing the totals the ones
    before it left, then writes them all with ``write_received_payments`` in the same
    transaction. ``locked`` holds invoices the caller locked already (ascending ids, in
    one statement); the others are locked here. ``today`` spares reading the company's
    time zone once per payment. The caller checked the actor's permission."""
    currency = (currency or "").strip().upper()
    if currency not in SUPPORTED_CURRENCIES:
        raise ValidationError(
            "Currency {currency} is not supported.", currency=currency or "(none)", field="currency"
        )
    if method not in RECORDED_METHODS:
        raise ValidationError("Choose bank transfer, cash or set-off.", field="method")
    customer = session.get(Customer, customer_id) if customer_id is not None else None
    if customer is None:
        raise ValidationError("Choose the customer who paid.", field="customer")
    _check_day(
        session,
        received_on,
        field="received_on",
        missing="Enter the date the money arrived.",
        today=today,
    )
    amount_minor = _positive_amount(amount, currency, field="amount", label="Amount")
    texts = {"payer": payer.strip(), "bank_reference": bank_reference.strip(), "note": note.strip()}
    for field, text in texts.items():
        if len(text) > _TEXT_LIMITS[field]:
            raise ValidationError(
                "At most {limit} characters, please.", limit=_TEXT_LIMITS[field], field=field
            )
    shares = _shares(
        session,
        customer=customer,
        currency=currency,
        amount_minor=amount_minor,
        allocations=allocations,
    )
    known = locked or {}
    if all(invoice_id in known for invoice_id in shares):
        invoices = {invoice_id: known[invoice_id] for invoice_id in sorted(shares)}
    else:
        invoices = _lock_all(session, shares)
    for invoice in invoices.values():
        _check_payable(invoice, customer_id=customer.id, currency=currency)
    credit_before = _credit_of(invoices.values())
    entries = [
        stage_entry(
            invoice,
            kind=LedgerEntryKind.PAYMENT,
            source=LedgerSource(method),
            amount_minor=shares[invoice_id],
            value_date=received_on,
            reference=texts["bank_reference"],
            note=texts["note"],
        )
        for invoice_id, invoice in invoices.items()
    ]
    return StagedPayment(
        values={
            "customer_id": customer.id,
            "method": method,
            "received_on": received_on,
            "amount_minor": amount_minor,
            "currency": currency,
            **texts,
        },
        entries=entries,
        bookings=tuple(
            Booking(invoice_id, invoice.number or "", shares[invoice_id])
            for invoice_id, invoice in invoices.items()
        ),
        credit_minor=_credit_of(invoices.values()) - credit_before,
    )


def write_received_payments(
    session: Session, *, actor: str, staged: Sequence[StagedPayment]
) -> None:
    """Inserts the staged payments (one statement), their ledger entries and audit rows;
    sets each one's ``received_payment_id``."""
    if not staged:
        return
    now = utcnow()
    ids = _insert_payments(
        session,
        [
            {
                **payment.values,
                "created_by": actor,
                "created_at": now,
                "reversed_at": None,
                "reversed_by": None,
                "reversal_reason": "",
            }
            for payment in staged
        ],
    )
    for payment, payment_id in zip(staged, ids, strict=True):
        payment.received_payment_id = payment_id
        for entry in payment.entries:
            entry.key = f"received:{payment_id}:{entry.invoice.id}"
            entry.received_payment_id = payment_id
    write_staged(session, actor=actor, staged=[e for payment in staged for e in payment.entries])
    record_audits(
        session,
        [
            audit_row(
                actor=actor,
                action="payment.record",
                entity_type="received_payment",
                entity_id=payment.received_payment_id,
                details={
                    "customer_id": payment.values["customer_id"],
                    "method": payment.values["method"],
                    "received_on": payment.values["received_on"].isoformat(),
                    "amount_minor": payment.values["amount_minor"],
                    "currency": payment.values["currency"],
                    "bank_reference": payment.values["bank_reference"],
                    "allocations": {b.number: b.amount_minor for b in payment.bookings},
                    "credit_minor": payment.credit_minor,
                },
                at=now,
            )
            for payment in staged
        ],
    )


def _insert_payments(session: Session, rows: list[dict]) -> list[int]:
    """Inserts the payments in one statement; returns their ids in the rows' order.

    SQLite does not say in which order a multi-row INSERT returns its rows, so asked for
    ids in order SQLAlchemy sends one INSERT per row (a few thousand for a statement's
    bookings). A write transaction there holds the database's only write lock from its
    BEGIN IMMEDIATE, so the ids SQLite would give next (the highest + 1 onwards) are
    given here and sent with the rows; a writer that got in between anyway makes the
    INSERT fail on the primary key, never pairs an id with the wrong row."""
    table = ReceivedPayment.__table__
    if session.get_bind().dialect.name != "sqlite":
        inserted = table.insert().returning(table.c.id, sort_by_parameter_order=True)
        return list(session.execute(inserted, rows).scalars())
    first = session.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one() + 1
    ids = list(range(first, first + len(rows)))
    session.execute(
        table.insert(), [{**row, "id": id_} for row, id_ in zip(rows, ids, strict=True)]
    )
    return ids


def reverse_received_payment(
    session: Session, *, actor: str, received_payment_id: int, reason: str
) -> LedgerResult:
    """Takes a wrongly recorded payment back off its invoices, with the reason."""
    require_permission(session, actor=actor, permission="edit")
    reason = reason.strip()
    if not reason:
        raise ValidationError("Say why the payment is reversed.", field="reason")
    if len(reason) > 500:
        raise ValidationError("At most 500 characters, please.", field="reason")
    payment = session.get(ReceivedPayment, received_payment_id)
    if payment is None:
        raise ValidationError("That payment does not exist.")
    if payment.reversed_at is not None:
        raise _already_reversed(payment)
    entries = session.exec(
        select(LedgerEntry)
        .where(
            col(LedgerEntry.received_payment_id) == payment.id,
            col(LedgerEntry.reverses_entry_id).is_(None),
        )
        .order_by(col(LedgerEntry.invoice_id))
    ).all()
    invoices = _lock_all(session, [entry.invoice_id for entry in entries])
    # Whoever marks the payment first reverses it; a second click, or a second person at
    # the same moment, finds it marked (PostgreSQL re-reads the row after the first commits).
    marked = session.exec(
        update(ReceivedPayment)
        .where(col(ReceivedPayment.id) == payment.id, col(ReceivedPayment.reversed_at).is_(None))
        .values(reversed_at=utcnow(), reversed_by=actor, reversal_reason=reason)
    ).rowcount
    session.refresh(payment)
    if marked != 1:
        raise _already_reversed(payment)
    bookings = []
    for entry in entries:
        invoice = invoices[entry.invoice_id]
        posted = post_entry(
            session,
            invoice=invoice,
            kind=LedgerEntryKind.PAYMENT,
            source=LedgerSource.REVERSAL,
            amount_minor=-entry.amount_minor,
            key=f"reversal:{entry.id}",
            actor=actor,
            received_payment_id=payment.id,
            reverses_entry_id=entry.id,
            reference=entry.reference,
            note=reason,
        )
        if posted is None:
            raise _already_reversed(payment)
        bookings.append(Booking(invoice.id, invoice.number or "", -entry.amount_minor))
    record_audit(
        session,
        actor=actor,
        action="payment.reverse",
        entity_type="received_payment",
        entity_id=payment.id,
        details={
            "reason": reason,
            "amount_minor": payment.amount_minor,
            "currency": payment.currency,
            "invoices": {b.number: b.amount_minor for b in bookings},
        },
    )
    return LedgerResult(
        currency=payment.currency, bookings=tuple(bookings), received_payment_id=payment.id
    )


# --- Customer credit ----------------------------------------------------------------------


def apply_customer_credit(
    session: Session, *, actor: str, customer_id: int, invoice_id: int, amount: str | int
) -> LedgerResult:
    """Moves the customer's credit, oldest first, onto one of their open invoices."""
    require_permission(session, actor=actor, permission="edit")
    target = session.get(Invoice, invoice_id)
    if target is None or target.customer_id != customer_id:
        raise ValidationError("Choose one of this customer's invoices.", field="invoice")
    currency = target.currency
    amount_minor = _positive_amount(amount, currency, field="amount", label="Amount")
    sources = _credit_invoice_ids(session, customer_id=customer_id, currency=currency)
    invoices = _lock_all(session, [invoice_id, *sources])
    target = invoices[invoice_id]
    if target.status not in OPEN_STATUSES or target.open_minor <= 0:
        raise ValidationError(
            "Invoice {number} has nothing open to apply credit to.",
            number=target.number,
            field="invoice",
        )
    holders = [invoices[i] for i in sources if invoices[i].open_minor < 0]
    available = sum(-invoice.open_minor for invoice in holders)
    _check_within(
        amount_minor,
        available,
        currency,
        message="{amount} is more than the {limit} credit available.",
    )
    _check_within(
        amount_minor,
        target.open_minor,
        currency,
        message="{amount} is more than the {limit} open on {number}.",
        number=target.number,
    )
    action = uuid.uuid4().hex
    bookings = []
    left = amount_minor
    for source in holders:
        if left == 0:
            break
        share = min(left, -source.open_minor)
        left -= share
        for invoice, signed, direction, other in (
            (source, -share, "out", target),
            (target, share, "in", source),
        ):
            post_entry(
                session,
                invoice=invoice,
                kind=LedgerEntryKind.PAYMENT,
                source=LedgerSource.CUSTOMER_CREDIT,
                amount_minor=signed,
                key=f"credit:{action}:{source.id}:{direction}",
                actor=actor,
                reference=f"credit {'to' if direction == 'out' else 'from'} {other.number}",
            )
        bookings.append(Booking(source.id, source.number or "", share))
    record_audit(
        session,
        actor=actor,
        action="credit.apply",
        entity_type="invoice",
        entity_id=target.id,
        details={
            "customer_id": customer_id,
            "amount_minor": amount_minor,
            "currency": currency,
            "from": {b.number: b.amount_minor for b in bookings},
            "open_minor_after": target.open_minor,
        },
    )
    return LedgerResult(
        currency=currency, bookings=(Booking(target.id, target.number or "", amount_minor),)
    )


def refund_customer_credit(
    session: Session,
    *,
    actor: str,
    customer_id: int,
    currency: str,
    amount: str | int,
    paid_on: date | None,
    note: str = "",
) -> LedgerResult:
    """Records credit paid back to the customer: money going back, oldest credit first."""
    require_permission(session, actor=actor, permission="edit")
    currency = (currency or "").strip().upper()
    amount_minor = _positive_amount(amount, currency, field="amount", label="Amount")
    _check_day(session, paid_on, field="paid_on", missing="Enter the date the money was paid back.")
    note = note.strip()
    if len(note) > 500:
        raise ValidationError("At most 500 characters, please.", field="note")
    sources = _credit_invoice_ids(session, customer_id=customer_id, currency=currency)
    invoices = _lock_all(session, sources)
    holders = [invoices[i] for i in sources if invoices[i].open_minor < 0]
    _check_within(
        amount_minor,
        sum(-invoice.open_minor for invoice in holders),
        currency,
        message="{amount} is more than the {limit} credit available.",
    )
    action = uuid.uuid4().hex
    bookings = []
    left = amount_minor
    for source in holders:
        if left == 0:
            break
        share = min(left, -source.open_minor)
        left -= share
        post_entry(
            session,
            invoice=source,
            kind=LedgerEntryKind.MONEY_BACK,
            source=LedgerSource.REFUND,
            amount_minor=share,
            key=f"credit-refund:{action}:{source.id}",
            actor=actor,
            value_date=paid_on,
            reference="credit paid back",
            note=note,
        )
        bookings.append(Booking(source.id, source.number or "", share))
    record_audit(
        session,
        actor=actor,
        action="credit.refund",
        entity_type="customer",
        entity_id=customer_id,
        details={
            "amount_minor": amount_minor,
            "currency": currency,
            "paid_on": paid_on.isoformat(),
            "from": {b.number: b.amount_minor for b in bookings},
        },
    )
    return LedgerResult(currency=currency, bookings=tuple(bookings))


# --- Helpers ------------------------------------------------------------------------------


def _shares(
    session: Session,
    *,
    customer: Customer,
    currency: str,
    amount_minor: int,
    allocations: Sequence[tuple[int, str | int]],
) -> dict[int, int]:
    """What the payment books on each invoice: the allocations typed (or the suggested
    ones), the surplus riding on the last, where it becomes the customer's credit."""
    wanted = _parse_allocations(allocations, currency) or suggest_allocation(
        session, customer_id=customer.id, currency=currency, amount_minor=amount_minor
    )
    if not wanted:
        raise ValidationError(
            "{customer} has no open invoice in {currency}: choose the invoice the payment belongs "
            "to.",
            customer=customer.name,
            currency=currency,
            field="allocations",
        )
    allocated = sum(share for _, share in wanted)
    if allocated > amount_minor:
        raise ValidationError(
            "The allocations add up to {allocated}, more than the payment of {amount}.",
            allocated=format_money(allocated, currency),
            amount=format_money(amount_minor, currency),
            field="allocations",
        )
    last_id, last_share = wanted[-1]
    shares = dict(wanted[:-1])
    shares[last_id] = last_share + amount_minor - allocated
    return shares


def _check_day(
    session: Session, day: date | None, *, field: str, missing: str, today: date | None = None
) -> None:
    if day is None:
        raise ValidationError(missing, field=field)
    if day > (today or local_today(company_settings(session).timezone)):
        raise ValidationError("The date cannot be in the future.", field=field)


def _positive_amount(amount: str | int, currency: str, *, field: str, label: str) -> int:
    if isinstance(amount, int) and not isinstance(amount, bool):
        minor = amount
    else:
        try:
            minor = parse_amount_minor(str(amount), currency, field=label)
        except MoneyError as error:
            raise on_field(error, field) from error
    if minor <= 0:
        raise ValidationError("{label} must be more than zero.", label=label, field=field)
    return minor


def _parse_allocations(
    allocations: Iterable[tuple[int, str | int]], currency: str
) -> list[tuple[int, int]]:
    parsed: list[tuple[int, int]] = []
    seen: set[int] = set()
    for invoice_id, amount in allocations:
        # A row of the allocation table left blank or at zero is an invoice not paid now.
        if isinstance(amount, str) and not amount.strip():
            continue
        if isinstance(amount, int) and amount == 0:
            continue
        try:
            minor = amount if isinstance(amount, int) else parse_amount_minor(amount, currency)
        except MoneyError as error:
            raise on_field(error, "allocations") from error
        if minor == 0:
            continue
        if minor < 0:
            raise ValidationError("An allocation cannot be negative.", field="allocations")
        if invoice_id in seen:
            raise ValidationError("Each invoice can be allocated once.", field="allocations")
        seen.add(invoice_id)
        parsed.append((invoice_id, minor))
    return parsed


def _lock_all(session: Session, invoice_ids: Iterable[int]) -> dict[int, Invoice]:
    """The invoices, locked in ascending id order (the order that cannot deadlock)."""
    return {
        invoice_id: lock_invoice(session, invoice_id=invoice_id)
        for invoice_id in sorted(set(invoice_ids))
    }


def _check_payable(invoice: Invoice, *, customer_id: int, currency: str) -> None:
    number = invoice.number or "a draft"
    if invoice.customer_id != customer_id:
        raise ValidationError(
            "Invoice {number} belongs to another customer.", number=number, field="allocations"
        )
    if invoice.status not in POSTABLE_STATUSES:
        raise ValidationError(
            "Invoice {number} is {status}: only issued invoices take payments.",
            number=number,
            status=invoice.status,
            field="allocations",
        )
    if invoice.currency != currency:
        raise ValidationError(
            "Invoice {number} is in {invoice_currency}, the payment in {currency}.",
            number=number,
            invoice_currency=invoice.currency,
            currency=currency,
            field="allocations",
        )


def _credit_of(invoices: Iterable[Invoice]) -> int:
    return sum(-invoice.open_minor for invoice in invoices if invoice.open_minor < 0)


def _credit_invoice_ids(session: Session, *, customer_id: int, currency: str) -> list[int]:
    """The customer's invoices holding credit in ``currency``, oldest first. Read before
    locking, so each must be checked again once locked."""
    return list(
        session.exec(
            select(Invoice.id)
            .where(
                col(Invoice.customer_id) == customer_id,
                col(Invoice.currency) == currency,
                col(Invoice.open_minor) < 0,
            )
            .order_by(col(Invoice.issue_date), col(Invoice.id))
        ).all()
    )


def _check_within(
    amount_minor: int, limit_minor: int, currency: str, *, message: str, **values: object
) -> None:
    """``message`` names the limit: ``{amount}`` and ``{limit}`` are filled in here, any other
    place from ``values``."""
    if amount_minor > limit_minor:
        raise ValidationError(
            message,
            amount=format_money(amount_minor, currency),
            limit=format_money(max(limit_minor, 0), currency),
            field="amount",
            **values,
        )


def _already_reversed(payment: ReceivedPayment) -> ValidationError:
    when = payment.reversed_at.date().isoformat() if payment.reversed_at else ""
    return ValidationError(
        "This payment was already reversed by {user} on {day}.",
        user=payment.reversed_by,
        day=when,
    )
