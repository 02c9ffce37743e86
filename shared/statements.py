"""What a customer receives of their statement (``shared.ledger.statement``): the PDF to
sign and return, as Latvian practice expects of a "salīdzināšanās akts", and the e-mail
that carries it, both in the customer's language; and the table the Customers page shows.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from email.message import EmailMessage
from typing import Any

from fpdf import FPDF
from fpdf.fonts import FontFace

from shared.audit import record_audit
from shared.company import company_settings, local_today
from shared.db import read_session, write_session
from shared.document_format import format_amount
from shared.documents import FONT, new_pdf, render_template, write_pdf_text
from shared.errors import ValidationError
from shared.exports import Column, Table
from shared.i18n import format_date, language_for, translator
from shared.ledger.statement import (
    INVOICE_LINE,
    CurrencyStatement,
    Party,
    Statement,
    StatementLine,
    customer_statement,
)
from shared.mail import (
    MailError,
    deliver,
    format_recipients,
    new_customer_message,
    parse_addresses,
)
from shared.models import LedgerEntryKind, LedgerSource
from shared.money import from_minor
from shared.users import require_permission

logger = logging.getLogger(__name__)

_LINE_KEYS = {
    LedgerSource.LINKPAY: "line_linkpay",
    LedgerSource.BANK_TRANSFER: "line_bank_transfer",
    LedgerSource.BANK_STATEMENT: "line_bank_statement",
    LedgerSource.CASH: "line_cash",
    LedgerSource.SET_OFF: "line_set_off",
    LedgerSource.CUSTOMER_CREDIT: "line_customer_credit",
    LedgerSource.CREDIT_NOTE: "line_credit_note",
    LedgerSource.REFUND: "line_refund_back",
    LedgerSource.CHARGEBACK: "line_chargeback_back",
    LedgerSource.REVERSAL: "line_reversal",
}
_KIND_KEYS = {
    LedgerEntryKind.PAYMENT: "line_payment",
    LedgerEntryKind.CREDIT_NOTE: "line_credit_note",
    LedgerEntryKind.MONEY_BACK: "line_money_back",
}
# EveryPay's payment references are 64 hex digits: the start is enough to find one.
_REFERENCE_SHOWN = 24


def line_description(line: StatementLine, language: str) -> str:
    """What the line is, in words the customer reads, with its reference."""
    t = translator(language)
    if line.kind == INVOICE_LINE:
        return t("line_invoice")
    if line.kind == LedgerEntryKind.PAYMENT and line.debit_minor:
        # A payment taken back: credit moved on to another invoice, or a booking undone.
        key = (
            "line_credit_moved" if line.source == LedgerSource.CUSTOMER_CREDIT else "line_reversal"
        )
    else:
        key = _LINE_KEYS.get(line.source) or _KIND_KEYS[line.kind]
    reference = line.reference
    if len(reference) > _REFERENCE_SHOWN:
        reference = reference[:_REFERENCE_SHOWN] + "…"
    return f"{t(key)} {reference}".strip()


def balance_sentence(statement: Statement, figures: CurrencyStatement, language: str) -> str:
    """The closing balance as the customer is asked to confirm it."""
    t = translator(language)
    values = {
        "day": format_date(statement.date_to, language),
        "company": statement.company.name,
        "amount": format_amount(abs(figures.closing_minor), figures.currency, language=language),
    }
    if figures.closing_minor > 0:
        return t("statement_owed_to_us", **values)
    if figures.closing_minor < 0:
        return t("statement_owed_to_you", **values)
    return t("statement_nothing_owed", **values)


def statement_file_name(*, customer_id: int, date_from: date, date_to: date) -> str:
    return f"statement-{customer_id}-{date_from}-{date_to}.pdf"


# --- The table on the Customers page ----------------------------------------------------

STATEMENT_COLUMNS = (
    Column("date", "Date", "date"),
    Column("currency", "Currency"),
    Column("document", "Document"),
    Column("description", "Description"),
    Column("debit", "Debit", "money"),
    Column("credit", "Credit", "money"),
    Column("balance", "Balance", "money"),
)


def statement_table(
    statement: Statement, *, language: str = "en", wording: Callable[[str], str] = str
) -> Table:
    """Per currency: the opening balance, every line, the closing balance. The lines say
    what they are in ``language`` (as the statement's PDF does), the balance rows through
    ``wording`` (the dashboard's translation; English as it is by default)."""
    rows: list[tuple[Any, ...]] = []
    for figures in statement.currencies:
        currency = figures.currency
        rows.append(
            (
                statement.date_from,
                currency,
                "",
                wording("Opening balance"),
                None,
                None,
                from_minor(figures.opening_minor, currency),
            )
        )
        rows += [
            (
                line.day,
                currency,
                line.document,
                line_description(line, language),
                from_minor(line.debit_minor, currency) if line.debit_minor else None,
                from_minor(line.credit_minor, currency) if line.credit_minor else None,
                from_minor(line.balance_minor, currency),
            )
            for line in figures.lines
        ]
        rows.append(
            (
                statement.date_to,
                currency,
                "",
                wording("Closing balance"),
                from_minor(figures.debit_minor, currency),
                from_minor(figures.credit_minor, currency),
                from_minor(figures.closing_minor, currency),
            )
        )
    return Table(STATEMENT_COLUMNS, tuple(rows), total=len(rows))


# --- The PDF ----------------------------------------------------------------------------

# Millimetres on A4 portrait, as the invoice PDF.
_MARGIN = 15.0
_WIDTH = 210.0 - 2 * _MARGIN
_COLUMNS = (21, 31, 56, 24, 24, 24)
_ACCENT = (11, 92, 173)
_MUTED = (90, 90, 90)


def build_statement_pdf(statement: Statement, *, today: date) -> bytes:
    language = language_for(statement.language)
    t = translator(language)
    pdf = new_pdf(
        title=f"{t('statement')} — {statement.customer.name}",
        author=statement.company.name,
        language=language,
    )
    _header(pdf, statement, t, language, today)
    _parties(pdf, statement, t)
    if not statement.currencies:
        write_pdf_text(pdf, t("statement_no_movements"), size=10)
        pdf.ln(2)
        write_pdf_text(
            pdf,
            t(
                "statement_nothing_owed",
                day=format_date(statement.date_to, language),
                company=statement.company.name,
            ),
            size=10,
            bold=True,
        )
    for figures in statement.currencies:
        _currency_table(pdf, statement, figures, t, language)
    pdf.ln(4)
    write_pdf_text(pdf, t("statement_confirm_request"), size=9)
    _signatures(pdf, statement, t)
    return bytes(pdf.output())


def _header(
    pdf: FPDF, statement: Statement, t: Callable[..., str], language: str, today: date
) -> None:
    top = pdf.get_y()
    write_pdf_text(pdf, statement.company.name, size=15, bold=True, width=95)
    left_bottom = pdf.get_y()
    right_x = _MARGIN + 95
    pdf.set_xy(right_x, top)
    write_pdf_text(
        pdf, t("statement"), size=18, bold=True, width=_WIDTH - 95, align="R", color=_ACCENT
    )
    period = t(
        "statement_period",
        date_from=format_date(statement.date_from, language),
        date_to=format_date(statement.date_to, language),
    )
    for value in (period, t("statement_prepared", day=format_date(today, language))):
        pdf.set_x(right_x)
        write_pdf_text(pdf, value, size=9, width=_WIDTH - 95, align="R", color=_MUTED)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 6)


def _party_lines(party: Party, t: Callable[..., str]) -> list[str]:
    lines = [party.name]
    if party.registration_number:
        lines.append(f"{t('reg_no')} {party.registration_number}")
    if party.vat_number:
        lines.append(f"{t('vat_no')} {party.vat_number}")
    return lines + [value for value in (party.address, party.email) if value]


def _two_columns(pdf: FPDF, blocks: list[tuple[str, list[str]]]) -> None:
    top = pdf.get_y()
    bottoms = []
    for index, (title, lines) in enumerate(blocks):
        x = _MARGIN + index * (_WIDTH / 2)
        pdf.set_xy(x, top)
        write_pdf_text(pdf, title.upper(), size=8, bold=True, width=_WIDTH / 2 - 5, color=_MUTED)
        for number, line in enumerate(lines):
            pdf.set_x(x)
            write_pdf_text(
                pdf, line, size=10 if number else 11, bold=number == 0, width=_WIDTH / 2 - 5
            )
        bottoms.append(pdf.get_y())
    pdf.set_xy(_MARGIN, max(bottoms) + 6)


def _parties(pdf: FPDF, statement: Statement, t: Callable[..., str]) -> None:
    _two_columns(
        pdf,
        [
            (t("seller"), _party_lines(statement.company, t)),
            (t("buyer"), _party_lines(statement.customer, t)),
        ],
    )


def _currency_table(
    pdf: FPDF,
    statement: Statement,
    figures: CurrencyStatement,
    t: Callable[..., str],
    language: str,
) -> None:
    currency = figures.currency

    def money(minor: int) -> str:
        return format_amount(minor, currency, language=language)

    write_pdf_text(pdf, t("statement_currency", currency=currency), size=10, bold=True)
    pdf.ln(1)
    pdf.set_font(FONT, "", 8.5)
    pdf.set_draw_color(210, 210, 210)
    bold = FontFace(family=FONT, emphasis="BOLD")
    with pdf.table(
        col_widths=_COLUMNS,
        width=_WIDTH,
        text_align=("LEFT", "LEFT", "LEFT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=FontFace(
            family=FONT, emphasis="BOLD", color=(255, 255, 255), fill_color=_ACCENT
        ),
        line_height=5,
        padding=1,
        borders_layout="HORIZONTAL_LINES",
    ) as table:
        table.row(
            (
                t("statement_date"),
                t("statement_document"),
                t("description"),
                t("statement_debit"),
                t("statement_credit"),
                t("statement_balance"),
            )
        )
        opening = t("statement_opening", day=format_date(statement.date_from, language))
        table.row(("", "", opening, "", "", money(figures.opening_minor)), style=bold)
        for line in figures.lines:
            table.row(
                (
                    # Numeric in both languages: the column is narrow.
                    line.day.strftime("%d.%m.%Y"),
                    line.document,
                    line_description(line, language),
                    money(line.debit_minor) if line.debit_minor else "",
                    money(line.credit_minor) if line.credit_minor else "",
                    money(line.balance_minor),
                )
            )
        table.row(
            (
                "",
                "",
                t("statement_turnover"),
                money(figures.debit_minor),
                money(figures.credit_minor),
                "",
            )
        )
        closing = t("statement_closing", day=format_date(statement.date_to, language))
        table.row(("", "", closing, "", "", money(figures.closing_minor)), style=bold)
    pdf.ln(2)
    write_pdf_text(pdf, balance_sentence(statement, figures, language), size=10, bold=True)
    pdf.ln(4)


def _signatures(pdf: FPDF, statement: Statement, t: Callable[..., str]) -> None:
    blank = "_" * 20
    signature = [
        f"{t('statement_signature')}: {blank}",
        f"{t('statement_signer')}: {blank}",
        f"{t('statement_sign_date')}: {blank}",
    ]
    # Both signature blocks stay on one page with their heading.
    if pdf.get_y() + 55 > pdf.h - _MARGIN:
        pdf.add_page()
    pdf.ln(4)
    _two_columns(
        pdf,
        [
            (t("seller"), [statement.company.name, "", *signature]),
            (
                t("buyer"),
                [
                    statement.customer.name,
                    t("statement_agree"),
                    t("statement_disagree"),
                    "",
                    *signature,
                ],
            ),
        ],
    )


# --- Downloading and sending ------------------------------------------------------------


def load_statement(*, customer_id: int, date_from: date, date_to: date) -> Statement:
    with read_session() as session:
        return customer_statement(
            session, customer_id=customer_id, date_from=date_from, date_to=date_to
        )


def _company_today() -> date:
    with read_session() as session:
        return local_today(company_settings(session).timezone)


def statement_pdf(*, customer_id: int, date_from: date, date_to: date, actor: str) -> bytes:
    """The statement's PDF for a person to download; who made it is audited."""
    with read_session() as session:
        require_permission(session, actor=actor, permission="view")
    statement = load_statement(customer_id=customer_id, date_from=date_from, date_to=date_to)
    pdf = build_statement_pdf(statement, today=_company_today())
    with write_session() as session:
        record_audit(
            session,
            actor=actor,
            action="customer.statement_pdf",
            entity_type="customer",
            entity_id=customer_id,
            details={"from": str(date_from), "to": str(date_to)},
        )
    return pdf


def compose_statement_email(
    *, statement: Statement, to: list[str], cc: list[str], pdf: bytes
) -> EmailMessage:
    """multipart/mixed: [alternative: [text, html], statement PDF]."""
    language = language_for(statement.language)
    t = translator(language)
    dates = {
        "date_from": format_date(statement.date_from, language),
        "date_to": format_date(statement.date_to, language),
    }
    subject = t("subject_statement", company=statement.company.name, **dates)
    message = new_customer_message(
        company_name=statement.company.name,
        company_email=statement.company.email,
        subject=subject,
        to=to,
        cc=cc,
        message_id=None,
        language=language,
    )
    context = {
        "t": t,
        "lang": language,
        "subject": subject,
        "company": statement.company,
        "intro": t("intro_statement", company=statement.company.name, **dates),
        "balances": [
            (
                t("statement_closing", day=dates["date_to"]),
                format_amount(figures.closing_minor, figures.currency, language=language),
                balance_sentence(statement, figures, language),
            )
            for figures in statement.currencies
        ],
    }
    message.set_content(render_template("statement_email.txt", **context), cte="quoted-printable")
    message.add_alternative(
        render_template("statement_email.html", **context), subtype="html", cte="quoted-printable"
    )
    message.add_attachment(
        pdf,
        maintype="application",
        subtype="pdf",
        filename=statement_file_name(
            customer_id=statement.customer_id,
            date_from=statement.date_from,
            date_to=statement.date_to,
        ),
    )
    return message


@dataclass(frozen=True)
class StatementSent:
    recipients: str
    error: str | None  # why the mail server did not take it (all or some recipients)


def send_statement_email(
    *,
    customer_id: int,
    date_from: date,
    date_to: date,
    actor: str,
    to: str | None = None,
    cc: str | None = None,
) -> StatementSent:
    """E-mails the statement to ``to``/``cc`` (default: the customer's addresses).

    Raises ValidationError for what the user can fix (no or a bad address); a mail
    server's refusal is returned in ``error`` and audited as a failure."""
    with read_session() as session:
        require_permission(session, actor=actor, permission="edit")
    statement = load_statement(customer_id=customer_id, date_from=date_from, date_to=date_to)
    to_list = parse_addresses(statement.email if to is None else to, field="to")
    cc_list = parse_addresses(statement.cc_emails if cc is None else cc, field="cc")
    if not to_list:
        raise ValidationError("The customer has no e-mail address: give a recipient.", field="to")
    message = compose_statement_email(
        statement=statement,
        to=to_list,
        cc=cc_list,
        pdf=build_statement_pdf(statement, today=_company_today()),
    )
    recipients = format_recipients(to_list, cc_list)
    try:
        refused = deliver(message)
        error = f"Refused by the mail server: {'; '.join(refused)}" if refused else None
    except MailError as failure:
        logger.warning("statement e-mail to customer %s failed: %s", customer_id, failure)
        error = str(failure)
    with write_session() as session:
        record_audit(
            session,
            actor=actor,
            action="customer.statement_email",
            entity_type="customer",
            entity_id=customer_id,
            outcome="failed" if error else "ok",
            details={
                "from": str(date_from),
                "to": str(date_to),
                "recipients": recipients[:500],
                "message_id": str(message["Message-ID"]),
                "error": error,
            },
        )
    return StatementSent(recipients=recipients, error=error)
