"""UBL 2.1 output for every VAT case: schema-valid and free of fatal business-rule findings."""

import base64
from decimal import Decimal

import pytest
from lxml import etree

from shared.einvoice.model import DocumentType
from shared.einvoice.rules import NS, fatal, validate
from shared.einvoice.ubl import CUSTOMIZATION_ID, PROFILE_ID, to_ubl
from tests.einvoice.conftest import schema_errors
from tests.einvoice.factories import CASES, PDF, document

KINDS = [DocumentType.INVOICE, DocumentType.CREDIT_NOTE]


def _xml(case: str, kind: DocumentType = DocumentType.INVOICE, **changes) -> etree._Element:
    return etree.fromstring(to_ubl(document(case, kind, **changes)))


def _texts(root: etree._Element, path: str) -> list[str]:
    return [element.text for element in root.xpath(path, namespaces=NS)]


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.name.lower())
@pytest.mark.parametrize("case", list(CASES))
def test_each_vat_case_is_valid_ubl_with_no_rule_finding_at_all(case, kind, ubl_schemas):
    """Every rule the project implements, fatal or warning, on every VAT case both ways."""
    xml = to_ubl(document(case, kind))
    assert schema_errors(ubl_schemas, xml) == []
    assert validate(xml) == []


def test_invoice_and_credit_note_carry_the_peppol_identifiers_and_their_own_root():
    invoice = _xml("standard_mixed")
    credit = _xml("standard_mixed", DocumentType.CREDIT_NOTE)
    assert etree.QName(invoice).localname == "Invoice"
    assert etree.QName(credit).localname == "CreditNote"
    for root in (invoice, credit):
        assert _texts(root, "cbc:CustomizationID") == [CUSTOMIZATION_ID]
        assert _texts(root, "cbc:ProfileID") == [PROFILE_ID]
    assert _texts(invoice, "cbc:InvoiceTypeCode") == ["380"]
    assert _texts(credit, "cbc:CreditNoteTypeCode") == ["381"]
    assert _texts(credit, "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID") == [
        "INV-2026-0041"
    ]
    # A UBL credit note has no header due date: it travels with the payment means.
    assert _texts(credit, "cbc:DueDate") == []
    assert _texts(credit, "cac:PaymentMeans/cbc:PaymentDueDate") == ["2026-12-14"]
    assert _texts(credit, "cac:CreditNoteLine/cbc:CreditedQuantity")[0] == "1"


def test_vat_breakdown_in_the_xml_shows_34_33_on_the_163_49_base():
    root = _xml("standard_mixed")
    rows = {
        subtotal.findtext("cac:TaxCategory/cbc:Percent", namespaces=NS): (
            subtotal.findtext("cbc:TaxableAmount", namespaces=NS),
            subtotal.findtext("cbc:TaxAmount", namespaces=NS),
        )
        for subtotal in root.xpath("cac:TaxTotal/cac:TaxSubtotal", namespaces=NS)
    }
    assert rows == {"21": ("163.49", "34.33"), "12": ("30.00", "3.60"), "5": ("14.70", "0.74")}
    assert _texts(root, "cac:TaxTotal/cbc:TaxAmount") == ["38.67"]


def test_foreign_currency_document_states_vat_total_in_eur_in_a_second_tax_total():
    root = _xml("foreign_currency")
    assert _texts(root, "cbc:DocumentCurrencyCode") == ["USD"]
    assert _texts(root, "cbc:TaxCurrencyCode") == ["EUR"]
    totals = root.xpath("cac:TaxTotal/cbc:TaxAmount", namespaces=NS)
    assert [(amount.get("currencyID"), amount.text) for amount in totals] == [
        ("USD", "39.13"),
        ("EUR", "37.22"),
    ]
    assert (
        root.xpath("cac:TaxTotal[cbc:TaxAmount/@currencyID='EUR']/cac:TaxSubtotal", namespaces=NS)
        == []
    )


@pytest.mark.parametrize(
    ("case", "category", "code"),
    [
        ("reverse_charge", "AE", "VATEX-EU-AE"),
        ("intra_eu_supply", "K", "VATEX-EU-IC"),
        ("export", "G", "VATEX-EU-G"),
        ("exempt", "E", "VATEX-EU-132"),
        ("not_subject", "O", "VATEX-EU-O"),
    ],
)
def test_zero_vat_categories_carry_their_exemption_reason_in_the_breakdown(case, category, code):
    root = _xml(case)
    tax_category = root.xpath("cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory", namespaces=NS)[0]
    assert tax_category.findtext("cbc:ID", namespaces=NS) == category
    assert tax_category.findtext("cbc:TaxExemptionReasonCode", namespaces=NS) == code
    assert tax_category.findtext("cbc:TaxExemptionReason", namespaces=NS)


def test_not_subject_to_vat_states_no_rate_at_all():
    root = _xml("not_subject")
    assert (
        root.xpath(
            "//cac:TaxCategory/cbc:Percent | //cac:ClassifiedTaxCategory/cbc:Percent", namespaces=NS
        )
        == []
    )


def test_intra_community_supply_names_supply_date_and_deliver_to_country():
    root = _xml("intra_eu_supply")
    assert _texts(root, "cac:Delivery/cbc:ActualDeliveryDate") == ["2026-11-28"]
    assert _texts(
        root, "cac:Delivery/cac:DeliveryLocation/cac:Address/cac:Country/cbc:IdentificationCode"
    ) == ["DE"]


def test_pdf_is_embedded_and_comes_back_byte_for_byte():
    root = _xml("standard_mixed")
    (embedded,) = root.xpath(
        "cac:AdditionalDocumentReference/cac:Attachment/cbc:EmbeddedDocumentBinaryObject",
        namespaces=NS,
    )
    assert embedded.get("mimeCode") == "application/pdf"
    assert embedded.get("filename") == "INV-2026-0041.pdf"
    assert base64.b64decode(embedded.text) == PDF


def test_payment_means_carry_iban_bic_and_rf_reference():
    root = _xml("standard_mixed")
    assert _texts(root, "cac:PaymentMeans/cbc:PaymentMeansCode") == ["58"]
    assert _texts(root, "cac:PaymentMeans/cbc:PaymentID") == ["RF18539007547034"]
    assert _texts(root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID") == [
        "LV80BANK0000435195001"
    ]
    assert _texts(
        root, "cac:PaymentMeans/cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID"
    ) == ["HABALV22"]


def test_optional_terms_left_empty_are_left_out_not_written_empty(ubl_schemas):
    xml = to_ubl(
        document(
            "zero_rated",
            payment_means=None,
            attachments=(),
            supply_date=None,
            note="",
            payment_terms="  ",
        )
    )
    root = etree.fromstring(xml)
    assert (
        root.xpath(
            "cac:PaymentMeans | cac:AdditionalDocumentReference | cac:Delivery | cbc:Note"
            " | cac:PaymentTerms",
            namespaces=NS,
        )
        == []
    )
    assert schema_errors(ubl_schemas, xml) == []
    assert fatal(validate(xml)) == []


def test_quantities_and_prices_keep_their_decimals_without_exponents():
    root = _xml("half_cent_rounding")
    assert _texts(root, "cac:InvoiceLine/cbc:InvoicedQuantity") == ["1.5", "1"]
    assert _texts(root, "cac:InvoiceLine/cac:Price/cbc:PriceAmount") == ["3.33", "0.5"]
    assert _texts(root, "cac:InvoiceLine/cbc:LineExtensionAmount") == ["5.00", "0.50"]
    assert Decimal(_texts(root, "cac:LegalMonetaryTotal/cbc:PayableAmount")[0]) == Decimal("5.86")
