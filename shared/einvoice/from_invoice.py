"""Today's invoice tables as an e-invoice document, reading them only.

The invoice, customer and company tables do not yet hold everything EN 16931 asks for, so
the caller passes what is missing: optionally the buyer reference, the seller's country and
the PDF to embed. The buyer's Peppol participant id is the one stored on the customer, or,
without one, derived from a Latvian or Estonian registration or VAT number (the schemes
their public registers are listed under in Peppol); the caller may also give it. Lines map to VAT category S,
or Z at 0 %; exempt, reverse-charge and export lines need the VAT categories of issue 16
in the invoice tables first.

Units are free text on an invoice line; the usual ones map to UN/ECE recommendation 20
codes and anything else to C62 ("one"), so an e-invoice never carries a made-up code.

The stored totals were computed with VAT rounded per line, while EN 16931 rounds per VAT
rate. Where the two disagree the invoice is refused with a message rather than sent with
a total that differs from the PDF the customer already has.
"""

from decimal import Decimal

from shared.einvoice.model import (
    LATVIAN_REGISTRATION_SCHEME,
    LATVIAN_VAT_SCHEME,
    Address,
    Attachment,
    Document,
    DocumentType,
    ElectronicAddress,
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


def _country(vat_number: str, default: str) -> str:
    prefix = vat_number[:2].upper()
    if prefix == "EL":  # Greece writes EL in VAT numbers, GR in addresses
        return "GR"
    return prefix if len(prefix) == 2 and prefix.isalpha() else default


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


def customer_endpoint(customer: Customer, *, default_country: str = "LV") -> ElectronicAddress:
    """The customer's Peppol participant id: stored, or derived from their numbers."""
    if customer.peppol_scheme and customer.peppol_id:
        return ElectronicAddress(customer.peppol_scheme, customer.peppol_id)
    vat_number = customer.vat_number.replace(" ", "").upper()
    country = _country(vat_number, default_country)
    registration = customer.registration_number.replace(" ", "")
    if country == "LV" and len(registration) == 11 and registration.isdigit():
        return ElectronicAddress(LATVIAN_REGISTRATION_SCHEME, registration)
    if vat_number.startswith("LV"):
        return ElectronicAddress(LATVIAN_VAT_SCHEME, vat_number)
    if vat_number.startswith("EE"):
        return ElectronicAddress(ESTONIAN_VAT_SCHEME, vat_number)
    raise ModelError(
        f"Customer {customer.name} has no e-invoice address: give their Peppol participant id"
        " on the Customers page."
    )


def _buyer(customer: Customer, *, endpoint: ElectronicAddress, default_country: str) -> Party:
    country = _country(customer.vat_number, default_country)
    return Party(
        name=customer.name,
        address=Address(country=country, street=customer.address),
        electronic_address=endpoint,
        registration_number=customer.registration_number,
        registration_scheme=LATVIAN_REGISTRATION_SCHEME
        if country == "LV" and customer.registration_number
        else "",
        vat_id=customer.vat_number,
        contact_email=customer.email,
    )


def _line(line: InvoiceLine | CreditNoteLine, *, position: int, currency: str) -> Line:
    rate = Decimal(line.vat_rate)
    return Line(
        id=str(position),
        name=line.description,
        quantity=Decimal(line.quantity),
        unit_code=unit_code(line.unit),
        net_price=from_minor(line.unit_price_minor, currency),
        vat_category=VatCategory.STANDARD if rate > 0 else VatCategory.ZERO_RATED,
        vat_rate=rate,
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
    pdf: bytes | None = None,
    pdf_filename: str = "",
) -> Document:
    """The e-invoice for an issued invoice; the buyer reference defaults to its number."""
    if not invoice.number or invoice.issue_date is None:
        raise ModelError("Only an issued invoice, with its number, becomes an e-invoice.")
    if exponent(invoice.currency) != 2:
        raise ModelError(f"E-invoices in {invoice.currency} are not supported.")
    ordered = sorted(lines, key=lambda line: line.position)
    means = None
    if bank_account is not None and bank_account.iban:
        means = PaymentMeans(
            iban=bank_account.iban.replace(" ", ""),
            account_name=bank_account.name,
            payment_id=payment_reference,
        )
    attachments: tuple[Attachment, ...] = ()
    if pdf is not None:
        attachments = (
            Attachment(
                id=invoice.number,
                filename=pdf_filename or f"{invoice.number}.pdf",
                content=pdf,
                description="Invoice",
            ),
        )
    document = Document(
        type=DocumentType.INVOICE,
        number=invoice.number,
        issue_date=invoice.issue_date,
        due_date=invoice.due_date,
        currency=invoice.currency,
        seller=_seller(company, country=seller_country),
        buyer=_buyer(
            customer,
            endpoint=buyer_endpoint or customer_endpoint(customer, default_country=seller_country),
            default_country=seller_country,
        ),
        lines=tuple(
            _line(line, position=index, currency=invoice.currency)
            for index, line in enumerate(ordered, start=1)
        ),
        buyer_reference=buyer_reference or invoice.number,
        payment_means=means,
        prepaid=from_minor(invoice.paid_minor, invoice.currency),
        eur_exchange_rate=eur_exchange_rate,
        attachments=attachments,
    )
    _check_totals(document, invoice)
    return document


def document_from_credit_note(
    *,
    note: CreditNote,
    lines: list[CreditNoteLine],
    invoice: Invoice,
    customer: Customer,
    company: Company,
    seller_country: str = "LV",
    eur_exchange_rate: Decimal | None = None,
    pdf: bytes | None = None,
    pdf_filename: str = "",
) -> Document:
    """The UBL CreditNote of an issued credit note, naming the invoice it credits (BT-25).

    Quantities and amounts stay positive: the document type says it is a credit."""
    if exponent(note.currency) != 2:
        raise ModelError(f"E-invoices in {note.currency} are not supported.")
    ordered = sorted(lines, key=lambda line: line.position)
    attachments: tuple[Attachment, ...] = ()
    if pdf is not None:
        attachments = (
            Attachment(
                id=note.number,
                filename=pdf_filename or f"{note.number}.pdf",
                content=pdf,
                description="Credit note",
            ),
        )
    document = Document(
        type=DocumentType.CREDIT_NOTE,
        number=note.number,
        issue_date=note.issue_date,
        currency=note.currency,
        seller=_seller(company, country=seller_country),
        buyer=_buyer(
            customer,
            endpoint=customer_endpoint(customer, default_country=seller_country),
            default_country=seller_country,
        ),
        lines=tuple(
            _line(line, position=index, currency=note.currency)
            for index, line in enumerate(ordered, start=1)
        ),
        buyer_reference=invoice.number or note.number,
        preceding_invoice=invoice.number or "",
        preceding_invoice_date=invoice.issue_date,
        note=note.reason,
        eur_exchange_rate=eur_exchange_rate,
        attachments=attachments,
    )
    _check_totals(document, note)
    return document


def _check_totals(document: Document, invoice: Invoice | CreditNote) -> None:
    totals = document.totals()
    stated = to_minor(totals.tax_inclusive, invoice.currency)
    if stated != invoice.total_minor:
        stored = from_minor(invoice.total_minor, invoice.currency)
        kind = "Credit note" if isinstance(invoice, CreditNote) else "Invoice"
        raise ModelError(
            f"{kind} {invoice.number} totals {stored} {invoice.currency} with VAT rounded per"
            f" line; rounded per VAT rate as e-invoices require it is {totals.tax_inclusive}."
            " Re-total it before sending it as an e-invoice."
        )
