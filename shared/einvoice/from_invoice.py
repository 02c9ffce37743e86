"""Today's invoice and credit-note tables as an e-invoice document, reading them only.

The invoice, customer and company tables do not yet hold everything EN 16931 asks for, so
the caller passes what is missing: optionally the buyer reference, the seller's country and
the PDF to embed. The buyer's country is the customer's own. The buyer's Peppol participant
id is the one stored on the customer, or, without one, derived from a Latvian customer's
registration number or a Latvian or Estonian VAT number (the schemes their public registers
are listed under in Peppol); the caller may also give it. Each line keeps its stored VAT
category (``shared.vat``: S, Z, E, AE, K, G); an exempt line's reason and VATEX code go
into the VAT breakdown, the other 0 % categories take their standard wording. An
intra-community supply names the buyer's country (from their VAT number) as deliver-to
country and the supply date (the issue date unless given).

Units are free text on an invoice line; the usual ones map to UN/ECE recommendation 20
codes and anything else to C62 ("one"), so an e-invoice never carries a made-up code.

Invoices saved since the VAT categories round VAT once per category and rate, as EN 16931
does; older ones were rounded per line. Where the stored total and EN 16931's disagree the
document is refused with a message rather than sent with a total that differs from the PDF
the customer already has. A credit note states the VAT it stored: for what was left of an
invoice after earlier credit notes that is what was left, which may be a cent away from the
rate applied afresh, as EN 16931 allows (BR-CO-17, BR-S-09).
"""

from datetime import date
from decimal import Decimal

from shared.einvoice.model import (
    LATVIAN_REGISTRATION_SCHEME,
    LATVIAN_VAT_SCHEME,
    VATEX_CODES,
    Address,
    Attachment,
    Document,
    DocumentType,
    ElectronicAddress,
    Exemption,
    Line,
    ModelError,
    Party,
    PaymentMeans,
    VatCategory,
)
from shared.models import (
    BankAccount,
    Company,
    CreditNote,
    CreditNoteLine,
    Customer,
    Invoice,
    InvoiceLine,
)
from shared.money import exponent, from_minor, to_minor
from shared.vat import exemption_text

ESTONIAN_VAT_SCHEME = "9931"

UNIT_CODES = {
    "": "C62",
    "pcs": "H87",
    "pc": "H87",
    "gab": "H87",
    "gab.": "H87",
    "h": "HUR",
    "hour": "HUR",
    "hours": "HUR",
    "stunda": "HUR",
    "stundas": "HUR",
    "day": "DAY",
    "days": "DAY",
    "diena": "DAY",
    "dienas": "DAY",
    "month": "MON",
    "mēn.": "MON",
    "mēnesis": "MON",
    "kg": "KGM",
    "m": "MTR",
    "km": "KMT",
    "l": "LTR",
}


def unit_code(unit: str) -> str:
    return UNIT_CODES.get(unit.strip().lower(), "C62")


def _seller(company: Company, *, country: str) -> Party:
    if company.registration_number and country == "LV":
        endpoint = ElectronicAddress(LATVIAN_REGISTRATION_SCHEME, company.registration_number)
    elif company.vat_number and country == "LV":
        endpoint = ElectronicAddress(LATVIAN_VAT_SCHEME, company.vat_number)
    else:
        raise ModelError("The company needs its Peppol participant id to send e-invoices.")
    return Party(
        name=company.name,
        address=Address(country=country, street=company.address),
        electronic_address=endpoint,
        registration_number=company.registration_number,
        registration_scheme=LATVIAN_REGISTRATION_SCHEME if country == "LV" else "",
        vat_id=company.vat_number,
        contact_email=company.email,
    )


def customer_endpoint(customer: Customer) -> ElectronicAddress:
    """The customer's Peppol participant id: stored, or derived from their numbers."""
    if customer.peppol_scheme and customer.peppol_id:
        return ElectronicAddress(customer.peppol_scheme, customer.peppol_id)
    vat_number = customer.vat_number.replace(" ", "").upper()
    registration = customer.registration_number.replace(" ", "")
    if customer.country == "LV" and len(registration) == 11 and registration.isdigit():
        return ElectronicAddress(LATVIAN_REGISTRATION_SCHEME, registration)
    if vat_number.startswith("LV"):
        return ElectronicAddress(LATVIAN_VAT_SCHEME, vat_number)
    if vat_number.startswith("EE"):
        return ElectronicAddress(ESTONIAN_VAT_SCHEME, vat_number)
    raise ModelError(
        f"Customer {customer.name} has no e-invoice address: give their Peppol participant id"
        " on the Customers page."
    )


def _buyer(customer: Customer, *, endpoint: ElectronicAddress | None) -> Party:
    """The customer as the buyer, at the address given, else their own (stored or derived)."""
    country = customer.country
    return Party(
        name=customer.name,
        address=Address(country=country, street=customer.address),
        electronic_address=endpoint or customer_endpoint(customer),
        registration_number=customer.registration_number,
        registration_scheme=LATVIAN_REGISTRATION_SCHEME
        if country == "LV" and customer.registration_number
        else "",
        vat_id=customer.vat_number,
        contact_email=customer.email,
    )


def _line(line: InvoiceLine | CreditNoteLine, *, position: int, currency: str) -> Line:
    category = VatCategory(line.vat_category)
    exemption = None
    if category is VatCategory.EXEMPT:
        # The editor offers article codes the VATEX list lacks (VATEX-EU-135); the text,
        # which names the article, then stands alone as the reason (BR-E-10, BR-CL-22).
        code = line.vat_exemption_code if line.vat_exemption_code in VATEX_CODES else ""
        exemption = Exemption(
            exemption_text(reason=line.vat_exemption_reason, code=line.vat_exemption_code), code
        )
    return Line(
        id=str(position),
        name=line.description,
        quantity=Decimal(line.quantity),
        unit_code=unit_code(line.unit),
        net_price=from_minor(line.unit_price_minor, currency),
        vat_category=category,
        vat_rate=Decimal(line.vat_rate),
        exemption=exemption,
    )


def _lines(lines: list[InvoiceLine] | list[CreditNoteLine], *, currency: str) -> tuple[Line, ...]:
    ordered = sorted(lines, key=lambda line: line.position)
    return tuple(
        _line(line, position=index, currency=currency)
        for index, line in enumerate(ordered, start=1)
    )


def _stored_vat(
    lines: list[CreditNoteLine], *, currency: str
) -> dict[tuple[VatCategory, Decimal], Decimal]:
    """The VAT each (category, rate) group of a credit note carries, as it was stored."""
    stored: dict[tuple[VatCategory, Decimal], Decimal] = {}
    for line in lines:
        group = (VatCategory(line.vat_category), Decimal(line.vat_rate).normalize())
        stored[group] = stored.get(group, Decimal("0.00")) + from_minor(line.vat_minor, currency)
    return stored


def _intra_eu(lines: tuple[Line, ...], buyer: Party, supply_date: date) -> dict[str, object]:
    """BT-80 and BT-72, which an intra-community supply needs (BR-IC-11, BR-IC-12)."""
    if not any(line.vat_category is VatCategory.INTRA_EU_SUPPLY for line in lines):
        return {}
    return {"delivery_country": buyer.address.country, "supply_date": supply_date}


def _embedded_pdf(
    number: str, pdf: bytes | None, filename: str, *, description: str
) -> tuple[Attachment, ...]:
    """The PDF the customer also has, inside the e-invoice (BG-24)."""
    if pdf is None:
        return ()
    return (
        Attachment(
            id=number, filename=filename or f"{number}.pdf", content=pdf, description=description
        ),
    )


def document_from_invoice(
    *,
    invoice: Invoice,
    lines: list[InvoiceLine],
    customer: Customer,
    company: Company,
    buyer_endpoint: ElectronicAddress | None = None,
    bank_account: BankAccount | None = None,
    payment_reference: str = "",
    buyer_reference: str = "",
    seller_country: str = "LV",
    eur_exchange_rate: Decimal | None = None,
    supply_date: date | None = None,
    pdf: bytes | None = None,
    pdf_filename: str = "",
) -> Document:
    """The e-invoice for an issued invoice; the buyer reference defaults to its number."""
    if not invoice.number or invoice.issue_date is None:
        raise ModelError("Only an issued invoice, with its number, becomes an e-invoice.")
    if exponent(invoice.currency) != 2:
        raise ModelError(f"E-invoices in {invoice.currency} are not supported.")
    buyer = _buyer(customer, endpoint=buyer_endpoint)
    document_lines = _lines(lines, currency=invoice.currency)
    means = None
    if bank_account is not None and bank_account.iban:
        means = PaymentMeans(
            iban=bank_account.iban.replace(" ", ""),
            account_name=bank_account.name,
            payment_id=payment_reference,
        )
    attachments = _embedded_pdf(invoice.number, pdf, pdf_filename, description="Invoice")
    document = Document(
        type=DocumentType.INVOICE,
        number=invoice.number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        seller=_seller(company, country=seller_country),
        buyer=buyer,
        lines=document_lines,
        buyer_reference=buyer_reference or invoice.number,
        payment_means=means,
        prepaid=from_minor(invoice.paid_minor, invoice.currency),
        eur_exchange_rate=eur_exchange_rate,
        attachments=attachments,
        **_intra_eu(
            document_lines, buyer, supply_date or invoice.supply_date or invoice.issue_date
        ),
    )
    _check_totals(document, name=f"Invoice {invoice.number}", stored_minor=invoice.total_minor)
    return document


def document_from_credit_note(
    *,
    note: CreditNote,
    lines: list[CreditNoteLine],
    invoice: Invoice,
    customer: Customer,
    company: Company,
    buyer_endpoint: ElectronicAddress | None = None,
    buyer_reference: str = "",
    seller_country: str = "LV",
    eur_exchange_rate: Decimal | None = None,
    supply_date: date | None = None,
    pdf: bytes | None = None,
    pdf_filename: str = "",
) -> Document:
    """The e-invoice credit note (type 381), naming the invoice it corrects (BT-25)."""
    if exponent(note.currency) != 2:
        raise ModelError(f"E-invoices in {note.currency} are not supported.")
    buyer = _buyer(customer, endpoint=buyer_endpoint)
    document_lines = _lines(lines, currency=note.currency)
    attachments = _embedded_pdf(note.number, pdf, pdf_filename, description="Credit note")
    document = Document(
        type=DocumentType.CREDIT_NOTE,
        number=note.number,
        issue_date=note.issue_date,
        currency=note.currency,
        seller=_seller(company, country=seller_country),
        buyer=buyer,
        lines=document_lines,
        buyer_reference=buyer_reference or invoice.number or note.number,
        preceding_invoice=invoice.number or "",
        preceding_invoice_date=invoice.issue_date,
        note=note.reason,
        eur_exchange_rate=eur_exchange_rate,
        attachments=attachments,
        stated_vat=_stored_vat(lines, currency=note.currency),
        **_intra_eu(
            document_lines,
            buyer,
            supply_date or invoice.supply_date or invoice.issue_date or note.issue_date,
        ),
    )
    _check_totals(document, name=f"Credit note {note.number}", stored_minor=note.total_minor)
    return document


def _check_totals(document: Document, *, name: str, stored_minor: int) -> None:
    totals = document.totals()
    stated = to_minor(totals.tax_inclusive, document.currency)
    if stated != stored_minor:
        stored = from_minor(stored_minor, document.currency)
        raise ModelError(
            f"{name} totals {stored} {document.currency} as stored; with VAT rounded once per"
            f" VAT category and rate, as e-invoices require, it is {totals.tax_inclusive}."
            " Re-total it before sending it as an e-invoice."
        )
