"""Invoicing → Invoice: one invoice with its lines, funnel, payments, callbacks and
ledger; a draft's lines for the editor."""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import case, func, select
from sqlmodel import Session

from shared.channels import channel_display_name
from shared.company import to_local
from shared.db import read_session
from shared.exports import Column, Table
from shared.invoicing import is_overdue, vat_breakdown
from shared.ledger.received import KIND_LABELS as LEDGER_KIND_LABELS
from shared.ledger.received import SOURCE_LABELS, invoice_entries
from shared.linkpay.links import invoice_pay_link
from shared.models import (
    BankAccount,
    Customer,
    FunnelEvent,
    FunnelStep,
    Invoice,
    InvoiceLine,
    MessageLog,
    MessageStatus,
    PaymentAttempt,
    PaymentChannel,
    PaymentState,
)
from shared.money import from_minor
from shared.states import INVOICE_STATUS_LABELS, OVERDUE, UNSUCCESSFUL_PAYMENT_STATES
from shared.views.callbacks import (
    CALLBACK_COLUMNS,
    WAITING_STATUSES,
    CallbackFilter,
    callback_row,
    callback_select,
)
from shared.views.common import label
from shared.views.payments import ATTEMPT_COLUMNS, PaymentFilter, attempt_row, attempt_select


@dataclass(frozen=True)
class FunnelStepView:
    label: str
    count: int
    first_at: datetime | None


@dataclass(frozen=True)
class InvoiceDetail:
    id: int
    number: str | None
    status: str  # stored
    shown_status: str  # label, overdue derived
    customer_id: int
    customer_name: str
    customer_email: str
    channel_id: int | None
    channel_name: str
    currency: str
    issue_date: date | None
    supply_date: date | None
    due_date: date | None
    eur_exchange_rate: str  # currency units per 1 EUR; "" for EUR
    notes: str
    reminders_enabled: bool
    cancellation_reason: str
    subtotal: Decimal
    vat: Decimal
    total: Decimal
    paid: Decimal
    open: Decimal
    pay_link: str | None
    lines: Table
    vat_breakdown: tuple[tuple[str, Decimal, Decimal], ...]  # rate, net, VAT
    funnel: tuple[FunnelStepView, ...]
    attempts: Table
    callbacks: Table
    waiting_callbacks: int  # received, not applied yet (EveryPay's API did not answer)
    created_at: datetime | None
    issued_at: datetime | None
    paid_at: datetime | None
    series: str  # the prefix of the number series it is (or will be) numbered in


LINE_COLUMNS = (
    Column("position", "#", "int"),
    Column("description", "Description"),
    Column("quantity", "Quantity"),
    Column("unit", "Unit"),
    Column("unit_price", "Unit price", "money"),
    Column("vat_rate", "VAT %"),
    Column("vat_category", "VAT category"),
    Column("net", "Net", "money"),
    Column("vat", "VAT", "money"),
    Column("gross", "Total", "money"),
)


class LineRow(NamedTuple):
    position: int
    description: str
    quantity: str
    unit: str
    unit_price: Decimal
    vat_rate: str
    vat_category: str
    net: Decimal
    vat: Decimal
    gross: Decimal


class LedgerRow(NamedTuple):
    booked: datetime | None
    value_date: date | None
    kind: str
    source: str
    amount: Decimal
    reference: str
    note: str
    actor: str


def _line_rows(lines: list[InvoiceLine], currency: str) -> tuple[LineRow, ...]:
    return tuple(
        LineRow(
            position=line.position,
            description=line.description,
            quantity=line.quantity,
            unit=line.unit,
            unit_price=from_minor(line.unit_price_minor, currency),
            vat_rate=line.vat_rate,
            vat_category=line.vat_category,
            net=from_minor(line.net_minor, currency),
            vat=from_minor(line.vat_minor, currency),
            gross=from_minor(line.gross_minor, currency),
        )
        for line in lines
    )


def _funnel(session: Session, invoice: Invoice, tz: str) -> tuple[FunnelStepView, ...]:
    sent = session.execute(
        select(func.count(), func.min(MessageLog.sent_at)).where(
            MessageLog.invoice_id == invoice.id, MessageLog.status == MessageStatus.SENT
        )
    ).one()
    opened = session.execute(
        select(func.count(), func.min(FunnelEvent.at)).where(
            FunnelEvent.invoice_id == invoice.id, FunnelEvent.step == FunnelStep.LINK_OPENED
        )
    ).one()
    attempts = session.execute(
        select(
            func.count(),
            func.min(PaymentAttempt.created_at),
            func.sum(case((PaymentAttempt.state == PaymentState.SETTLED, 1), else_=0)),
            func.sum(case((PaymentAttempt.state.in_(UNSUCCESSFUL_PAYMENT_STATES), 1), else_=0)),
        ).where(PaymentAttempt.invoice_id == invoice.id)
    ).one()
    sent_count = sent[0] or (1 if invoice.sent_at else 0)
    return (
        FunnelStepView("Sent", sent_count, to_local(sent[1] or invoice.sent_at, tz)),
        FunnelStepView("Link opened", opened[0], to_local(opened[1], tz)),
        FunnelStepView("Payment attempts", attempts[0], to_local(attempts[1], tz)),
        FunnelStepView("Settled", attempts[2] or 0, to_local(invoice.paid_at, tz)),
        FunnelStepView("Failed", attempts[3] or 0, None),
    )


def invoice_detail(invoice_id: int, *, today: date, tz: str) -> InvoiceDetail | None:
    with read_session() as session:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None:
            return None
        dialect = session.get_bind().dialect.name
        customer = session.get(Customer, invoice.customer_id)
        channel_name = session.execute(
            select(channel_display_name())
            .join(BankAccount, BankAccount.id == PaymentChannel.bank_account_id)
            .where(PaymentChannel.id == invoice.channel_id)
        ).scalar_one_or_none()
        lines = list(
            session.execute(
                select(InvoiceLine)
                .where(InvoiceLine.invoice_id == invoice_id)
                .order_by(InvoiceLine.position, InvoiceLine.id)
            ).scalars()
        )
        currency = invoice.currency
        shown = invoice.status
        if is_overdue(status=invoice.status, due_date=invoice.due_date, today=today):
            shown = OVERDUE
        attempts = session.execute(
            attempt_select(PaymentFilter(invoice_id=invoice_id), tz=tz, dialect=dialect)
        ).all()
        callbacks = session.execute(
            callback_select(CallbackFilter(invoice_id=invoice_id), tz=tz, dialect=dialect)
        ).all()
        return InvoiceDetail(
            series=invoice.series,
            id=invoice.id,
            number=invoice.number,
            status=invoice.status,
            shown_status=label(INVOICE_STATUS_LABELS, shown),
            customer_id=invoice.customer_id,
            customer_name=customer.name if customer else "",
            customer_email=customer.email if customer else "",
            channel_id=invoice.channel_id,
            channel_name=channel_name or "",
            currency=currency,
            issue_date=invoice.issue_date,
            supply_date=invoice.supply_date,
            due_date=invoice.due_date,
            eur_exchange_rate=invoice.eur_exchange_rate,
            notes=invoice.notes,
            reminders_enabled=invoice.reminders_enabled,
            cancellation_reason=invoice.cancellation_reason,
            subtotal=from_minor(invoice.subtotal_minor, currency),
            vat=from_minor(invoice.vat_minor, currency),
            total=from_minor(invoice.total_minor, currency),
            paid=from_minor(invoice.paid_minor, currency),
            open=from_minor(invoice.open_minor, currency),
            pay_link=invoice_pay_link(session, invoice),
            lines=Table(LINE_COLUMNS, _line_rows(lines, currency), total=len(lines)),
            vat_breakdown=tuple(
                (rate, from_minor(net, currency), from_minor(vat, currency))
                for rate, (net, vat) in (vat_breakdown(lines) if lines else {}).items()
            ),
            funnel=_funnel(session, invoice, tz),
            attempts=Table(
                ATTEMPT_COLUMNS,
                tuple(attempt_row(row, tz) for row in attempts),
                total=len(attempts),
                ids=tuple(row.id for row in attempts),
            ),
            callbacks=Table(
                CALLBACK_COLUMNS,
                tuple(callback_row(row, tz) for row in callbacks),
                total=len(callbacks),
                ids=tuple(row.id for row in callbacks),
            ),
            waiting_callbacks=sum(row.status in WAITING_STATUSES for row in callbacks),
            created_at=to_local(invoice.created_at, tz),
            issued_at=to_local(invoice.issued_at, tz),
            paid_at=to_local(invoice.paid_at, tz),
        )


LEDGER_COLUMNS = (
    Column("booked", "Booked", "datetime"),
    Column("value_date", "Date", "date"),
    Column("kind", "Kind"),
    Column("source", "Source"),
    Column("amount", "Amount", "money"),
    Column("reference", "Reference"),
    Column("note", "Note"),
    Column("actor", "By"),
)


def invoice_ledger(invoice_id: int, *, tz: str) -> Table:
    """The invoice's payments and credits: every movement of its balance, oldest first."""
    with read_session() as session:
        entries = invoice_entries(session, invoice_id=invoice_id)
    return Table(
        LEDGER_COLUMNS,
        tuple(
            LedgerRow(
                booked=to_local(entry.booked_at, tz),
                value_date=entry.value_date,
                kind=label(LEDGER_KIND_LABELS, entry.kind),
                source=label(SOURCE_LABELS, entry.source),
                amount=from_minor(entry.amount_minor, entry.currency),
                reference=entry.reference,
                note=entry.note,
                actor=entry.actor,
            )
            for entry in entries
        ),
        total=len(entries),
        ids=tuple(entry.id for entry in entries),
    )


@dataclass(frozen=True)
class DraftLine:
    description: str
    quantity: str
    unit_price: str
    vat_rate: str
    unit: str
    vat_category: str
    vat_exemption_reason: str
    vat_exemption_code: str


def draft_lines(invoice_id: int) -> tuple[DraftLine, ...]:
    """A draft's lines as the text a person would type, to pre-fill the editor."""
    with read_session() as session:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None:
            return ()
        lines = session.execute(
            select(InvoiceLine)
            .where(InvoiceLine.invoice_id == invoice_id)
            .order_by(InvoiceLine.position, InvoiceLine.id)
        ).scalars()
        return tuple(
            DraftLine(
                description=line.description,
                quantity=line.quantity,
                unit_price=f"{from_minor(line.unit_price_minor, invoice.currency):f}",
                vat_rate=line.vat_rate,
                unit=line.unit,
                vat_category=line.vat_category,
                vat_exemption_reason=line.vat_exemption_reason,
                vat_exemption_code=line.vat_exemption_code,
            )
            for line in lines
        )


def invoice_id_by_number(number: str) -> int | None:
    with read_session() as session:
        return session.execute(
            select(Invoice.id).where(Invoice.number == number.strip().upper())
        ).scalar_one_or_none()


def payment_signature(invoice_id: int) -> tuple[Any, ...]:
    """What the invoice detail shows about payments, in two cheap reads: when it changes,
    the open page redraws itself."""
    with read_session() as session:
        invoice = session.execute(
            select(Invoice.status, Invoice.paid_minor).where(Invoice.id == invoice_id)
        ).first()
        attempts = session.execute(
            select(func.count(PaymentAttempt.id), func.max(PaymentAttempt.updated_at)).where(
                PaymentAttempt.invoice_id == invoice_id
            )
        ).first()
    return (*invoice, *attempts) if invoice else ()
