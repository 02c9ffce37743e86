"""What a customer sees of an invoice: the data gathered once, the HTML templates, the PDF.

The e-mail, the public page and the PDF all read one ``InvoiceDocument``, so the amount,
status and pay link they show can never disagree with each other.
"""

import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from email.utils import parseaddr
from functools import cache
from pathlib import Path

import qrcode
import qrcode.image.svg
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlmodel import Session, col, select

from shared.bank.references import (
    creditor_reference,
    epc_qr_payload,
    format_creditor_reference,
)
from shared.company import get_company, local_today
from shared.config import get_settings
from shared.db import read_session
from shared.document_format import amount_in_words, format_amount, format_quantity, payment_terms
from shared.errors import ValidationError
from shared.i18n import PAYMENT_BANKS, format_date, language_for, status_label, translator
from shared.invoicing import display_status
from shared.ledger.credit_notes import credit_note_lines, credit_notes_of
from shared.ledger.holds import collection_held_reason
from shared.linkpay.links import invoice_pay_link
from shared.models import (
    AccountType,
    BankAccount,
    Company,
    CreditNote,
    CreditNoteLine,
    Customer,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
)
from shared.money import eur_minor
from shared.public_urls import public_pay_url
from shared.vat import VatCategory, stated_exemption, stored_groups

logger = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).parent / "templates"
# DejaVu ships with the code (shared/fonts/LICENSE.txt) so a fresh machine renders ā, č, ē,
# ģ, ī, ķ, ļ, ņ, š, ū, ž without any system font package.
FONT_DIR = Path(__file__).parent / "fonts"
FONT = "DejaVu"


@dataclass(frozen=True)
class InvoiceDocument:
    invoice: Invoice
    lines: list[InvoiceLine]
    customer: Customer
    company: Company
    # The signed EveryPay link, and the address customers are given for it: our own
    # /i/{token}/pay, which counts the opening and redirects to a freshly signed link.
    pay_link: str | None
    pay_url: str | None
    today: date
    credit_notes: tuple[CreditNote, ...] = ()
    # Money that went back is under review: the customer is asked to get in touch
    # rather than pay (shared.ledger.holds), so there is no pay link meanwhile.
    collection_held: bool = False
    # Paying by bank transfer: the seller's regular account (None when the company has
    # none with an IBAN: no SEPA QR code then, the RF reference is printed all the same).
    seller_account: BankAccount | None = None

    @property
    def reference(self) -> str:
        """The invoice's RF creditor reference, in groups of four ("" for a draft)."""
        if self.invoice.number is None or self.invoice.id is None:
            return ""
        return format_creditor_reference(creditor_reference(invoice_id=self.invoice.id))

    @property
    def asks_for_payment(self) -> bool:
        return not (
            self.is_cancelled
            or self.is_paid
            or self.is_credited
            or self.collection_held
            or self.invoice.number is None
            or self.invoice.open_minor <= 0
        )

    @property
    def bank_transfer_text(self) -> str:
        """How to pay by transfer, or "" without a seller account to pay to."""
        account = self.seller_account
        if account is None or not self.reference:
            return ""
        return text_for(
            self,
            "bank_transfer_details",
            company=self.company.name,
            iban=account.iban,
            bank=f" ({account.bank_name})" if account.bank_name else "",
            bic=f", BIC {account.bic}" if account.bic else "",
            reference=self.reference,
        )

    @property
    def epc_payload(self) -> str | None:
        """The SEPA credit-transfer QR code's text for the open amount, or None when it
        cannot be made (no seller IBAN, not euros, nothing to pay)."""
        account = self.seller_account
        if account is None or not self.asks_for_payment or self.invoice.currency != "EUR":
            return None
        try:
            return epc_qr_payload(
                beneficiary_name=self.company.name[:70],
                iban=account.iban,
                bic=account.bic,
                amount_minor=self.invoice.open_minor,
                currency=self.invoice.currency,
                creditor_reference=self.reference,
            )
        except ValidationError:
            logger.warning("no SEPA QR code for invoice %s", self.invoice.number, exc_info=True)
            return None

    def epc_qr_svg(self) -> str:
        """The SEPA QR code as inline SVG for the public page (its CSP loads no images
        from elsewhere, and an inline SVG is not one)."""
        payload = self.epc_payload
        if payload is None:
            return ""
        image = qrcode.make(
            payload,
            image_factory=qrcode.image.svg.SvgPathImage,
            error_correction=qrcode.constants.ERROR_CORRECT_M,
        )
        return image.to_string(encoding="unicode")

    @property
    def language(self) -> str:
        return language_for(self.customer.language)

    @property
    def status(self) -> str:
        """Stored status, or "overdue" derived from today's date."""
        return display_status(self.invoice, today=self.today)

    @property
    def is_paid(self) -> bool:
        return self.invoice.status == InvoiceStatus.PAID

    @property
    def is_cancelled(self) -> bool:
        return self.invoice.status == InvoiceStatus.CANCELLED

    @property
    def is_credited(self) -> bool:
        return self.invoice.status == InvoiceStatus.CREDITED

    @property
    def contact(self) -> str:
        """How the customer reaches the seller, for the "contact us" notice."""
        ways = [way for way in (self.company.email, self.company.phone) if way]
        return f" ({', '.join(ways)})" if ways else ""

    def balance_rows(self) -> list[tuple[str, str, bool]]:
        """(label, amount, strong) from the total down to the open balance, each ledger
        total shown when it is not zero; below zero the balance is the customer's credit."""
        invoice, t = self.invoice, translator(self.language)
        rows = [(t("total"), self.money(invoice.total_minor), True)]
        for key, minor in (
            ("paid_so_far", invoice.paid_minor),
            ("credited", invoice.credited_minor),
            ("returned", invoice.returned_minor),
        ):
            if minor:
                rows.append((t(key), self.money(minor), False))
        if invoice.open_minor < 0:
            rows.append((t("credit_balance"), self.money(-invoice.open_minor), True))
        else:
            rows.append((t("amount_due"), self.money(invoice.open_minor), True))
        return rows

    @property
    def number(self) -> str:
        return self.invoice.number or text_for(self, "status_draft")

    def money(self, minor: int) -> str:
        return format_amount(minor, self.invoice.currency, language=self.language)

    @property
    def supply_date(self) -> date | None:
        """When the goods or services were supplied: the issue date unless finance set it."""
        return self.invoice.supply_date or self.invoice.issue_date

    @property
    def payment_terms(self) -> str:
        """The days from issue to due date ("14 days"), "" until both dates are known."""
        issued, due = self.invoice.issue_date, self.invoice.due_date
        if issued is None or due is None:
            return ""
        return payment_terms((due - issued).days, language=self.language)

    @property
    def amount_words(self) -> str | None:
        """The total in words when the company prints them, and the currency allows."""
        if not self.company.amount_in_words:
            return None
        return amount_in_words(
            self.invoice.total_minor, self.invoice.currency, language=self.language
        )

    def date(self, value: date | None) -> str:
        return format_date(value, self.language)

    @property
    def subtotal_minor(self) -> int:
        return self.invoice.subtotal_minor

    def vat_rows(self) -> list[tuple[str, int, int]]:
        return vat_rows(self.lines, translator(self.language))

    def vat_notes(self) -> list[str]:
        return vat_notes(self.lines, translator(self.language))

    def eur_vat_lines(self) -> list[str]:
        return eur_vat_lines(self)

    @staticmethod
    def line_vat(line: InvoiceLine | CreditNoteLine) -> str:
        return line_vat(line)

    def quantity(self, line: InvoiceLine | CreditNoteLine) -> str:
        return quantity_text(line, language=self.language)

    def template_context(self) -> dict[str, object]:
        return {
            "doc": self,
            "invoice": self.invoice,
            "company": self.company,
            "customer": self.customer,
            "t": translator(self.language),
            "status_label": status_label(self.language, self.status),
            "banks": ", ".join(PAYMENT_BANKS),
            "bank_details": bank_details(self.seller_account),
            "lang": self.language,
        }


def vat_rows(
    lines: list[InvoiceLine] | list[CreditNoteLine], t: Callable[..., str]
) -> list[tuple[str, int, int]]:
    """(rate and category, taxable net, VAT) per VAT category and rate, highest rate first."""
    return [
        (_vat_label(group.category, f"{group.rate:f}", t), group.net_minor, group.vat_minor)
        for group in stored_groups(lines)
    ]


def _vat_label(category: str, rate: str, t: Callable[..., str] | None = None) -> str:
    if category == VatCategory.STANDARD:
        return f"{rate}%"
    return f"{rate}% {t(f'vat_category_{category}') if t else category}"


def line_vat(line: InvoiceLine | CreditNoteLine) -> str:
    """The line table's VAT cell: "21%", or "0% AE" for a category without VAT."""
    return _vat_label(line.vat_category, line.vat_rate)


# The wording each category without VAT needs on the document, in this order.
_NOTED_CATEGORIES = (
    VatCategory.EXEMPT,
    VatCategory.REVERSE_CHARGE,
    VatCategory.INTRA_EU_SUPPLY,
    VatCategory.EXPORT,
)


def vat_notes(lines: list[InvoiceLine] | list[CreditNoteLine], t: Callable[..., str]) -> list[str]:
    present = {line.vat_category for line in lines}
    return [
        t(f"vat_note_{category}", reason=stated_exemption(lines))
        if category == VatCategory.EXEMPT
        else t(f"vat_note_{category}")
        for category in _NOTED_CATEGORIES
        if category in present
    ]


def eur_rate(invoice: Invoice) -> Decimal | None:
    """The invoice's rate as currency units per 1 EUR; None for a EUR invoice. Its credit
    notes use it too."""
    return Decimal(invoice.eur_exchange_rate) if invoice.eur_exchange_rate else None


def eur_vat_lines(document: "Document") -> list[str]:
    """A non-EUR document's VAT per rate and in total in EUR, as the law asks, with the
    rate used; nothing for a EUR document."""
    rate = eur_rate(document.invoice)
    if rate is None:
        return []
    t, currency, language = (
        translator(document.language),
        document.invoice.currency,
        document.language,
    )
    rows = document.vat_rows()

    def eur(minor: int) -> str:
        return format_amount(
            eur_minor(minor=minor, currency=currency, rate=rate), "EUR", language=language
        )

    rate_text = f"{rate:f}".replace(".", "," if language_for(language) == "lv" else ".")
    return [
        *(t("vat_eur_row", label=label, amount=eur(vat)) for label, _, vat in rows),
        t(
            "vat_eur_total",
            amount=eur(sum(vat for _, _, vat in rows)),
            rate=rate_text,
            currency=currency,
        ),
    ]


def text_for(document: InvoiceDocument, key: str, **values: object) -> str:
    return translator(document.language)(key, **values)


def current_company(session: Session) -> Company:
    """The seller: one company per installation. Before it is set up, the sender name of
    LINKPAY_MAIL_FROM stands in, so no customer ever reads "Invoice … from" nobody."""
    settings = get_settings()
    return get_company(session) or Company(
        name=parseaddr(settings.mail_from)[0] or "LinkPay Desk",
        timezone=settings.company_timezone,
    )


def seller_bank_account(session: Session) -> BankAccount | None:
    """The company's regular account customers pay transfers to: the first active one
    with an IBAN."""
    return session.exec(
        select(BankAccount)
        .where(
            col(BankAccount.account_type) == AccountType.REGULAR,
            col(BankAccount.active).is_(True),
            col(BankAccount.iban) != "",
        )
        .order_by(col(BankAccount.id))
    ).first()


def bank_details(account: BankAccount | None) -> list[str]:
    """The seller's bank details as the parties block prints them, whatever the status:
    "IBAN LV80BANK0000435195001", "Swedbank · BIC HABALV22"."""
    if account is None:
        return []
    bank = " · ".join(
        part for part in (account.bank_name, f"BIC {account.bic}" if account.bic else "") if part
    )
    return [f"IBAN {account.iban}", *([bank] if bank else [])]


@dataclass(frozen=True)
class TransferDetails:
    """What finance sees of an invoice's bank-transfer details."""

    reference: str
    seller_iban: str | None


def transfer_details(*, invoice_id: int) -> TransferDetails:
    with read_session() as session:
        account = seller_bank_account(session)
    return TransferDetails(
        reference=format_creditor_reference(creditor_reference(invoice_id=invoice_id)),
        seller_iban=account.iban if account else None,
    )


def load_invoice_document(
    session: Session, *, invoice: Invoice, today: date | None = None
) -> InvoiceDocument:
    customer = session.get(Customer, invoice.customer_id)
    if customer is None:
        raise ValidationError("Invoice {number} has no customer.", number=invoice.number)
    lines = session.exec(
        select(InvoiceLine)
        .where(InvoiceLine.invoice_id == invoice.id)
        .order_by(InvoiceLine.position, InvoiceLine.id)
    ).all()
    company = current_company(session)
    held = collection_held_reason(session, invoice_id=invoice.id) is not None
    pay_link = None if held else invoice_pay_link(session, invoice)
    return InvoiceDocument(
        invoice=invoice,
        lines=list(lines),
        customer=customer,
        company=company,
        pay_link=pay_link,
        pay_url=public_pay_url(invoice) if pay_link else None,
        today=today or local_today(company.timezone),
        credit_notes=tuple(credit_notes_of(session, invoice_id=invoice.id)),
        collection_held=held,
        seller_account=seller_bank_account(session),
    )


@cache
def _template_environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_template(name: str, **context: object) -> str:
    return _template_environment().get_template(name).render(**context)


def render_invoice_pdf(*, invoice_id: int) -> bytes:
    with read_session() as session:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None:
            raise ValidationError("That invoice does not exist.")
        document = load_invoice_document(session, invoice=invoice)
    return build_invoice_pdf(document)


def pdf_file_name(invoice: Invoice) -> str:
    return f"{invoice.number or f'draft-{invoice.id}'}.pdf"


# Layout constants in millimetres on A4 (210 × 297).
_MARGIN = 15.0
_WIDTH = 210.0 - 2 * _MARGIN
_LINE_COLUMNS = (82, 20, 28, 17, 33)
_ACCENT = (11, 92, 173)
_MUTED = (90, 90, 90)


def new_pdf(*, title: str, author: str, language: str) -> FPDF:
    """An A4 page in the documents' margins and font (DejaVu: every Latvian letter)."""
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_margins(_MARGIN, _MARGIN, _MARGIN)
    pdf.set_auto_page_break(auto=True, margin=_MARGIN)
    pdf.add_font(FONT, "", FONT_DIR / "DejaVuSans.ttf")
    pdf.add_font(FONT, "B", FONT_DIR / "DejaVuSans-Bold.ttf")
    pdf.set_title(title)
    pdf.set_author(author)
    pdf.set_creator("LinkPay Desk")
    pdf.set_lang(language)
    pdf.add_page()
    return pdf


def build_invoice_pdf(document: InvoiceDocument) -> bytes:
    t = translator(document.language)
    pdf = new_pdf(
        title=t("page_title", number=document.number, company=document.company.name),
        author=document.company.name,
        language=document.language,
    )
    _pdf_header(
        pdf,
        document.company,
        t("invoice"),
        [
            (t("invoice_number"), document.number),
            (t("issue_date"), document.date(document.invoice.issue_date)),
            *(
                [(t("supply_date"), document.date(document.supply_date))]
                if document.supply_date
                else []
            ),
            (t("due_date"), document.date(document.invoice.due_date)),
            *([(t("payment_terms"), document.payment_terms)] if document.payment_terms else []),
            (t("status"), status_label(document.language, document.status)),
            *([(t("payment_reference"), document.reference)] if document.reference else []),
        ],
    )
    _pdf_parties(pdf, document, t)
    _pdf_lines(pdf, document, t)
    _pdf_totals(pdf, document, document.balance_rows(), t)
    _pdf_amount_words(pdf, document, t)
    _pdf_payment(pdf, document, t)
    if document.credit_notes:
        pdf.ln(2)
        write_pdf_text(pdf, t("credit_notes"), size=9, bold=True)
        for note in document.credit_notes:
            write_pdf_text(
                pdf,
                f"{note.number} · {document.date(note.issue_date)} · "
                f"{document.money(note.total_minor)} · {note.reason}",
                size=9,
            )
    if document.invoice.notes:
        pdf.ln(4)
        write_pdf_text(pdf, t("notes"), size=9, bold=True)
        write_pdf_text(pdf, document.invoice.notes, size=9)
    _pdf_electronic(pdf, t("electronic_invoice"))
    return bytes(pdf.output())


def write_pdf_text(
    pdf: FPDF,
    value: str,
    *,
    size: float = 10,
    bold: bool = False,
    width: float = 0,
    align: str = "L",
    color: tuple[int, int, int] = (0, 0, 0),
) -> None:
    pdf.set_font(FONT, "B" if bold else "", size)
    pdf.set_text_color(*color)
    pdf.multi_cell(
        width,
        size * 0.45,
        value,
        align=align,
        new_x=XPos.LMARGIN if not width else XPos.RIGHT,
        new_y=YPos.NEXT,
    )
    pdf.set_text_color(0, 0, 0)


def _pdf_header(pdf: FPDF, company: Company, title: str, rows: list[tuple[str, str]]) -> None:
    top = pdf.get_y()
    logo_bottom = top
    if company.logo:
        try:
            pdf.image(
                io.BytesIO(company.logo),
                x=_MARGIN,
                y=top,
                w=60,
                h=20,
                keep_aspect_ratio=True,
            )
            logo_bottom = top + 22
        except Exception:
            # A logo the PDF library cannot read must not stop the invoice from going out.
            logger.warning("company logo could not be placed in the PDF", exc_info=True)
    pdf.set_xy(_MARGIN, logo_bottom)
    if logo_bottom == top:
        write_pdf_text(pdf, company.name, size=15, bold=True, width=95)
    left_bottom = pdf.get_y()

    right_x = _MARGIN + 100
    pdf.set_xy(right_x, top)
    write_pdf_text(pdf, title, size=20, bold=True, width=_WIDTH - 100, align="R", color=_ACCENT)
    pdf.set_font(FONT, "", 9)
    label_width = max(40, *(pdf.get_string_width(label) + 4 for label, _ in rows))
    pdf.set_font(FONT, "B", 9)
    value_width = max(_WIDTH - 140, *(pdf.get_string_width(value) + 1 for _, value in rows))
    # A long label ("Maksājuma references numurs") and value widen the block to the left
    # rather than overlap each other.
    rows_x = min(right_x, _MARGIN + _WIDTH - label_width - value_width)
    for label, value in rows:
        pdf.set_x(rows_x)
        pdf.set_font(FONT, "", 9)
        pdf.set_text_color(*_MUTED)
        pdf.cell(label_width, 5, label)
        pdf.set_text_color(0, 0, 0)
        pdf.set_font(FONT, "B", 9)
        pdf.cell(value_width, 5, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(left_bottom, pdf.get_y()) + 6)


def _party_lines(
    name: str, reg: str, vat: str, address: str, contact: str, t: Callable[..., str]
) -> list[str]:
    lines = [name]
    if reg:
        lines.append(f"{t('reg_no')} {reg}")
    if vat:
        lines.append(f"{t('vat_no')} {vat}")
    lines += [value for value in (address, contact) if value]
    return lines


def _pdf_parties(pdf: FPDF, document: "Document", t: Callable[..., str]) -> None:
    company, customer = document.company, document.customer
    seller = _party_lines(
        company.name,
        company.registration_number,
        company.vat_number,
        company.address,
        # Each way to reach the seller stays on one line: "+371 67 000 000" split after
        # "67" reads as two numbers. The block may still wrap between them.
        " · ".join(
            v.replace(" ", "\u00a0") for v in (company.email, company.phone, company.website) if v
        ),
        t,
    ) + bank_details(document.seller_account)
    buyer = _party_lines(
        customer.name,
        customer.registration_number,
        customer.vat_number,
        customer.address,
        customer.email,
        t,
    )
    top = pdf.get_y()
    bottoms = []
    for index, (title, lines) in enumerate(((t("seller"), seller), (t("buyer"), buyer))):
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


def quantity_text(line: InvoiceLine | CreditNoteLine, *, language: str) -> str:
    """The line table's quantity cell: "1,5 h" on a Latvian document."""
    return f"{format_quantity(line.quantity, language=language)} {line.unit}".strip()


def _pdf_lines(pdf: FPDF, document: "Document", t: Callable[..., str]) -> None:
    pdf.set_font(FONT, "", 9)
    pdf.set_draw_color(210, 210, 210)
    headings = (t("description"), t("quantity"), t("unit_price"), t("vat_percent"), t("net"))
    with pdf.table(
        col_widths=_LINE_COLUMNS,
        width=_WIDTH,
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=_headings_style(),
        line_height=5.5,
        padding=1.2,
        borders_layout="HORIZONTAL_LINES",
    ) as table:
        table.row(headings)
        for line in document.lines:
            table.row(
                (
                    line.description,
                    quantity_text(line, language=document.language),
                    document.money(line.unit_price_minor),
                    line_vat(line),
                    document.money(line.net_minor),
                )
            )
    pdf.ln(4)


def _headings_style() -> FontFace:
    return FontFace(family=FONT, emphasis="BOLD", color=(255, 255, 255), fill_color=_ACCENT)


def _pdf_totals(
    pdf: FPDF, document: "Document", totals: list[tuple[str, str, bool]], t: Callable[..., str]
) -> None:
    """The VAT breakdown, and beside it the subtotal, VAT per rate and ``totals``."""
    top = pdf.get_y()
    # VAT breakdown on the left, totals on the right, side by side.
    pdf.set_font(FONT, "", 8.5)
    # Amounts of "1 234 567,89 EUR" stay on one line; a category's label may wrap.
    with pdf.table(
        col_widths=(30, 32, 30),
        width=92,
        align="LEFT",
        text_align=("RIGHT", "RIGHT", "RIGHT"),
        headings_style=_headings_style(),
        line_height=5,
        padding=1,
        borders_layout="HORIZONTAL_LINES",
    ) as table:
        table.row((t("vat_rate"), t("taxable"), t("vat")))
        for label, net, vat in document.vat_rows():
            table.row((label, document.money(net), document.money(vat)))
    left_bottom = pdf.get_y()

    rows: list[tuple[str, str, bool]] = [
        (t("subtotal"), document.money(document.subtotal_minor), False)
    ]
    rows += [
        (f"{t('vat')} {label}", document.money(vat), False) for label, _, vat in document.vat_rows()
    ]
    rows += totals
    pdf.set_y(top)
    for label, value, strong in rows:
        pdf.set_x(_MARGIN + 95)
        pdf.set_font(FONT, "B" if strong else "", 11 if strong else 9.5)
        pdf.cell(50, 6.5 if strong else 5.5, label)
        pdf.cell(_WIDTH - 145, 6.5 if strong else 5.5, value, align="R")
        pdf.ln()
    pdf.set_y(max(left_bottom, pdf.get_y()) + 4)
    for note in document.vat_notes():
        write_pdf_text(pdf, note, size=9, bold=True)
    for line in document.eur_vat_lines():
        write_pdf_text(pdf, line, size=9)
    pdf.ln(2)


def _pdf_amount_words(pdf: FPDF, document: "Document", t: Callable[..., str]) -> None:
    if document.amount_words:
        write_pdf_text(pdf, f"{t('amount_in_words')}: {document.amount_words}", size=9)
        pdf.ln(3)


def _pdf_electronic(pdf: FPDF, line: str) -> None:
    """The document's last line: it needs no signature (Latvian accounting law allows an
    electronic document without one)."""
    pdf.ln(4)
    write_pdf_text(pdf, line, size=8, color=_MUTED)


def _qr_image(data: str):
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    code.add_data(data)
    code.make(fit=True)
    return code.make_image().get_image()


def _pdf_payment(pdf: FPDF, document: InvoiceDocument, t: Callable[..., str]) -> None:
    if document.is_cancelled:
        write_pdf_text(pdf, t("cancelled_notice"), size=11, bold=True, color=(160, 30, 30))
        return
    if document.is_paid:
        write_pdf_text(pdf, t("paid_notice"), size=11, bold=True, color=(20, 120, 60))
        return
    if document.is_credited:
        write_pdf_text(pdf, t("credited_notice"), size=11, bold=True, color=(20, 120, 60))
        return
    if document.collection_held:
        write_pdf_text(pdf, t("held_notice", contact=document.contact), size=10, bold=True)
        return
    epc = document.epc_payload
    if document.pay_url is None and epc is None:
        if document.asks_for_payment and document.bank_transfer_text:
            write_pdf_text(pdf, document.bank_transfer_text, size=9)
        return
    qr_size = 34.0
    if pdf.get_y() + qr_size + 8 > pdf.h - _MARGIN:
        pdf.add_page()
    top = pdf.get_y()
    text_x = _MARGIN
    text_width = _WIDTH
    # Below the codes and their captions, which wrap to two lines in Latvian.
    below_codes = top + qr_size
    if document.pay_url is not None:
        pdf.image(_qr_image(document.pay_url), x=_MARGIN, y=top, w=qr_size, h=qr_size)
        pdf.set_xy(_MARGIN, top + qr_size)
        write_pdf_text(pdf, t("scan_to_pay"), size=7.5, width=qr_size, align="C", color=_MUTED)
        below_codes = max(below_codes, pdf.get_y())
        text_x += qr_size + 6
        text_width -= qr_size + 6
    if epc is not None:
        # The SEPA QR code beside the LinkPay one: a banking app fills in IBAN, amount
        # and reference from it, so the transfer matches its invoice by itself.
        epc_x = _MARGIN + _WIDTH - qr_size
        pdf.image(_qr_image(epc), x=epc_x, y=top, w=qr_size, h=qr_size)
        pdf.set_xy(epc_x, top + qr_size)
        write_pdf_text(pdf, t("scan_in_bank_app"), size=7.5, width=qr_size, align="C", color=_MUTED)
        below_codes = max(below_codes, pdf.get_y())
        text_width -= qr_size + 6
    pdf.set_xy(text_x, top + 2)
    write_pdf_text(
        pdf,
        f"{t('amount_due')}: {document.money(document.invoice.open_minor)}",
        size=12,
        bold=True,
        width=text_width,
    )
    if document.pay_url is not None:
        pdf.set_xy(text_x, pdf.get_y() + 2)
        write_pdf_text(pdf, t("pay_link_label"), size=9, bold=True, width=text_width, color=_ACCENT)
        pdf.set_x(text_x)
        link_top = pdf.get_y()
        write_pdf_text(pdf, document.pay_url, size=7, width=text_width, color=_ACCENT)
        # One clickable area over the whole wrapped link: per-line links would make a
        # reader (and a mail scanner) see the same link three times.
        pdf.link(text_x, link_top, text_width, pdf.get_y() - link_top, document.pay_url)
        pdf.set_x(text_x)
        methods = ", ".join(
            (
                t("methods_cards"),
                t("methods_wallets"),
                t("methods_banks", banks=", ".join(PAYMENT_BANKS)),
            )
        )
        write_pdf_text(
            pdf, f"{t('payment_methods')}: {methods}", size=8, width=text_width, color=_MUTED
        )
    if document.bank_transfer_text:
        pdf.set_xy(text_x, pdf.get_y() + 2)
        write_pdf_text(pdf, document.bank_transfer_text, size=8, width=text_width)
    pdf.set_y(max(pdf.get_y(), below_codes + 3))


@dataclass(frozen=True)
class CreditNoteDocument:
    """A credit note as the customer reads it: its lines, and the invoice it credits."""

    note: CreditNote
    lines: list[CreditNoteLine]
    invoice: Invoice
    customer: Customer
    company: Company
    seller_account: BankAccount | None = None

    @property
    def language(self) -> str:
        return language_for(self.customer.language)

    @property
    def number(self) -> str:
        return self.note.number

    @property
    def subtotal_minor(self) -> int:
        return self.note.subtotal_minor

    def money(self, minor: int) -> str:
        return format_amount(minor, self.note.currency, language=self.language)

    @property
    def amount_words(self) -> str | None:
        if not self.company.amount_in_words:
            return None
        return amount_in_words(self.note.total_minor, self.note.currency, language=self.language)

    def date(self, value: date | None) -> str:
        return format_date(value, self.language)

    def vat_rows(self) -> list[tuple[str, int, int]]:
        return vat_rows(self.lines, translator(self.language))

    def vat_notes(self) -> list[str]:
        return vat_notes(self.lines, translator(self.language))

    def eur_vat_lines(self) -> list[str]:
        return eur_vat_lines(self)

    def template_context(self) -> dict[str, object]:
        return {
            "doc": self,
            "note": self.note,
            "invoice": self.invoice,
            "company": self.company,
            "customer": self.customer,
            "t": translator(self.language),
            "lang": self.language,
        }


# Either document: the PDF helpers above read only what both have.
Document = InvoiceDocument | CreditNoteDocument


def load_credit_note_document(session: Session, *, note: CreditNote) -> CreditNoteDocument:
    invoice = session.get(Invoice, note.invoice_id)
    customer = session.get(Customer, note.customer_id)
    if invoice is None or customer is None:
        raise ValidationError(
            "Credit note {number} has no invoice or customer.", number=note.number
        )
    return CreditNoteDocument(
        note=note,
        lines=credit_note_lines(session, credit_note_id=note.id),
        invoice=invoice,
        customer=customer,
        company=current_company(session),
        seller_account=seller_bank_account(session),
    )


def render_credit_note_pdf(*, credit_note_id: int) -> bytes:
    with read_session() as session:
        note = session.get(CreditNote, credit_note_id)
        if note is None:
            raise ValidationError("That credit note does not exist.")
        document = load_credit_note_document(session, note=note)
    return build_credit_note_pdf(document)


def credit_note_pdf_name(note: CreditNote) -> str:
    return f"{note.number}.pdf"


def build_credit_note_pdf(document: CreditNoteDocument) -> bytes:
    t = translator(document.language)
    note, invoice = document.note, document.invoice
    pdf = new_pdf(
        title=t("credit_page_title", number=note.number, company=document.company.name),
        author=document.company.name,
        language=document.language,
    )
    _pdf_header(
        pdf,
        document.company,
        t("credit_note"),
        [
            (t("credit_note_number"), note.number),
            (t("issue_date"), document.date(note.issue_date)),
            (t("credits_invoice"), invoice.number or ""),
            (t("invoice_date"), document.date(invoice.issue_date)),
        ],
    )
    _pdf_parties(pdf, document, t)
    write_pdf_text(pdf, f"{t('reason')}: {note.reason}", size=10)
    pdf.ln(3)
    _pdf_lines(pdf, document, t)
    _pdf_totals(pdf, document, [(t("credit_total"), document.money(note.total_minor), True)], t)
    _pdf_amount_words(pdf, document, t)
    _pdf_electronic(pdf, t("electronic_credit_note"))
    return bytes(pdf.output())
