"""Sending an invoice four ways — e-mail, online link, PDF, e-invoice — with a log row for
each. The e-invoice XML goes out attached to the e-mail or downloaded (shared.einvoice.sending
puts both behind one interface); it is checked with the EN 16931 / Peppol rules first.

An e-mail is logged before it is handed to the mail server, with its Message-ID fixed on
that row. A failed e-mail is re-sent through the same row under the same Message-ID, so a
retry never adds a second log entry and a receiving server can tell a repeat from a new
mail. The content is composed afresh on each try: the pay link must carry the balance
that is open at that moment, not the one of the first attempt.
"""

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.message import EmailMessage

from sqlalchemy import update
from sqlalchemy.orm import defer
from sqlmodel import Session, col, select

from shared.audit import record_audit
from shared.callbacks.lost_payments import held_invoice_ids
from shared.db import read_session, write_session
from shared.documents import (
    build_credit_note_pdf,
    build_invoice_pdf,
    load_credit_note_document,
    load_invoice_document,
    pdf_file_name,
)
from shared.einvoice.files import EinvoiceFile, credit_note_einvoice, invoice_einvoice
from shared.errors import ValidationError
from shared.invoicing import lock_invoice, mark_sent
from shared.mail import (
    MailError,
    compose_credit_note_email,
    compose_invoice_email,
    deliver,
    format_recipients,
    new_message_id,
    parse_addresses,
    split_recipients,
)
from shared.models import (
    CreditNote,
    Customer,
    FunnelEvent,
    FunnelStep,
    Invoice,
    InvoiceStatus,
    MessageChannel,
    MessageLog,
    MessageStatus,
    SendingMethod,
    utcnow,
)
from shared.public_urls import public_invoice_url
from shared.public_urls import public_token as public_token  # re-exported: callers import it here
from shared.security import token_hash
from shared.users import require_permission

logger = logging.getLogger(__name__)

LINK_OPENED_WINDOW = timedelta(minutes=10)
_PUBLIC_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
_RECIPIENTS_MAX = 2000  # MessageLog.recipients
EMAIL_CHANNELS = (MessageChannel.EMAIL, MessageChannel.REMINDER)

Progress = Callable[[int, int, str], None]


def check_sendable(invoice: Invoice) -> None:
    if invoice.status == InvoiceStatus.DRAFT:
        raise ValidationError("A draft cannot be sent: issue the invoice first.")
    if invoice.status == InvoiceStatus.CANCELLED:
        raise ValidationError(
            "Invoice {number} is cancelled and cannot be sent.", number=invoice.number
        )


def _get_invoice(session: Session, invoice_id: int) -> Invoice:
    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        raise ValidationError("That invoice does not exist.")
    return invoice


@dataclass(frozen=True)
class SendingOverview:
    """What the sending panel needs to know, as plain values."""

    invoice_id: int
    number: str | None
    status: str
    to: str
    cc: str
    public_url: str
    pdf_name: str
    einvoice_name: str
    # The customer's default: the panel preselects it (shared.models.SendingMethod).
    sending_method: str
    reminders_enabled: bool
    blocked: str | None  # why the invoice cannot be sent, if it cannot
    # The open lost-payment exception holding the invoice's reminders back, if any.
    reminders_held_by: int | None = None


def sending_overview(*, invoice_id: int) -> SendingOverview | None:
    with read_session() as session:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None:
            return None
        customer = session.get(Customer, invoice.customer_id)
        held = held_invoice_ids(session, invoice_ids=[invoice_id])
    try:
        check_sendable(invoice)
        blocked = None
    except ValidationError as error:
        blocked = str(error)
    to, cc = default_recipients(customer) if customer else ("", "")
    return SendingOverview(
        invoice_id=invoice_id,
        number=invoice.number,
        status=invoice.status,
        to=to,
        cc=cc,
        public_url=public_invoice_url(invoice),
        pdf_name=pdf_file_name(invoice),
        einvoice_name=f"{invoice.number}.xml",
        sending_method=customer.sending_method if customer else SendingMethod.EMAIL,
        reminders_enabled=invoice.reminders_enabled,
        blocked=blocked,
        reminders_held_by=held.get(invoice_id),
    )


def default_recipients(customer: Customer) -> tuple[str, str]:
    """(to, cc) as the send form pre-fills them."""
    return customer.email, customer.cc_emails


def _record_sent(session: Session, *, invoice_id: int, channel: str) -> None:
    mark_sent(session, invoice_id=invoice_id)
    session.add(FunnelEvent(invoice_id=invoice_id, step=FunnelStep.SENT, detail=channel))


def queue_email(
    session: Session,
    *,
    invoice: Invoice,
    actor: str,
    to: list[str],
    cc: list[str],
    channel: str = MessageChannel.EMAIL,
    dedupe_key: str | None = None,
    einvoice_attached: bool = False,
) -> MessageLog:
    """The log row an e-mail is sent through, with its Message-ID fixed for every retry."""
    if not to:
        raise ValidationError("The customer has no e-mail address: give a recipient.", field="to")
    recipients = format_recipients(to, cc)
    if len(recipients) > _RECIPIENTS_MAX:
        raise ValidationError("Too many recipients for one e-mail.", field="cc")
    log = MessageLog(
        invoice_id=invoice.id,
        channel=channel,
        recipients=recipients,
        status=MessageStatus.QUEUED,
        dedupe_key=dedupe_key,
        sent_by=actor,
        einvoice_attached=einvoice_attached,
    )
    session.add(log)
    session.flush()
    log.message_id = new_message_id(log_id=log.id)
    session.add(log)
    return log


def _wants_einvoice(session: Session, *, customer_id: int, attach: bool | None) -> bool:
    if attach is not None:
        return attach
    customer = session.get(Customer, customer_id)
    return customer is not None and customer.sending_method == SendingMethod.EMAIL_EINVOICE


def send_invoice_email(
    *,
    invoice_id: int,
    actor: str,
    to: str | None = None,
    cc: str | None = None,
    attach_einvoice: bool | None = None,
) -> MessageLog:
    """Sends the invoice by e-mail; ``to``/``cc`` default to the customer's addresses, and
    the e-invoice XML is attached when ``attach_einvoice`` or, left out, the customer's
    sending method says so.

    Raises ValidationError for what the user can fix (draft, cancelled, bad address, an
    e-invoice that breaks a rule); a mail server failure is not raised but logged on the
    returned row as "failed".
    """
    with read_session() as session:
        require_permission(session, actor=actor, permission="edit")
        invoice = _get_invoice(session, invoice_id)
        attach = _wants_einvoice(session, customer_id=invoice.customer_id, attach=attach_einvoice)
        if attach:
            # Checked before anything is queued: a document the rules refuse is never sent.
            check_sendable(invoice)
            document = load_invoice_document(session, invoice=invoice)
            invoice_einvoice(document, pdf=build_invoice_pdf(document))
    with write_session() as session:
        require_permission(session, actor=actor, permission="edit")
        invoice = lock_invoice(session, invoice_id=invoice_id)
        check_sendable(invoice)
        customer = session.get(Customer, invoice.customer_id)
        default_to, default_cc = default_recipients(customer) if customer else ("", "")
        log = queue_email(
            session,
            invoice=invoice,
            actor=actor,
            to=parse_addresses(default_to if to is None else to, field="to"),
            cc=parse_addresses(default_cc if cc is None else cc, field="cc"),
            einvoice_attached=attach,
        )
    return deliver_logged_email(log_id=log.id, actor=actor)


def deliver_logged_email(*, log_id: int, actor: str, today: date | None = None) -> MessageLog:
    """Composes and sends the e-mail of a queued log row, then records the outcome on it."""
    with read_session() as session:
        require_permission(session, actor=actor, permission="edit")

    def compose(log: MessageLog) -> EmailMessage:
        with read_session() as session:
            invoice = _get_invoice(session, log.invoice_id)
            document = load_invoice_document(session, invoice=invoice, today=today)
        to, cc = split_recipients(log.recipients)
        pdf = build_invoice_pdf(document)
        return compose_invoice_email(
            document=document,
            to=to,
            cc=cc,
            message_id=log.message_id,
            public_url=public_invoice_url(invoice),
            pdf=pdf,
            reminder=log.channel == MessageChannel.REMINDER,
            einvoice=invoice_einvoice(document, pdf=pdf) if log.einvoice_attached else None,
        )

    return _deliver(log_id=log_id, actor=actor, compose=compose)


def send_credit_note_email(
    *,
    credit_note_id: int,
    actor: str,
    to: str | None = None,
    cc: str | None = None,
    attach_einvoice: bool | None = None,
) -> MessageLog:
    """E-mails a credit note (PDF attached, and its e-invoice as for the invoice) to the
    customer; logged with its invoice's sendings. The invoice itself is not marked sent."""
    with read_session() as session:
        require_permission(session, actor=actor, permission="edit")
        note = session.get(CreditNote, credit_note_id)
        if note is None:
            raise ValidationError("That credit note does not exist.")
        attach = _wants_einvoice(session, customer_id=note.customer_id, attach=attach_einvoice)
        if attach:
            document = load_credit_note_document(session, note=note)
            credit_note_einvoice(document, pdf=build_credit_note_pdf(document))
    with write_session() as session:
        require_permission(session, actor=actor, permission="edit")
        note = session.get(CreditNote, credit_note_id)
        if note is None:
            raise ValidationError("That credit note does not exist.")
        invoice = lock_invoice(session, invoice_id=note.invoice_id)
        customer = session.get(Customer, invoice.customer_id)
        default_to, default_cc = default_recipients(customer) if customer else ("", "")
        log = queue_email(
            session,
            invoice=invoice,
            actor=actor,
            to=parse_addresses(default_to if to is None else to, field="to"),
            cc=parse_addresses(default_cc if cc is None else cc, field="cc"),
            channel=MessageChannel.CREDIT_NOTE,
            einvoice_attached=attach,
        )

    def compose(log: MessageLog) -> EmailMessage:
        with read_session() as session:
            note = session.get(CreditNote, credit_note_id)
            document = load_credit_note_document(session, note=note)
        to, cc = split_recipients(log.recipients)
        pdf = build_credit_note_pdf(document)
        return compose_credit_note_email(
            document=document,
            to=to,
            cc=cc,
            message_id=log.message_id,
            public_url=public_invoice_url(document.invoice),
            pdf=pdf,
            einvoice=credit_note_einvoice(document, pdf=pdf) if log.einvoice_attached else None,
        )

    return _deliver(log_id=log.id, actor=actor, compose=compose)


def _deliver(
    *, log_id: int, actor: str, compose: Callable[[MessageLog], EmailMessage]
) -> MessageLog:
    """Sends what ``compose`` makes of the queued log row, then records the outcome."""
    subject, raw = "", None
    try:
        with read_session() as session:
            log = session.get(MessageLog, log_id)
        message = compose(log)
        subject, raw = str(message["Subject"]), message.as_string()
        refused = deliver(message)
        error = f"Refused by the mail server: {'; '.join(refused)}" if refused else None
        status = MessageStatus.SENT
    except MailError as failure:
        logger.warning("e-mail of message log %s failed: %s", log_id, failure)
        error, status = str(failure), MessageStatus.FAILED
    except ValidationError as failure:  # e.g. the e-invoice breaks a rule since it was queued
        logger.warning("e-mail of message log %s not sent: %s", log_id, failure)
        error, status = str(failure), MessageStatus.FAILED
    except Exception as failure:
        logger.exception("e-mail of message log %s could not be prepared", log_id)
        error = f"The e-mail could not be prepared ({type(failure).__name__}); see the log."
        status = MessageStatus.FAILED
    with write_session() as session:
        log = session.get(MessageLog, log_id)
        # The invoice is locked before the log row changes: the order every sending path
        # (and the booking path, invoice first) takes locks in.
        lock_invoice(session, invoice_id=log.invoice_id)
        log.attempts += 1
        log.status = status
        log.error = error[:1000] if error else None
        log.subject = subject[:500] or log.subject
        log.raw_message = raw or log.raw_message
        if status == MessageStatus.SENT:
            log.sent_at = utcnow()
            if log.channel in EMAIL_CHANNELS:
                _record_sent(session, invoice_id=log.invoice_id, channel=log.channel)
        session.add(log)
        record_audit(
            session,
            actor=actor,
            action=f"invoice.send_{log.channel}",
            entity_type="invoice",
            entity_id=log.invoice_id,
            outcome="ok" if status == MessageStatus.SENT else "failed",
            details={"message_log_id": log_id, "attempt": log.attempts, "error": error},
        )
    return log


def resend_message(*, log_id: int, actor: str) -> MessageLog:
    """Tries a failed e-mail again through the same log row and Message-ID."""
    with write_session() as session:
        require_permission(session, actor=actor, permission="edit")
        log = session.get(MessageLog, log_id)
        if log is None:
            raise ValidationError("That message does not exist.")
        if log.channel not in EMAIL_CHANNELS:
            raise ValidationError("Only e-mails can be re-sent.")
        if log.status == MessageStatus.SENT:
            raise ValidationError("This e-mail has already been sent.")
        invoice = lock_invoice(session, invoice_id=log.invoice_id)
        check_sendable(invoice)
        if log.channel == MessageChannel.REMINDER and invoice.open_minor <= 0:
            raise ValidationError(
                "Invoice {number} is paid: no reminder is needed.", number=invoice.number
            )
        # The conditional update is the claim: of two people pressing Re-send, one wins.
        claimed = session.exec(
            update(MessageLog)
            .where(col(MessageLog.id) == log_id, col(MessageLog.status) == MessageStatus.FAILED)
            .values(status=MessageStatus.QUEUED)
        ).rowcount
        if not claimed:
            raise ValidationError("This e-mail is being sent right now.")
    return deliver_logged_email(log_id=log_id, actor=actor)


def record_link_shared(*, invoice_id: int, actor: str) -> str:
    """The public invoice URL, logged as sent through the "online link" option."""
    with write_session() as session:
        require_permission(session, actor=actor, permission="edit")
        invoice = lock_invoice(session, invoice_id=invoice_id)
        check_sendable(invoice)
        url = public_invoice_url(invoice)
        _log_sent_now(
            session, invoice=invoice, actor=actor, channel=MessageChannel.LINK, subject=url
        )
    return url


def record_pdf_download(*, invoice_id: int, actor: str) -> bytes:
    """The invoice PDF, logged as sent through the "PDF" option (download or print)."""
    with read_session() as session:
        require_permission(session, actor=actor, permission="edit")
        invoice = _get_invoice(session, invoice_id)
        check_sendable(invoice)
        pdf = build_invoice_pdf(load_invoice_document(session, invoice=invoice))
    with write_session() as session:
        # Checked again under the lock: the invoice may have been cancelled meanwhile.
        invoice = lock_invoice(session, invoice_id=invoice_id)
        check_sendable(invoice)
        _log_sent_now(
            session,
            invoice=invoice,
            actor=actor,
            channel=MessageChannel.PDF,
            subject=pdf_file_name(invoice),
        )
    return pdf


def _einvoice_file(
    session: Session, *, invoice_id: int, credit_note_id: int | None
) -> EinvoiceFile:
    invoice = _get_invoice(session, invoice_id)
    if credit_note_id is None:
        check_sendable(invoice)
        document = load_invoice_document(session, invoice=invoice)
        return invoice_einvoice(document, pdf=build_invoice_pdf(document))
    note = session.get(CreditNote, credit_note_id)
    if note is None or note.invoice_id != invoice_id:
        raise ValidationError("That credit note does not exist.")
    document = load_credit_note_document(session, note=note)
    return credit_note_einvoice(document, pdf=build_credit_note_pdf(document))


def record_einvoice_download(
    *, invoice_id: int, actor: str, credit_note_id: int | None = None
) -> EinvoiceFile:
    """The e-invoice XML of the invoice (or of one of its credit notes), checked with the
    rules and logged as sent through the "e-invoice" option, like the PDF download."""
    with read_session() as session:
        require_permission(session, actor=actor, permission="edit")
        einvoice = _einvoice_file(session, invoice_id=invoice_id, credit_note_id=credit_note_id)
    with write_session() as session:
        invoice = lock_invoice(session, invoice_id=invoice_id)
        if credit_note_id is None:
            # Checked again under the lock: the invoice may have been cancelled meanwhile.
            check_sendable(invoice)
            _log_sent_now(
                session,
                invoice=invoice,
                actor=actor,
                channel=MessageChannel.EINVOICE,
                subject=einvoice.filename,
            )
        else:
            # A credit note handed out does not make its invoice "sent".
            _log_message(
                session,
                invoice=invoice,
                actor=actor,
                channel=MessageChannel.EINVOICE,
                subject=einvoice.filename,
            )
    return einvoice


def einvoice_copy(*, invoice_id: int, actor: str, credit_note_id: int | None = None) -> bytes:
    """The same checked XML for a role that may look but not send: nothing is logged."""
    with read_session() as session:
        require_permission(session, actor=actor, permission="view")
        einvoice = _einvoice_file(session, invoice_id=invoice_id, credit_note_id=credit_note_id)
    return einvoice.content


def invoice_pdf_copy(*, invoice_id: int, actor: str) -> bytes:
    """The invoice PDF for someone who may look and export but not send (a manager):
    nothing is logged as sent and the invoice's status stays as it is. The download is
    audited all the same, since the PDF carries the customer's pay link."""
    with read_session() as session:
        require_permission(session, actor=actor, permission="export")
        invoice = _get_invoice(session, invoice_id)
        check_sendable(invoice)
        pdf = build_invoice_pdf(load_invoice_document(session, invoice=invoice))
    with write_session() as session:
        record_audit(
            session,
            actor=actor,
            action="invoice.pdf_copy",
            entity_type="invoice",
            entity_id=invoice_id,
        )
    return pdf


def _log_sent_now(
    session: Session, *, invoice: Invoice, actor: str, channel: str, subject: str
) -> None:
    _log_message(session, invoice=invoice, actor=actor, channel=channel, subject=subject)
    _record_sent(session, invoice_id=invoice.id, channel=channel)


def _log_message(
    session: Session, *, invoice: Invoice, actor: str, channel: str, subject: str
) -> None:
    now = utcnow()
    session.add(
        MessageLog(
            invoice_id=invoice.id,
            channel=channel,
            subject=subject[:500],
            status=MessageStatus.SENT,
            attempts=1,
            sent_by=actor,
            created_at=now,
            sent_at=now,
        )
    )
    record_audit(
        session,
        actor=actor,
        action=f"invoice.send_{channel}",
        entity_type="invoice",
        entity_id=invoice.id,
    )


def message_log(*, invoice_id: int) -> list[MessageLog]:
    """An invoice's sendings, newest first; the stored raw messages stay in the database."""
    with read_session() as session:
        rows = session.exec(
            select(MessageLog)
            .options(defer(MessageLog.raw_message))
            .where(MessageLog.invoice_id == invoice_id)
            .order_by(col(MessageLog.created_at).desc(), col(MessageLog.id).desc())
        ).all()
    return list(rows)


@dataclass
class BulkSendReport:
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"{len(self.sent)} sent, {len(self.failed)} failed, {len(self.skipped)} skipped."]
        lines += [f"{label}: failed — {reason}" for label, reason in self.failed]
        lines += [f"{label}: skipped — {reason}" for label, reason in self.skipped]
        return "\n".join(lines)


def send_invoices_by_email(
    *, invoice_ids: Iterable[int], actor: str, progress: Progress | None = None
) -> BulkSendReport:
    """E-mails each invoice to its customer; ``progress(done, total, label)`` after each."""
    ids = list(dict.fromkeys(invoice_ids))
    with read_session() as session:
        # Refused once for the whole batch, not reported as one skip per invoice.
        require_permission(session, actor=actor, permission="edit")
        numbers = dict(
            session.exec(select(Invoice.id, Invoice.number).where(col(Invoice.id).in_(ids))).all()
        )
    report = BulkSendReport()
    for done, invoice_id in enumerate(ids, start=1):
        label = numbers.get(invoice_id) or f"draft #{invoice_id}"
        try:
            log = send_invoice_email(invoice_id=invoice_id, actor=actor)
        except ValidationError as error:
            report.skipped.append((label, str(error)))
        else:
            if log.status == MessageStatus.SENT:
                report.sent.append(label)
            else:
                report.failed.append((label, log.error or ""))
        if progress is not None:
            progress(done, len(ids), label)
    return report


def invoice_by_public_token(session: Session, token: str) -> Invoice | None:
    """The invoice a customer's link points to; drafts are never public."""
    if not _PUBLIC_TOKEN.fullmatch(token or ""):
        return None
    # Looked up by hash: the index compares digests, so its timing tells nothing about
    # how close a guessed token came to a real one.
    invoice = session.exec(
        select(Invoice).where(Invoice.public_token_hash == token_hash(token))
    ).first()
    if invoice is None or invoice.status == InvoiceStatus.DRAFT:
        return None
    return invoice


def record_link_opened(*, invoice_id: int, detail: str) -> bool:
    """Funnel step "link opened"; repeats within a few minutes (reloads) count once."""
    recent = (
        select(FunnelEvent.id)
        .where(
            FunnelEvent.invoice_id == invoice_id,
            FunnelEvent.step == FunnelStep.LINK_OPENED,
            FunnelEvent.detail == detail,
            col(FunnelEvent.at) >= utcnow() - LINK_OPENED_WINDOW,
        )
        .limit(1)
    )
    # Reading first keeps reloads of a public page from queueing for the write lock.
    with read_session() as session:
        if session.exec(recent).first() is not None:
            return False
    with write_session() as session:
        if session.exec(recent).first() is not None:
            return False
        session.add(FunnelEvent(invoice_id=invoice_id, step=FunnelStep.LINK_OPENED, detail=detail))
    return True
