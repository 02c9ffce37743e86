"""One invoice's story in one list, oldest first: messages and reminders sent, pay link
opened, payment attempts and their state changes, callbacks (those still waiting for
EveryPay's answer included) and what people did to it (the audit log).

Every text of the story goes through ``wording`` (a template with ``{name}`` places and
its values) and amounts are written the way ``language`` writes them: the dashboard passes
its translation function and the user's language, so the story, and its export, read in
the user's language; English by default."""

from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlmodel import Session

from shared.company import to_local
from shared.db import read_session
from shared.document_format import format_amount
from shared.exports import Column, Table
from shared.models import (
    AuditLog,
    FunnelEvent,
    FunnelStep,
    MessageChannel,
    MessageLog,
    PaymentAttempt,
    PaymentStateChange,
)
from shared.payment_methods import payment_method_label
from shared.states import CALLBACK_STATUS_LABELS, PAYMENT_STATE_LABELS
from shared.views.callbacks import WAITING_STATUSES, CallbackFilter, callback_select
from shared.views.common import label

TIMELINE_COLUMNS = (
    Column("at", "When", "datetime"),
    Column("kind", "What"),
    Column("detail", "Detail"),
    Column("by", "By"),
)
# The newest entries of each kind that the story holds; an invoice reminded daily for
# years still shows the story's recent part, and the page stays quick. Each kind is read
# newest first and turned around, so entries of one moment keep the order they were made.
ENTRIES_PER_KIND = 200
MESSAGE_KINDS = {
    MessageChannel.EMAIL: "E-mail",
    MessageChannel.REMINDER: "Reminder",
    MessageChannel.LINK: "Online link shared",
    MessageChannel.PDF: "PDF made",
    MessageChannel.CREDIT_NOTE: "Credit note e-mail",
}
CUSTOMER = "customer"
EVERYPAY = "EveryPay"

# A template and its values → the text shown.
Wording = Callable[..., str]


def english(template: str, /, **values: object) -> str:
    return template.format(**values) if values else template


class TimelineRow(NamedTuple):
    at: datetime | None
    kind: str
    detail: str
    by: str


def _short(reference: str | None) -> str:
    return f"{reference[:12]}…" if reference and len(reference) > 12 else reference or ""


def _messages(session: Session, invoice_id: int, wording: Wording) -> list[TimelineRow]:
    logs = session.execute(
        select(
            MessageLog.channel,
            MessageLog.status,
            MessageLog.subject,
            MessageLog.recipients,
            MessageLog.error,
            MessageLog.sent_by,
            MessageLog.created_at,
            MessageLog.sent_at,
        )
        .where(MessageLog.invoice_id == invoice_id)
        .order_by(MessageLog.id.desc())
        .limit(ENTRIES_PER_KIND)
    ).all()[::-1]
    return [
        TimelineRow(
            at=log.sent_at or log.created_at,
            kind=wording(label(MESSAGE_KINDS, log.channel)),
            # The subject and the mail server's error stay as they were sent and received.
            detail=" · ".join(
                part
                for part in (wording(log.status), log.recipients, log.subject, log.error or "")
                if part
            ),
            by=log.sent_by,
        )
        for log in logs
    ]


def _link_opens(session: Session, invoice_id: int, wording: Wording) -> list[TimelineRow]:
    events = session.execute(
        select(FunnelEvent.at, FunnelEvent.detail)
        .where(FunnelEvent.invoice_id == invoice_id, FunnelEvent.step == FunnelStep.LINK_OPENED)
        .order_by(FunnelEvent.id.desc())
        .limit(ENTRIES_PER_KIND)
    ).all()[::-1]
    return [
        TimelineRow(event.at, wording("Pay link opened"), event.detail, wording(CUSTOMER))
        for event in events
    ]


def _attempts(
    session: Session, invoice_id: int, wording: Wording, language: str
) -> list[TimelineRow]:
    attempts = session.execute(
        select(
            PaymentAttempt.created_at,
            PaymentAttempt.payment_method,
            PaymentAttempt.initial_amount_minor,
            PaymentAttempt.currency,
            PaymentAttempt.payment_reference,
        )
        .where(PaymentAttempt.invoice_id == invoice_id)
        .order_by(PaymentAttempt.id.desc())
        .limit(ENTRIES_PER_KIND)
    ).all()[::-1]
    return [
        TimelineRow(
            at=attempt.created_at,
            kind=wording("Payment started"),
            detail=" · ".join(
                part
                for part in (
                    format_amount(
                        attempt.initial_amount_minor, attempt.currency, language=language
                    ),
                    wording(payment_method_label(attempt.payment_method)),
                    wording("payment {reference}", reference=_short(attempt.payment_reference)),
                )
                if part
            ),
            by=wording(CUSTOMER),
        )
        for attempt in attempts
    ]


def _state_changes(session: Session, invoice_id: int, wording: Wording) -> list[TimelineRow]:
    changes = session.execute(
        select(
            PaymentStateChange.changed_at,
            PaymentStateChange.from_state,
            PaymentStateChange.to_state,
            PaymentStateChange.source,
            PaymentAttempt.payment_reference,
        )
        .join(PaymentAttempt, PaymentAttempt.id == PaymentStateChange.attempt_id)
        .where(PaymentAttempt.invoice_id == invoice_id)
        .order_by(PaymentStateChange.id.desc())
        .limit(ENTRIES_PER_KIND)
    ).all()[::-1]
    return [
        TimelineRow(
            at=change.changed_at,
            kind=wording("Payment state"),
            detail=wording(
                "{before} → {after} (payment {reference})",
                before=wording(label(PAYMENT_STATE_LABELS, change.from_state) or "new"),
                after=wording(label(PAYMENT_STATE_LABELS, change.to_state)),
                reference=_short(change.payment_reference),
            ),
            by=wording(change.source),
        )
        for change in changes
    ]


def _callbacks(
    session: Session, invoice_id: int, dialect: str, wording: Wording
) -> list[TimelineRow]:
    stmt = callback_select(CallbackFilter(invoice_id=invoice_id), tz="UTC", dialect=dialect)
    rows = session.execute(stmt.limit(ENTRIES_PER_KIND)).all()[::-1]
    return [
        TimelineRow(
            at=row.received_at,
            kind=wording("Callback waiting" if row.status in WAITING_STATUSES else "Callback"),
            # EveryPay's event name and the processing outcome stay as recorded.
            detail=" · ".join(
                part
                for part in (
                    row.event_name or "",
                    wording("payment {reference}", reference=_short(row.payment_reference)),
                    wording(label(CALLBACK_STATUS_LABELS, row.status)),
                    row.outcome or row.last_error or "",
                )
                if part
            ),
            by=EVERYPAY,
        )
        for row in rows
    ]


def _audit(session: Session, invoice_id: int, wording: Wording) -> list[TimelineRow]:
    entries = session.execute(
        select(AuditLog.at, AuditLog.action, AuditLog.outcome, AuditLog.actor)
        .where(AuditLog.entity_type == "invoice", AuditLog.entity_id == str(invoice_id))
        .order_by(AuditLog.id.desc())
        .limit(ENTRIES_PER_KIND)
    ).all()[::-1]
    return [
        TimelineRow(
            at=entry.at,
            kind=wording("Action"),
            # The action's code reads as it is in English ("invoice.issue", as in the audit
            # log); other languages describe it in words.
            detail=(
                wording(entry.action)
                if entry.outcome == "ok"
                else wording(
                    "{action} ({outcome})",
                    action=wording(entry.action),
                    outcome=wording(entry.outcome),
                )
            ),
            by=entry.actor,
        )
        for entry in entries
    ]


def invoice_timeline(
    invoice_id: int, *, tz: str, wording: Wording = english, language: str = "en"
) -> Table:
    """Everything that happened to the invoice, oldest first, in the company's time."""
    with read_session() as session:
        dialect = session.get_bind().dialect.name
        entries = [
            *_messages(session, invoice_id, wording),
            *_link_opens(session, invoice_id, wording),
            *_attempts(session, invoice_id, wording, language),
            *_state_changes(session, invoice_id, wording),
            *_callbacks(session, invoice_id, dialect, wording),
            *_audit(session, invoice_id, wording),
        ]
    # Stable: entries of the same moment keep the order of the kinds above.
    entries.sort(key=lambda entry: entry.at)
    rows = tuple(entry._replace(at=to_local(entry.at, tz)) for entry in entries)
    return Table(TIMELINE_COLUMNS, rows, total=len(rows))
