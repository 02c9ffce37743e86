"""Invoices and credit notes saved with VAT categories, mapped to UBL: every category, with
its exemption wording, passes the UBL schema and the project's EN 16931 / Peppol rules."""

from datetime import date
from decimal import Decimal

import pytest
from lxml import etree
from sqlmodel import select

from shared.db import read_session, write_session
from shared.einvoice.from_invoice import document_from_credit_note, document_from_invoice
from shared.einvoice.model import ElectronicAddress, ModelError
from shared.einvoice.rules import NS, validate
from shared.einvoice.ubl import to_ubl
from shared.invoicing import LineInput
from shared.ledger.credit_notes import credit_amount, issue_credit_note
from shared.models import CreditNote, CreditNoteLine, Customer, Invoice, InvoiceLine
from tests.einvoice.conftest import schema_errors
from tests.einvoice.test_from_invoice import ACCOUNT, COMPANY
from tests.utils.factories import make_customer, make_invoice

ESTONIAN = ("EE100000001", ElectronicAddress("9931", "EE100000001"), "EE")
LATVIAN = ("LV40103000001", ElectronicAddress("9939", "LV40103000001"), "LV")
AMERICAN = ("", ElectronicAddress("0060", "123456789"), "US")

MIXED = [
    LineInput("Consulting", "1", "54.50", "21", "h"),
    LineInput("Consulting", "1", "54.50", "21", "h"),
    LineInput("Consulting", "1", "54.49", "21", "h"),
    LineInput("Books", "2", "10.00", "12"),
    LineInput("Atlas", "1", "5.00", "0"),
    LineInput("Course", "1", "40.00", "0", vat_category="E", vat_exemption="PVN likuma 52. pants"),
]
CASES = {
    "mixed": (LATVIAN, MIXED),
    "reverse_charge_to_eu": (
        ESTONIAN,
        [LineInput("Consulting", "10", "80.00", "0", "h", vat_category="AE")],
    ),
    "intra_eu_supply": (
        ESTONIAN,
        [LineInput("Pallets", "4", "25.00", "0", vat_category="K")],
    ),
    "exempt_with_reason": (
        LATVIAN,
        [
            LineInput(
                "Loan fee",
                "1",
                "15.00",
                "0",
                vat_category="E",
                vat_exemption="Finanšu pakalpojums",
                vat_exemption_code="VATEX-EU-135",
            )
        ],
    ),
    "export": (
        AMERICAN,
        [LineInput("Machine", "1", "1200.00", "0", vat_category="G")],
    ),
}


def _stored(vat_number: str, lines: list[LineInput], currency: str = "EUR", country: str = "LV"):
    customer = make_customer()
    with write_session() as session:
        stored = session.get(Customer, customer.id)
        stored.vat_number, stored.country = vat_number, country
    invoice = make_invoice(
        channel=None,
        customer=customer,
        lines=lines,
        currency=currency,
        issue_date=date(2026, 11, 30),
        due_date=date(2026, 12, 14),
    )
    with read_session() as session:
        stored = session.get(Invoice, invoice.id)
        rows = list(session.exec(select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)))
        buyer = session.get(Customer, customer.id)
        session.expunge_all()
    return stored, rows, buyer


def _credit_note(invoice: Invoice, **kwargs):
    with write_session() as session:
        if "amount_minor" in kwargs:
            note = credit_amount(
                session,
                actor="t",
                invoice_id=invoice.id,
                reason="Refund",
                description="Refund",
                today=date(2026, 12, 2),
                **kwargs,
            )
        else:
            note = issue_credit_note(
                session,
                actor="t",
                invoice_id=invoice.id,
                reason="Returned",
                today=date(2026, 12, 2),
                **kwargs,
            )
    with read_session() as session:
        stored = session.get(CreditNote, note.id)
        lines = list(
            session.exec(select(CreditNoteLine).where(CreditNoteLine.credit_note_id == note.id))
        )
        session.expunge_all()
    return stored, lines


def _checked(document, ubl_schemas) -> etree._Element:
    xml = to_ubl(document)
    assert schema_errors(ubl_schemas, xml) == []
    assert validate(xml) == []  # no finding at all, warnings included
    return etree.fromstring(xml)


def _breakdown(root: etree._Element) -> dict[tuple[str, str], tuple[str, str, str]]:
    return {
        (
            subtotal.findtext("cac:TaxCategory/cbc:ID", namespaces=NS),
            subtotal.findtext("cac:TaxCategory/cbc:Percent", namespaces=NS),
        ): (
            subtotal.findtext("cbc:TaxableAmount", namespaces=NS),
            subtotal.findtext("cbc:TaxAmount", namespaces=NS),
            subtotal.findtext("cac:TaxCategory/cbc:TaxExemptionReason", namespaces=NS) or "",
        )
        for subtotal in root.xpath("cac:TaxTotal[cac:TaxSubtotal]/cac:TaxSubtotal", namespaces=NS)
    }


@pytest.mark.parametrize("case", list(CASES))
def test_invoice_and_full_credit_note_of_each_vat_case_are_valid_ubl(db, case, ubl_schemas):
    (vat_number, endpoint, country), lines = CASES[case]
    invoice, rows, customer = _stored(vat_number, lines, country=country)
    common = {"customer": customer, "company": COMPANY, "buyer_endpoint": endpoint}
    invoice_xml = _checked(
        document_from_invoice(invoice=invoice, lines=rows, bank_account=ACCOUNT, **common),
        ubl_schemas,
    )
    note, note_lines = _credit_note(invoice, full=True)
    note_xml = _checked(
        document_from_credit_note(note=note, lines=note_lines, invoice=invoice, **common),
        ubl_schemas,
    )
    assert _breakdown(note_xml) == _breakdown(invoice_xml)
    if case == "exempt_with_reason":
        # VATEX has no code for article 135: the reason's text stands alone (BR-CL-22).
        assert invoice_xml.xpath("//cbc:TaxExemptionReasonCode", namespaces=NS) == []
    assert note_xml.findtext(
        "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID", namespaces=NS
    ) == (invoice.number)


def test_mixed_invoice_breakdown_has_one_row_per_category_and_rate_with_34_33(db, ubl_schemas):
    invoice, rows, customer = _stored(LATVIAN[0], MIXED)
    root = _checked(
        document_from_invoice(
            invoice=invoice, lines=rows, customer=customer, company=COMPANY,
            buyer_endpoint=LATVIAN[1],
        ),
        ubl_schemas,
    )  # fmt: skip
    assert _breakdown(root) == {
        ("S", "21"): ("163.49", "34.33", ""),
        ("S", "12"): ("20.00", "2.40", ""),
        ("Z", "0"): ("5.00", "0.00", ""),
        ("E", "0"): ("40.00", "0.00", "PVN likuma 52. pants"),
    }
    assert invoice.vat_minor == 3433 + 240


def test_reverse_charge_and_intra_eu_supply_name_the_buyers_vat_number_and_country(db, ubl_schemas):
    invoice, rows, customer = _stored(ESTONIAN[0], CASES["intra_eu_supply"][1], country=ESTONIAN[2])
    root = _checked(
        document_from_invoice(
            invoice=invoice, lines=rows, customer=customer, company=COMPANY,
            buyer_endpoint=ESTONIAN[1],
        ),
        ubl_schemas,
    )  # fmt: skip
    assert root.xpath(
        "cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID/text()",
        namespaces=NS,
    ) == ["EE100000001"]
    assert root.xpath(
        "cac:Delivery/cac:DeliveryLocation/cac:Address/cac:Country/cbc:IdentificationCode/text()",
        namespaces=NS,
    ) == ["EE"]
    assert root.xpath("cac:Delivery/cbc:ActualDeliveryDate/text()", namespaces=NS) == ["2026-11-30"]
    assert _breakdown(root)[("K", "0")][2] == "Intra-community supply"


def test_foreign_currency_invoice_states_its_vat_in_eur_too(db, ubl_schemas):
    invoice, rows, customer = _stored(LATVIAN[0], MIXED, currency="USD")
    with pytest.raises(ModelError, match="exchange rate"):
        document_from_invoice(
            invoice=invoice, lines=rows, customer=customer, company=COMPANY,
            buyer_endpoint=LATVIAN[1],
        )  # fmt: skip
    root = _checked(
        document_from_invoice(
            invoice=invoice, lines=rows, customer=customer, company=COMPANY,
            buyer_endpoint=LATVIAN[1], eur_exchange_rate=Decimal("1.0512"),
        ),
        ubl_schemas,
    )  # fmt: skip
    totals = root.xpath("cac:TaxTotal/cbc:TaxAmount", namespaces=NS)
    # 36.73 USD / 1.0512 USD per EUR = 34.9410… → 34.94 EUR
    assert [(amount.get("currencyID"), amount.text) for amount in totals] == [
        ("USD", "36.73"),
        ("EUR", "34.94"),
    ]


def test_credit_notes_for_chosen_lines_and_for_an_amount_of_a_mixed_invoice_are_valid(
    db, ubl_schemas
):
    invoice, _, customer = _stored(LATVIAN[0], MIXED)
    common = {"invoice": invoice, "customer": customer, "company": COMPANY}
    common["buyer_endpoint"] = LATVIAN[1]
    chosen, chosen_lines = _credit_note(invoice, lines=[MIXED[0], MIXED[-1]])
    root = _checked(
        document_from_credit_note(note=chosen, lines=chosen_lines, **common), ubl_schemas
    )
    assert _breakdown(root) == {
        ("S", "21"): ("54.50", "11.45", ""),
        ("E", "0"): ("40.00", "0.00", "PVN likuma 52. pants"),
    }
    amount, amount_lines = _credit_note(invoice, amount_minor=10000)
    root = _checked(
        document_from_credit_note(note=amount, lines=amount_lines, **common), ubl_schemas
    )
    # The exempt line is credited in full already: the amount goes over what is left.
    assert set(_breakdown(root)) == {("S", "21"), ("S", "12"), ("Z", "0")}
    assert root.xpath("cac:LegalMonetaryTotal/cbc:PayableAmount/text()", namespaces=NS) == [
        "100.00"
    ]


def test_credit_note_for_the_rest_after_a_partial_one_is_an_e_invoice_with_the_vat_left(
    db, ubl_schemas
):
    invoice, _, customer = _stored(LATVIAN[0], MIXED[:3])  # 163.49 + 34.33
    _credit_note(invoice, lines=[MIXED[0]])  # 54.50 + 11.45
    rest, rest_lines = _credit_note(invoice, full=True)
    # What is left is 108.99 + 22.88 VAT, to the cent; 108.99 × 21 % afresh would be 22.89.
    # BR-CO-17 and BR-S-09 accept a VAT less than one unit away, so the credit note states
    # what was left and the invoice ends credited to the cent.
    assert (rest.subtotal_minor, rest.vat_minor) == (10899, 2288)
    root = _checked(
        document_from_credit_note(
            note=rest, lines=rest_lines, invoice=invoice, customer=customer, company=COMPANY,
            buyer_endpoint=LATVIAN[1],
        ),
        ubl_schemas,
    )  # fmt: skip
    assert _breakdown(root) == {("S", "21"): ("108.99", "22.88", "")}
    assert root.xpath("cac:LegalMonetaryTotal/cbc:PayableAmount/text()", namespaces=NS) == [
        "131.87"
    ]


def test_the_buyers_country_is_the_customers_not_read_from_their_vat_number(db, ubl_schemas):
    # A customer established in Estonia but VAT-registered in Latvia.
    invoice, rows, customer = _stored(LATVIAN[0], MIXED[:1], country="EE")
    customer.registration_number = "40103000001"
    root = _checked(
        document_from_invoice(invoice=invoice, lines=rows, customer=customer, company=COMPANY),
        ubl_schemas,
    )
    buyer = "cac:AccountingCustomerParty/cac:Party"
    assert root.xpath(
        f"{buyer}/cac:PostalAddress/cac:Country/cbc:IdentificationCode/text()", namespaces=NS
    ) == ["EE"]
    # An 11-digit number abroad is no Latvian registration number: the VAT number addresses it.
    assert root.xpath(f"{buyer}/cbc:EndpointID/@schemeID", namespaces=NS) == ["9939"]
