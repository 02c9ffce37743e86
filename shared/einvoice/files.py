"""The e-invoice file of an invoice or credit note, checked before anyone receives it.

Built from the same loaded document the PDF is made from, with that PDF embedded (BG-24),
then checked with the project's EN 16931 / Peppol rules. A document the rules refuse is
never handed out: the sender gets a ValidationError naming the rule id and what to fix.
"""

from dataclasses import dataclass

from shared.documents import (
    CreditNoteDocument,
    InvoiceDocument,
    credit_note_pdf_name,
    eur_rate,
    pdf_file_name,
)
from shared.einvoice.from_invoice import document_from_credit_note, document_from_invoice
from shared.einvoice.model import Document, ModelError
from shared.einvoice.rules import Finding, fatal, validate
from shared.einvoice.ubl import to_ubl
from shared.errors import ValidationError

MIME_TYPE = "application/xml"

# What to change in LinkPay Desk when a rule the app's own data can break fails; "{party}"
# is "customer" or "company" as the failing element's place in the document says.
FIXES = {
    "BR-CO-09": "the {party}'s VAT number must start with its country code (e.g. LV40003245752):"
    " correct it on the {page} page",
    # A participant id saved before its check digits were checked on the Customers page.
    **dict.fromkeys(
        ("PEPPOL-COMMON-R040", "PEPPOL-COMMON-R041", "PEPPOL-COMMON-R043", "PEPPOL-COMMON-R049"),
        "the {party}'s e-invoice address has a wrong check digit: correct it on the {page} page",
    ),
}


@dataclass(frozen=True)
class EinvoiceFile:
    number: str  # the invoice or credit note number
    filename: str
    content: bytes


def _problem(finding: Finding) -> str:
    buyer = "AccountingCustomerParty" in finding.location
    fix = FIXES.get(finding.rule_id)
    if fix is None:
        return f"{finding.rule_id}: {finding.message}"
    party, page = ("customer", "Customers") if buyer else ("company", "Company")
    return f"{finding.rule_id}: {fix.format(party=party, page=page)}."


def checked_ubl(document: Document) -> bytes:
    """The UBL XML of ``document``, or a ValidationError naming each fatal rule it breaks."""
    xml = to_ubl(document)
    broken = fatal(validate(xml))
    if broken:
        problems = list(dict.fromkeys(_problem(finding) for finding in broken))
        raise ValidationError(
            "The e-invoice {number} was not sent: {problems}",
            number=document.number,
            problems=" ".join(problems),
        )
    return xml


def _refused(number: str, error: ModelError) -> ValidationError:
    return ValidationError(
        "The e-invoice {number} was not sent: {error}", number=number, error=error
    )


def invoice_einvoice(document: InvoiceDocument, *, pdf: bytes) -> EinvoiceFile:
    invoice = document.invoice
    try:
        ubl = document_from_invoice(
            invoice=invoice,
            lines=document.lines,
            customer=document.customer,
            company=document.company,
            bank_account=document.seller_account,
            payment_reference=document.reference.replace(" ", ""),
            pdf=pdf,
            pdf_filename=pdf_file_name(invoice),
            eur_exchange_rate=eur_rate(invoice),
        )
    except ModelError as error:
        raise _refused(invoice.number or "", error) from None
    return EinvoiceFile(invoice.number or "", f"{invoice.number}.xml", checked_ubl(ubl))


def credit_note_einvoice(document: CreditNoteDocument, *, pdf: bytes) -> EinvoiceFile:
    note = document.note
    try:
        ubl = document_from_credit_note(
            note=note,
            lines=document.lines,
            invoice=document.invoice,
            customer=document.customer,
            company=document.company,
            pdf=pdf,
            pdf_filename=credit_note_pdf_name(note),
            eur_exchange_rate=eur_rate(document.invoice),
        )
    except ModelError as error:
        raise _refused(note.number, error) from None
    return EinvoiceFile(note.number, f"{note.number}.xml", checked_ubl(ubl))
