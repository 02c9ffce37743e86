"""Payments → Callbacks: every callback EveryPay sent, newest first; also an invoice's own."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import Row, Select, and_, or_, select

from shared.channels import channel_display_name
from shared.company import to_local
from shared.exports import Column, Table
from shared.models import BankAccount, CallbackEvent, CallbackStatus, Invoice, PaymentChannel
from shared.states import CALLBACK_STATUS_LABELS
from shared.text import search_text
from shared.views.common import (
    Window,
    count,
    dialect_name,
    local_days,
    page,
    starts_with,
    stream,
)

# What a person reads first comes first, so the outcome is on screen at 1440 px; the
# 64-character payment reference, rarely needed, comes last.
CALLBACK_COLUMNS = (
    Column("received", "Received", "datetime"),
    Column("status", "Processing status"),
    Column("outcome", "Outcome"),
    Column("invoice", "Invoice"),
    Column("event", "Event"),
    Column("attempts", "Attempts", "int"),
    Column("channel", "Channel"),
    Column("order_reference", "Order reference"),
    Column("payment_reference", "Payment reference"),
)


# Received, not yet applied: no invoice is linked to them yet.
WAITING_STATUSES = (
    CallbackStatus.PENDING,
    CallbackStatus.PROCESSING,
    CallbackStatus.NEEDS_ATTENTION,
)


class CallbackRow(NamedTuple):
    received: datetime | None
    status: str
    outcome: str
    invoice: str  # the number of the invoice it was applied to; "" while none is
    event: str
    attempts: int
    channel: str
    order_reference: str
    payment_reference: str


@dataclass(frozen=True)
class CallbackFilter:
    statuses: tuple[str, ...] = ()
    channel_id: int | None = None
    invoice_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    reference: str = ""


def _callback_conditions(flt: CallbackFilter, *, tz: str, dialect: str) -> list:
    conditions: list = []
    if flt.statuses:
        conditions.append(CallbackEvent.status.in_(flt.statuses))
    if flt.channel_id is not None:
        conditions.append(CallbackEvent.channel_id == flt.channel_id)
    if flt.invoice_id is not None:
        # A callback is tied to its invoice once processed; one still waiting (say,
        # EveryPay's API is down) is known by the order reference it came with.
        number = select(Invoice.number).where(Invoice.id == flt.invoice_id).scalar_subquery()
        conditions.append(
            or_(
                CallbackEvent.invoice_id == flt.invoice_id,
                and_(
                    CallbackEvent.invoice_id.is_(None),
                    CallbackEvent.status.in_(WAITING_STATUSES),
                    CallbackEvent.order_reference == number,
                ),
            )
        )
    conditions += local_days(CallbackEvent.received_at, flt.date_from, flt.date_to, tz)
    reference = search_text(flt.reference)
    if reference:
        conditions.append(starts_with(CallbackEvent.payment_reference, reference.lower(), dialect))
    return conditions


def callback_select(flt: CallbackFilter, *, tz: str, dialect: str) -> Select:
    return (
        select(
            CallbackEvent.id,
            CallbackEvent.received_at,
            channel_display_name(),
            CallbackEvent.payment_reference,
            CallbackEvent.order_reference,
            CallbackEvent.event_name,
            CallbackEvent.status,
            CallbackEvent.attempts,
            CallbackEvent.outcome,
            CallbackEvent.last_error,
            Invoice.number,
        )
        .outerjoin(Invoice, Invoice.id == CallbackEvent.invoice_id)
        .outerjoin(PaymentChannel, PaymentChannel.id == CallbackEvent.channel_id)
        .outerjoin(BankAccount, BankAccount.id == PaymentChannel.bank_account_id)
        .where(*_callback_conditions(flt, tz=tz, dialect=dialect))
        .order_by(CallbackEvent.received_at.desc(), CallbackEvent.id.desc())
    )


def _status_label(status: str | None) -> str:
    """A status as people read it; one this version does not know (written by a newer one)
    still reads as words ("received": "Received"), which a page can translate."""
    return CALLBACK_STATUS_LABELS.get(status or "") or (status or "").replace("_", " ").capitalize()


def callback_row(row: Row, tz: str) -> CallbackRow:
    (
        _,
        received,
        channel,
        payment_ref,
        order_ref,
        event,
        status,
        attempts,
        outcome,
        error,
        number,
    ) = row
    return CallbackRow(
        received=to_local(received, tz),
        status=_status_label(status),
        outcome=outcome or error or "",
        invoice=number or "",
        event=event or "",
        attempts=attempts,
        channel=channel or "",
        order_reference=order_ref or "",
        payment_reference=payment_ref or "",
    )


def callback_page(flt: CallbackFilter, *, tz: str, offset: int = 0, limit: int = 50) -> Table:
    def query(session, dialect: str, window: Window):
        conditions = _callback_conditions(flt, tz=tz, dialect=dialect)
        stmt = callback_select(flt, tz=tz, dialect=dialect)
        return count(session, CallbackEvent, conditions), window.apply(stmt)

    return page(
        CALLBACK_COLUMNS, query, lambda row: callback_row(row, tz), offset=offset, limit=limit
    )


def callback_rows(flt: CallbackFilter, *, tz: str) -> Iterator[CallbackRow]:
    """Every row ``callback_page`` pages through, in its order, for an export."""
    stmt = callback_select(flt, tz=tz, dialect=dialect_name())
    return stream(stmt, lambda row: callback_row(row, tz))
