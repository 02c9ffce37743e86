"""The document model: one rounding rule for the VAT breakdown, refusals EN 16931 would make."""

from dataclasses import replace
from decimal import Decimal

import pytest

from shared.einvoice.model import (
    Address,
    DocumentType,
    ElectronicAddress,
    Exemption,
    ModelError,
    VatCategory,
)
from tests.einvoice.factories import CASES, PRIVATE_BUYER, PRIVATE_SELLER, document, line

D = Decimal


def test_vat_on_163_49_at_21_percent_is_34_33_not_the_sum_of_rounded_line_vat():
    doc = document("standard_mixed")
    standard = {(row.category, row.rate): row for row in doc.vat_breakdown()}
    row = standard[(VatCategory.STANDARD, D(21))]
    assert row.taxable_amount == D("163.49")
    # Per line: 11.445 -> 11.45, 11.45, 11.4429 -> 11.44 would add up to 34.34.
    assert row.tax_amount == D("34.33")


def test_mixed_rates_get_one_breakdown_row_each_and_the_total_adds_them_up():
    doc = document("standard_mixed")
    rows = {row.rate: (row.taxable_amount, row.tax_amount) for row in doc.vat_breakdown()}
    assert rows == {
        D(21): (D("163.49"), D("34.33")),
        D(12): (D("30.00"), D("3.60")),
        D(5): (D("14.70"), D("0.74")),  # 0.735 rounds half up
    }
    totals = doc.totals()
    assert (totals.line_net, totals.vat, totals.payable) == (
        D("208.19"),
        D("38.67"),
        D("246.86"),
    )


def test_half_cents_round_up_on_line_net_and_on_vat():
    doc = document("half_cent_rounding")
    assert [item.net_amount for item in doc.lines] == [D("5.00"), D("0.50")]  # 1.5 x 3.33
    assert {row.rate: row.tax_amount for row in doc.vat_breakdown()} == {
        D(5): D("0.25"),
        D(21): D("0.11"),  # 0.105
    }


def test_foreign_currency_states_the_vat_total_in_eur_at_the_given_rate():
    totals = document("foreign_currency").totals()
    assert totals.vat == D("39.13")  # 34.33 + 4.80 in USD
    assert totals.vat_in_accounting_currency == D("37.22")  # 39.13 / 1.0512 = 37.2241


def test_foreign_currency_without_exchange_rate_is_refused():
    with pytest.raises(ModelError, match="exchange rate"):
        document("foreign_currency", eur_exchange_rate=None)


def test_categories_needing_a_reason_get_the_standard_wording_or_refuse_without_one():
    (reverse,) = document("reverse_charge").vat_breakdown()
    assert reverse.exemption == Exemption("Reverse charge", "VATEX-EU-AE")
    with pytest.raises(ModelError, match="exemption reason"):
        line(1, "10.00", VatCategory.EXEMPT, "0")


@pytest.mark.parametrize(
    ("category", "rate", "message"),
    [
        (VatCategory.STANDARD, "0", "rate above 0"),
        (VatCategory.ZERO_RATED, "21", "charged at 0"),
        (VatCategory.REVERSE_CHARGE, "21", "charged at 0"),
    ],
)
def test_a_rate_that_does_not_fit_the_category_is_refused(category, rate, message):
    with pytest.raises(ModelError, match=message):
        line(1, "10.00", category, rate)


def test_standard_rated_lines_take_no_exemption_reason():
    with pytest.raises(ModelError, match="takes no exemption reason"):
        line(1, "10.00", exemption=Exemption("Because"))


def test_two_exempt_lines_with_different_reasons_are_refused():
    lines = (
        line(1, "10.00", VatCategory.EXEMPT, "0", exemption=Exemption("Article 132")),
        line(2, "10.00", VatCategory.EXEMPT, "0", exemption=Exemption("Article 135")),
    )
    with pytest.raises(ModelError, match="different exemption reasons"):
        document("exempt", lines=lines)


def test_credit_note_must_name_the_invoice_it_corrects():
    with pytest.raises(ModelError, match="BT-25"):
        document("standard_mixed", DocumentType.CREDIT_NOTE, preceding_invoice="")


def test_not_subject_to_vat_cannot_share_a_document_with_taxed_lines():
    lines = (*CASES["not_subject"]["lines"], line(2, "10.00"))
    with pytest.raises(ModelError, match="BR-O-11"):
        document("not_subject", lines=lines, buyer=PRIVATE_BUYER)


def test_intra_community_supply_needs_the_deliver_to_country():
    with pytest.raises(ModelError, match="BT-80"):
        document("intra_eu_supply", delivery_country="")


def test_peppol_needs_a_buyer_or_order_reference():
    with pytest.raises(ModelError, match="BT-10"):
        document("standard_mixed", buyer_reference="")
    assert document("standard_mixed", buyer_reference="", order_reference="PO-1")


def test_electronic_address_scheme_must_be_an_eas_code():
    with pytest.raises(ModelError, match="EAS"):
        ElectronicAddress("LV", "40003245752")


def test_prepaid_amount_reduces_the_amount_due():
    totals = replace(document("zero_rated"), prepaid=D("20.00")).totals()
    assert (totals.tax_inclusive, totals.payable) == (D("120.00"), D("100.00"))


def test_stated_vat_a_unit_or_more_from_the_rate_is_refused():
    """A remainder credit note may state the VAT that was left (a cent off the rate applied
    afresh), never an amount EN 16931's BR-CO-17 would refuse."""
    base = document("standard_mixed", lines=(line(1, "108.99"),))
    group = (VatCategory.STANDARD, D(21))
    left = replace(base, stated_vat={group: D("22.88")})
    assert [row.tax_amount for row in left.vat_breakdown()] == [D("22.88")]
    assert left.totals().tax_inclusive == D("131.87")
    with pytest.raises(ModelError, match=r"less than one unit from 22\.89"):
        replace(base, stated_vat={group: D("23.89")})


@pytest.mark.parametrize(
    ("case", "changes", "message"),
    [
        ("standard_mixed", {"seller": PRIVATE_SELLER}, "seller's VAT number"),
        ("exempt", {"seller": PRIVATE_SELLER}, "seller's VAT number"),
        ("intra_eu_supply", {"buyer": PRIVATE_BUYER}, "intra-community supply needs the buyer"),
        (
            "reverse_charge",
            {"buyer": replace(PRIVATE_BUYER, registration_number="", registration_scheme="")},
            "buyer's VAT or registration number",
        ),
    ],
)
def test_vat_numbers_each_category_needs_are_asked_for_before_writing(case, changes, message):
    """BR-S-02, BR-E-02, BR-IC-02, BR-AE-02: refused with a message, not sent and rejected."""
    with pytest.raises(ModelError, match=message):
        document(case, **changes)


def test_reverse_charge_to_a_buyer_known_by_registration_number_only_is_accepted():
    buyer = replace(PRIVATE_BUYER, vat_id="")
    assert document("reverse_charge", buyer=buyer).buyer.registration_number == "40103000009"


@pytest.mark.parametrize("country", ["UK", "EL", "XX", "lv"])
def test_a_country_code_outside_iso_3166_is_refused(country):
    with pytest.raises(ModelError, match="not an ISO 3166 alpha-2 code"):
        Address(country=country)


def test_an_exemption_code_outside_the_vatex_list_is_refused():
    with pytest.raises(ModelError, match="'VATEX-EU-135' is not a VATEX"):
        Exemption("Article 135 of Directive 2006/112/EC", "VATEX-EU-135")
    assert Exemption("Article 132", "VATEX-EU-132").code == "VATEX-EU-132"
