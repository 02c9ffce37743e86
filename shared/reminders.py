"""Payment reminders: e-mails 5, 10 and 15 days after the due date, each at most once.

Each reminder's log row carries the unique key "reminder:<invoice id>:<day>", so however
many processes run the job, and however often, one day's reminder goes out once. A run
that was missed sends only the latest stage that is due: a customer never gets three
reminders at once.

Reminders are held for an invoice with an open lost-payment exception
(``shared.callbacks.lost_payments``): the customer may have paid already, and a reminder
would ask them to pay twice. They go out again once someone resolves it.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from shared.audit import SYSTEM_ACTOR, record_audit
from shared.callbacks.lost_payments import held_invoice_ids
from shared.company import get_company, local_today
from shared.config import get_settings
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.invoicing import lock_invoice
from shared.ledger.holds import collection_held_reason
from shared.mail import parse_addresses
from shared.models import Customer, Invoice, MessageChannel, MessageLog, MessageStatus, utcnow
from shared.sending import deliver_logged_email, queue_email
from shared.states import OPEN_STATUSES
from shared.users import require_permission

logger = logging.getLogger(__name__)

REMINDER_DAYS = (5, 10, 15)
MAX_REMINDER_ATTEMPTS = 3
_KEY_CHUNK = 500


@dataclass
class ReminderReport:
    today: date
    sent: int = 0
    failed: int = 0
    already_sent: int = 0
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"Reminders for {self.today.isoformat()}: {self.sent} sent, {self.failed} failed, "
            f"{len(self.skipped)} skipped, {self.already_sent} already sent, "
            f"{len(self.held)} held."
        ]
        lines += [f"  failed: {error}" for error in self.errors]
        lines += [f"  skipped: {reason}" for reason in self.skipped]
        lines += [f"  held: {reason}" for reason in self.held]
        return "\n".join(lines)


def reminder_day(*, due_date: date, today: date) -> int | None:
    """The latest reminder stage due today (5, 10 or 15), or None before the first."""
    overdue_days = (today - due_date).days
    due = [day for day in REMINDER_DAYS if day <= overdue_days]
    return due[-1] if due else None


def reminder_key(*, invoice_id: int, day: int) -> str:
    return f"reminder:{invoice_id}:{day}"


def company_today() -> date:
    """Reminder days count in the company's time zone, not the server's."""
    with read_session() as session:
        company = get_company(session)
    return local_today(company.timezone if company else get_settings().company_timezone)


def set_reminders(*, invoice_id: int, enabled: bool, actor: str) -> None:
    with write_session() as session:
        require_permission(session, actor=actor, permission="edit")
        invoice = lock_invoice(session, invoice_id=invoice_id)
        invoice.reminders_enabled = enabled
        invoice.updated_at = utcnow()
        session.add(invoice)
        record_audit(
            session,
            actor=actor,
            action="invoice.reminders_on" if enabled else "invoice.reminders_off",
            entity_type="invoice",
            entity_id=invoice_id,
        )


def _due_reminders(today: date) -> tuple[list[tuple[int, str, int]], list[str]]:
    """(invoice id, number, day) of every reminder that should go out today and has not,
    and why each one held back is held."""
    latest_due = today - timedelta(days=REMINDER_DAYS[0])
    with read_session() as session:
        candidates = session.exec(
            select(Invoice.id, Invoice.number, Invoice.due_date)
            .where(
                col(Invoice.reminders_enabled).is_(True),
                col(Invoice.status).in_(OPEN_STATUSES),
                col(Invoice.open_minor) > 0,
                col(Invoice.due_date) <= latest_due,
            )
            .order_by(col(Invoice.due_date), col(Invoice.id))
        ).all()
        wanted = {
            reminder_key(invoice_id=invoice_id, day=day): (invoice_id, number or "", day)
            for invoice_id, number, due_date in candidates
            if (day := reminder_day(due_date=due_date, today=today)) is not None
        }
        keys = list(wanted)
        done: set[str] = set()
        for start in range(0, len(keys), _KEY_CHUNK):
            rows = session.exec(
                select(MessageLog.dedupe_key, MessageLog.status, MessageLog.attempts).where(
                    col(MessageLog.dedupe_key).in_(keys[start : start + _KEY_CHUNK])
                )
            ).all()
            done |= {
                key
                for key, status, attempts in rows
                if status != MessageStatus.FAILED or attempts >= MAX_REMINDER_ATTEMPTS
            }
        due = [value for key, value in wanted.items() if key not in done]
        held = held_invoice_ids(session, invoice_ids=[invoice_id for invoice_id, _, _ in due])
    reasons = [
        f"{number} (day {day}): the pay link was opened and no payment is known since; "
        f"resolve exception #{held[invoice_id]} (lost payment) to send it"
        for invoice_id, number, day in due
        if invoice_id in held
    ]
    return [value for value in due if value[0] not in held], reasons


def _claim_reminder(*, invoice_id: int, day: int) -> int | None:
    """The log row to send the reminder through: a new one, or a failed one to retry.

    None when another run got there first or the invoice no longer qualifies. Raises
    ValidationError when the customer's addresses cannot be used, or while money that
    went back on the invoice is under review (the customer is not dunned for it).
    """
    key = reminder_key(invoice_id=invoice_id, day=day)
    with write_session() as session:
        invoice = session.get(Invoice, invoice_id)
        if (
            invoice is None
            or not invoice.reminders_enabled
            or invoice.status not in OPEN_STATUSES
            or invoice.open_minor <= 0
        ):
            return None
        held = collection_held_reason(session, invoice_id=invoice_id)
        if held:
            raise ValidationError("reminder {reason}", reason=held)
        existing = session.exec(select(MessageLog).where(MessageLog.dedupe_key == key)).first()
        if existing is not None:
            if (
                existing.status != MessageStatus.FAILED
                or existing.attempts >= MAX_REMINDER_ATTEMPTS
            ):
                return None
            existing.status = MessageStatus.QUEUED
            session.add(existing)
            return existing.id
        customer = session.get(Customer, invoice.customer_id)
        log = queue_email(
            session,
            invoice=invoice,
            actor=SYSTEM_ACTOR,
            to=parse_addresses(customer.email if customer else "", field="to"),
            cc=parse_addresses(customer.cc_emails if customer else "", field="cc"),
            channel=MessageChannel.REMINDER,
            dedupe_key=key,
        )
        return log.id


def send_due_reminders(*, today: date | None = None) -> ReminderReport:
    today = today or company_today()
    report = ReminderReport(today=today)
    due, report.held = _due_reminders(today)
    for invoice_id, number, day in due:
        try:
            log_id = _claim_reminder(invoice_id=invoice_id, day=day)
        except ValidationError as error:
            report.skipped.append(f"{number}: {error}")
            continue
        except IntegrityError:
            log_id = None  # another process inserted the same day's reminder just now
        if log_id is None:
            report.already_sent += 1
            continue
        log = deliver_logged_email(log_id=log_id, actor=SYSTEM_ACTOR, today=today)
        if log.status == MessageStatus.SENT:
            report.sent += 1
        else:
            report.failed += 1
            report.errors.append(f"{number} (day {day}): {log.error}")
    if due or report.held:
        logger.info("%s", report)
    return report
