"""Invoices and credit notes for each VAT case the app must write as an e-invoice."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

from shared.einvoice.model import (
    Address,
    Attachment,
    Document,
    DocumentType,
    ElectronicAddress,
    Exemption,
    Line,
    Party,
    PaymentMeans,
    VatCategory,
)

D = Decimal
PDF = b"%PDF-1.4\n% a tiny stand-in for the invoice PDF\n"

SELLER = Party(
    name="SIA Saulrieti",
    address=Address(country="LV", street="Brivibas iela 1", city="Riga", postal_code="LV-1010"),
    electronic_address=ElectronicAddress("0218", "40003245752"),
    registration_number="40003245752",
    registration_scheme="0218",
    vat_id="LV40003245752",
)
LATVIAN_BUYER = Party(
    name="SIA Pircejs",
    address=Address(country="LV", street="Elizabetes iela 2", city="Riga", postal_code="LV-1050"),
    electronic_address=ElectronicAddress("9939", "LV40103000009"),
    registration_number="40103000009",
    registration_scheme="0218",
    vat_id="LV40103000009",
)
ESTONIAN_BUYER = Party(
    name="Ostja OU",
    address=Address(country="EE", street="Narva mnt 5", city="Tallinn", postal_code="10117"),
    electronic_address=ElectronicAddress("9931", "EE100000001"),
    vat_id="EE100000001",
)
GERMAN_BUYER = Party(
    name="Kaeufer GmbH",
    address=Address(country="DE", street="Hauptstrasse 3", city="Berlin", postal_code="10115"),
    electronic_address=ElectronicAddress("9930", "DE123456789"),
    vat_id="DE123456789",
)
US_BUYER = Party(
    name="Buyer Inc.",
    address=Address(country="US", street="1 Main St", city="Boston", postal_code="02110"),
    electronic_address=ElectronicAddress("0060", "123456789"),
)
PRIVATE_SELLER = replace(SELLER, vat_id="")
PRIVATE_BUYER = replace(LATVIAN_BUYER, vat_id="")


def line(
    number: int,
    price: str,
    category: VatCategory = VatCategory.STANDARD,
    rate: str = "21",
    *,
    quantity: str = "1",
    exemption: Exemption | None = None,
) -> Line:
    return Line(
        id=str(number),
        name=f"Service {number}",
        quantity=D(quantity),
        unit_code="C62",
        net_price=D(price),
        vat_category=category,
        vat_rate=D(rate),
        exemption=exemption,
    )


EXEMPT = Exemption("Exempt based on article 132 of Council Directive 2006/112/EC", "VATEX-EU-132")
ZERO = ("Z", "0")

CASES: dict[str, dict] = {
    # 21 % and the reduced 12 % and 5 % on one invoice; the 21 % base is the 163.49 case.
    "standard_mixed": {
        "buyer": LATVIAN_BUYER,
        "lines": (
            line(1, "54.50"),
            line(2, "54.50"),
            line(3, "54.49"),
            line(4, "10.00", rate="12", quantity="3"),
            line(5, "7.35", rate="5", quantity="2"),
        ),
    },
    "zero_rated": {
        "buyer": LATVIAN_BUYER,
        "lines": (line(1, "120.00", VatCategory.ZERO_RATED, "0"),),
    },
    "exempt": {
        "buyer": LATVIAN_BUYER,
        "lines": (line(1, "300.00", VatCategory.EXEMPT, "0", exemption=EXEMPT),),
    },
    "reverse_charge": {
        "buyer": ESTONIAN_BUYER,
        "lines": (line(1, "500.00", VatCategory.REVERSE_CHARGE, "0", quantity="2"),),
    },
    "intra_eu_supply": {
        "buyer": GERMAN_BUYER,
        "lines": (line(1, "80.00", VatCategory.INTRA_EU_SUPPLY, "0", quantity="5"),),
        "delivery_country": "DE",
    },
    "export": {
        "buyer": US_BUYER,
        "lines": (line(1, "999.99", VatCategory.EXPORT, "0"),),
    },
    "foreign_currency": {
        "buyer": LATVIAN_BUYER,
        "currency": "USD",
        "eur_exchange_rate": D("1.0512"),
        "lines": (line(1, "163.49"), line(2, "40.00", rate="12")),
    },
    # 1.5 x 3.33 = 4.995 and 0.50 x 21 % = 0.105: both halves round up.
    "half_cent_rounding": {
        "buyer": LATVIAN_BUYER,
        "lines": (line(1, "3.33", quantity="1.5", rate="5"), line(2, "0.50")),
    },
    "not_subject": {
        "seller": PRIVATE_SELLER,
        "buyer": PRIVATE_BUYER,
        "lines": (line(1, "50.00", VatCategory.NOT_SUBJECT, "0"),),
    },
}


def document(case: str, kind: DocumentType = DocumentType.INVOICE, **changes) -> Document:
    spec = dict(CASES[case])
    credit = kind is DocumentType.CREDIT_NOTE
    number = "INV-2026-0041"
    fields = {
        "type": kind,
        "number": "CN-2026-0007" if credit else number,
        "issue_date": date(2026, 11, 30),
        "due_date": date(2026, 12, 14),
        "supply_date": date(2026, 11, 28),
        "currency": "EUR",
        "seller": SELLER,
        "buyer_reference": "PO-4711",
        "preceding_invoice": number if credit else "",
        "preceding_invoice_date": date(2026, 11, 30) if credit else None,
        "payment_means": PaymentMeans(
            iban="LV80BANK0000435195001", bic="HABALV22", payment_id="RF18539007547034"
        ),
        "payment_terms": "14 days net",
        "attachments": (
            Attachment("INV-2026-0041", "INV-2026-0041.pdf", PDF, description="Invoice"),
        ),
        **spec,
    }
    fields.update(changes)
    return Document(**fields)
