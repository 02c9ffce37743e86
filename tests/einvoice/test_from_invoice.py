"""Today's invoice tables mapped to an e-invoice, read-only."""

from datetime import date

import pytest
from sqlmodel import select

from shared.db import read_session
from shared.einvoice.from_invoice import document_from_invoice, unit_code
from shared.einvoice.model import ElectronicAddress, ModelError, VatCategory
from shared.einvoice.rules import fatal, validate
from shared.einvoice.ubl import to_ubl
from shared.invoicing import LineInput
from shared.models import BankAccount, Company, Customer, Invoice, InvoiceLine
from tests.einvoice.conftest import schema_errors
from tests.utils.factories import make_customer, make_invoice

COMPANY = Company(
    name="SIA Saulrieti",
    registration_number="40003245752",
    vat_number="LV40003245752",
    address="Brīvības iela 1, Rīga, LV-1010",
    email="rekini@saulrieti.lv",
)
BUYER_ENDPOINT = ElectronicAddress("9939", "LV40103000001")
ACCOUNT = BankAccount(name="Saulrieti EUR", iban="LV80 BANK 0000 4351 9500 1")


def _issued(lines: list[LineInput]) -> tuple[Invoice, list[InvoiceLine], Customer]:
    customer = make_customer()
    invoice = make_invoice(
        channel=None,
        customer=customer,
        lines=lines,
        issue_date=date(2026, 11, 30),
        due_date=date(2026, 12, 14),
    )
    with read_session() as session:
        stored = session.get(Invoice, invoice.id)
        rows = list(session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)))
        buyer = session.get(Customer, customer.id)
        session.expunge_all()
    return stored, rows, buyer


def test_issued_invoice_becomes_a_valid_e_invoice_with_s_and_z_lines(db, ubl_schemas):
    invoice, lines, customer = _issued(
        [LineInput("Consulting", "2", "100.00", "21", "h"), LineInput("Book", "1", "15.00", "0")]
    )
    document = document_from_invoice(
        invoice=invoice,
        lines=lines,
        customer=customer,
        company=COMPANY,
        buyer_endpoint=BUYER_ENDPOINT,
        bank_account=ACCOUNT,
        pdf=b"%PDF-1.4 invoice",
    )
    assert [(line.vat_category, line.unit_code) for line in document.lines] == [
        (VatCategory.STANDARD, "HUR"),
        (VatCategory.ZERO_RATED, "C62"),
    ]
    assert document.buyer_reference == invoice.number
    assert document.seller.electronic_address == ElectronicAddress("0218", "40003245752")
    assert document.payment_means.iban == "LV80BANK0000435195001"
    assert document.totals().payable * 100 == invoice.total_minor
    xml = to_ubl(document)
    assert schema_errors(ubl_schemas, xml) == []
    assert fatal(validate(xml)) == []


def test_invoice_totalled_with_per_line_vat_is_refused_rather_than_sent_with_another_total():
    invoice = Invoice(
        number="INV-2026-0041",
        customer_id=1,
        public_token="t",
        issue_date=date(2026, 11, 30),
        due_date=date(2026, 12, 14),
        subtotal_minor=16349,
        vat_minor=3434,  # 11.45 + 11.45 + 11.44, each line rounded on its own
        total_minor=19783,
    )
    lines = [
        InvoiceLine(invoice_id=1, position=n, description="Service", quantity="1",
                    unit_price_minor=price, vat_rate="21")
        for n, price in enumerate((5450, 5450, 5449))
    ]  # fmt: skip
    with pytest.raises(ModelError, match=r"197\.83 EUR .* 197\.82"):
        document_from_invoice(
            invoice=invoice,
            lines=lines,
            customer=Customer(name="SIA Pircejs"),
            company=COMPANY,
            buyer_endpoint=BUYER_ENDPOINT,
        )


def test_draft_without_a_number_is_refused():
    with pytest.raises(ModelError, match="issued"):
        document_from_invoice(
            invoice=Invoice(customer_id=1, public_token="t"),
            lines=[],
            customer=Customer(name="SIA Pircejs"),
            company=COMPANY,
            buyer_endpoint=BUYER_ENDPOINT,
        )


@pytest.mark.parametrize(
    ("unit", "code"),
    [("", "C62"), ("h", "HUR"), ("Stundas", "HUR"), ("gab.", "H87"), ("kg", "KGM"), ("box", "C62")],
)
def test_free_text_units_map_to_recommendation_20_codes_or_one(unit, code):
    assert unit_code(unit) == code
