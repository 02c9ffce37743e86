"""Invoice e-mails: addresses, composing (HTML + text + inline logo + PDF), SMTP delivery,
and reading the demo mail server's Outbox."""

import base64
import re
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

from shared.config import get_settings
from shared.documents import (
    CreditNoteDocument,
    InvoiceDocument,
    credit_note_pdf_name,
    pdf_file_name,
    render_template,
    text_for,
)
from shared.einvoice.files import EinvoiceFile
from shared.errors import ValidationError
from shared.i18n import translator
from shared.models import Company

SECURITY_MODES = ("none", "starttls", "ssl")
# Deliberately stricter than RFC 5322: what a finance clerk types, not every legal oddity.
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,63}"
)
_CC_MARK = "; cc: "
# RFC 5322's hard line limit instead of the 78-character advice: with 78, Python folds a
# slightly long subject straight after "Subject:", which some readers show with a leading
# blank. Longer body lines still get quoted-printable or base64.
_POLICY = policy.default.clone(max_line_length=998)
OUTBOX_LIMIT = 200
# Names are "<nanoseconds since epoch, 20 digits>-<12 hex>.eml": they sort by arrival time.
OUTBOX_NAME = re.compile(r"(\d{20})-[0-9a-f]{12}\.eml")


class MailError(Exception):
    """Delivery failed; the message says why in words fit for the message log."""


def parse_addresses(text: str, *, field: str = "to") -> list[str]:
    """Addresses separated by commas, semicolons or new lines; all must be valid."""
    addresses = [part.strip() for part in re.split(r"[,;\s]+", text or "") if part.strip()]
    bad = [address for address in addresses if not _EMAIL.fullmatch(address)]
    if bad:
        raise ValidationError(
            "Not an e-mail address: {addresses}", addresses=", ".join(bad), field=field
        )
    return list(dict.fromkeys(addresses))


def format_recipients(to: list[str], cc: list[str]) -> str:
    return ", ".join(to) + (_CC_MARK + ", ".join(cc) if cc else "")


def split_recipients(text: str) -> tuple[list[str], list[str]]:
    """The inverse of ``format_recipients``: (to, cc) as stored in the message log."""
    to_part, _, cc_part = text.partition(_CC_MARK)
    return parse_addresses(to_part), parse_addresses(cc_part, field="cc")


def _sender_address() -> str:
    return parseaddr(get_settings().mail_from)[1] or "invoices@localhost"


def new_message_id(*, log_id: int) -> str:
    return make_msgid(idstring=f"linkpay.{log_id}", domain=_sender_domain())


def _sender_domain() -> str:
    # Never the machine's host name, which make_msgid would otherwise put in every mail.
    return _sender_address().rpartition("@")[2] or "localhost"


def invoice_subject(document: InvoiceDocument, *, reminder: bool = False) -> str:
    key = "subject_reminder" if reminder else "subject_invoice"
    return text_for(document, key, number=document.number, company=document.company.name)


def new_customer_message(
    *,
    company_name: str,
    company_email: str,
    subject: str,
    to: list[str],
    cc: list[str],
    message_id: str | None,
    language: str,
) -> EmailMessage:
    """An empty e-mail from the company to a customer, its headers set; without a
    ``message_id`` (a mail with no message log row), a new one."""
    message = EmailMessage(policy=_POLICY)
    message["Subject"] = subject
    # The customer should see who bills them; the address stays the configured sender's.
    message["From"] = Address(display_name=company_name, addr_spec=_sender_address())
    message["To"] = ", ".join(to)
    if cc:
        message["Cc"] = ", ".join(cc)
    if company_email and _EMAIL.fullmatch(company_email):
        message["Reply-To"] = company_email
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = message_id or make_msgid(idstring="linkpay", domain=_sender_domain())
    message["Content-Language"] = language
    return message


def compose_invoice_email(
    *,
    document: InvoiceDocument,
    to: list[str],
    cc: list[str],
    message_id: str,
    public_url: str,
    pdf: bytes,
    reminder: bool = False,
    einvoice: EinvoiceFile | None = None,
) -> EmailMessage:
    """multipart/mixed: [alternative: [text, related: [html, logo]], invoice PDF,
    e-invoice XML when given]."""
    return _compose(
        company=document.company,
        language=document.language,
        subject=invoice_subject(document, reminder=reminder),
        context={**document.template_context(), "public_url": public_url, "reminder": reminder},
        template="email",
        to=to,
        cc=cc,
        message_id=message_id,
        pdf=pdf,
        pdf_name=pdf_file_name(document.invoice),
        einvoice=einvoice,
    )


def compose_credit_note_email(
    *,
    document: CreditNoteDocument,
    to: list[str],
    cc: list[str],
    message_id: str,
    public_url: str,
    pdf: bytes,
    einvoice: EinvoiceFile | None = None,
) -> EmailMessage:
    """The credit note, saying which invoice it credits, with its PDF (and e-invoice)
    attached."""
    subject = translator(document.language)(
        "subject_credit_note",
        number=document.number,
        invoice=document.invoice.number or "",
        company=document.company.name,
    )
    return _compose(
        company=document.company,
        language=document.language,
        subject=subject,
        context={**document.template_context(), "public_url": public_url},
        template="credit_note_email",
        to=to,
        cc=cc,
        message_id=message_id,
        pdf=pdf,
        pdf_name=credit_note_pdf_name(document.note),
        einvoice=einvoice,
    )


def _compose(
    *,
    company: Company,
    language: str,
    subject: str,
    context: dict[str, object],
    template: str,
    to: list[str],
    cc: list[str],
    message_id: str,
    pdf: bytes,
    pdf_name: str,
    einvoice: EinvoiceFile | None = None,
) -> EmailMessage:
    has_logo = bool(company.logo) and (company.logo_mime or "").startswith("image/")
    logo_cid = make_msgid(idstring="logo", domain="linkpay.local")[1:-1] if has_logo else None
    context = {**context, "subject": subject, "logo_cid": logo_cid}
    message = new_customer_message(
        company_name=company.name,
        company_email=company.email,
        subject=subject,
        to=to,
        cc=cc,
        message_id=message_id,
        language=language,
    )
    # Quoted-printable keeps the mail 7-bit clean for servers that do not announce 8BITMIME.
    message.set_content(render_template(f"{template}.txt", **context), cte="quoted-printable")
    message.add_alternative(
        render_template(f"{template}.html", **context), subtype="html", cte="quoted-printable"
    )
    if logo_cid:
        maintype, _, subtype = (company.logo_mime or "").partition("/")
        html_part = message.get_payload()[1]
        html_part.add_related(company.logo, maintype, subtype, cid=f"<{logo_cid}>")
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=pdf_name)
    if einvoice is not None:
        message.add_attachment(
            einvoice.content, maintype="application", subtype="xml", filename=einvoice.filename
        )
    return message


def deliver(message: EmailMessage) -> list[str]:
    """Hands the message to the configured SMTP server.

    Returns the recipients the server refused while accepting the others; raises
    ``MailError`` when nothing was accepted.
    """
    settings = get_settings()
    security = settings.smtp_security.strip().lower()
    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout_seconds
    where = f"{host}:{port}"
    if security not in SECURITY_MODES:
        raise MailError(f"LINKPAY_SMTP_SECURITY must be one of {', '.join(SECURITY_MODES)}.")
    try:
        if security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            if security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                client.login(settings.smtp_username, settings.smtp_password or "")
            refused = client.send_message(message)
    except smtplib.SMTPAuthenticationError:
        raise MailError(f"The mail server {where} did not accept the SMTP login.") from None
    except smtplib.SMTPRecipientsRefused as error:
        raise MailError(
            f"The mail server refused every recipient: {_refusals(error.recipients)}"
        ) from None
    except smtplib.SMTPResponseException as error:
        raise MailError(
            f"The mail server refused the message: {error.smtp_code} {_decode(error.smtp_error)}"
        ) from None
    except smtplib.SMTPNotSupportedError:
        raise MailError(f"The mail server {where} does not offer STARTTLS.") from None
    except TimeoutError:
        raise MailError(f"The mail server {where} did not answer within {timeout:g} s.") from None
    except ConnectionRefusedError:
        raise MailError(f"Could not connect to the mail server {where}: refused.") from None
    except ssl.SSLError as error:
        raise MailError(f"TLS with the mail server {where} failed: {error.reason}.") from None
    except (smtplib.SMTPException, OSError) as error:
        raise MailError(f"Mail server {where}: {error or type(error).__name__}.") from None
    return [f"{address} ({code} {_decode(reply)})" for address, (code, reply) in refused.items()]


def _decode(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)


def _refusals(recipients: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(
        f"{address} ({code} {_decode(reply)})" for address, (code, reply) in recipients.items()
    )


def outbox_dir() -> Path:
    return get_settings().data_dir / "outbox"


@dataclass(frozen=True)
class OutboxEntry:
    name: str
    received_at: datetime
    subject: str
    sender: str
    to: str


@dataclass(frozen=True)
class OutboxAttachment:
    filename: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class OutboxMessage:
    name: str
    received_at: datetime
    subject: str
    sender: str
    to: str
    cc: str
    html: str | None
    text: str | None
    attachments: list[OutboxAttachment]
    raw: bytes


def _received_at(name: str) -> datetime:
    match = OUTBOX_NAME.fullmatch(name)
    nanoseconds = int(match.group(1)) if match else 0
    return datetime.fromtimestamp(nanoseconds / 1e9, tz=UTC)


def list_outbox(*, limit: int = OUTBOX_LIMIT) -> list[OutboxEntry]:
    """Mails the demo SMTP server kept, newest first (headers only, so it stays quick)."""
    directory = outbox_dir()
    if not directory.is_dir():
        return []
    names = sorted(
        (p.name for p in directory.iterdir() if OUTBOX_NAME.fullmatch(p.name)), reverse=True
    )
    entries = []
    parser = BytesHeaderParser(policy=policy.default)
    for name in names[:limit]:
        try:
            with (directory / name).open("rb") as handle:
                headers = parser.parse(handle)
        except OSError:
            continue
        entries.append(
            OutboxEntry(
                name=name,
                received_at=_received_at(name),
                subject=str(headers.get("Subject", "")),
                sender=str(headers.get("From", "")),
                to=str(headers.get("To", "")),
            )
        )
    return entries


def read_outbox_message(name: str) -> OutboxMessage:
    if not OUTBOX_NAME.fullmatch(name):
        raise ValidationError("No such message in the Outbox.")
    path = outbox_dir() / name
    try:
        raw = path.read_bytes()
    except OSError:
        raise ValidationError("No such message in the Outbox.") from None
    message = BytesParser(policy=policy.default).parsebytes(raw)
    html_part = message.get_body(preferencelist=("html",))
    text_part = message.get_body(preferencelist=("plain",))
    html = html_part.get_content() if html_part is not None else None
    if html is not None:
        html = _inline_cid_images(message, html)
    attachments = [
        OutboxAttachment(
            filename=part.get_filename() or "(no name)",
            content_type=part.get_content_type(),
            content=part.get_payload(decode=True) or b"",
        )
        for part in message.iter_attachments()
    ]
    return OutboxMessage(
        name=name,
        received_at=_received_at(name),
        subject=str(message.get("Subject", "")),
        sender=str(message.get("From", "")),
        to=str(message.get("To", "")),
        cc=str(message.get("Cc", "")),
        html=html,
        text=text_part.get_content() if text_part is not None else None,
        attachments=attachments,
        raw=raw,
    )


def _inline_cid_images(message: EmailMessage, html: str) -> str:
    """A browser cannot resolve cid: references, so inline images become data: URIs."""
    for part in message.walk():
        content_id = part.get("Content-ID")
        if not content_id or part.get_content_maintype() != "image":
            continue
        data = base64.b64encode(part.get_payload(decode=True) or b"").decode("ascii")
        cid = str(content_id).strip().strip("<>")
        html = html.replace(f"cid:{cid}", f"data:{part.get_content_type()};base64,{data}")
    return html
