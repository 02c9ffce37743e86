"""Creditor references (ISO 11649) and the SEPA QR payload (EPC069-12 version 002)."""

import pytest
from stdnum import iso11649

from shared.bank.references import (
    creditor_reference,
    epc_qr_payload,
    format_creditor_reference,
    invoice_id_from_reference,
)
from shared.errors import ValidationError

IBAN = "LV80BANK0000435195001"


def test_creditor_reference_is_valid_stable_and_reads_back():
    reference = creditor_reference(invoice_id=34)
    assert iso11649.is_valid(reference)
    assert reference == creditor_reference(invoice_id=34)
    assert reference.startswith("RF") and len(reference) <= 25
    assert invoice_id_from_reference(reference) == 34
    # As a customer types it from the invoice: grouped, lower case.
    assert invoice_id_from_reference(format_creditor_reference(reference).lower()) == 34
    assert len({creditor_reference(invoice_id=n) for n in range(1, 2000)}) == 1999


def test_a_mistyped_or_foreign_reference_points_to_no_invoice():
    reference = creditor_reference(invoice_id=34)
    swapped = reference[:-2] + reference[-1] + reference[-2]
    assert invoice_id_from_reference(swapped) is None
    assert invoice_id_from_reference("RF18539007547034x") is None
    assert invoice_id_from_reference("RF71ABC") is None  # someone else's letters reference
    assert invoice_id_from_reference("INV-2026-0034") is None
    assert invoice_id_from_reference("") is None


@pytest.mark.parametrize("invoice_id", [1, 34, 97, 4_104, 99_999_999, 123_456_789_012])
def test_every_mistyped_digit_of_a_reference_points_to_no_invoice(invoice_id):
    """References of our form are checked without python-stdnum's general path (a
    statement asks about thousands): they must be read exactly as it reads them."""
    reference = creditor_reference(invoice_id=invoice_id)
    assert invoice_id_from_reference(reference) == invoice_id
    for position in range(2, len(reference)):
        for digit in "0123456789":
            typed = reference[:position] + digit + reference[position + 1 :]
            if typed == reference:
                continue
            assert iso11649.is_valid(typed) is False, typed  # the check digits catch it
            assert invoice_id_from_reference(typed) is None, typed
    assert format_creditor_reference(reference) == iso11649.format(reference)


def test_epc_payload_lines_follow_the_standard():
    reference = creditor_reference(invoice_id=34)
    payload = epc_qr_payload(
        beneficiary_name="SIA Piemērs",
        iban="LV80 BANK 0000 4351 9500 1",
        bic="habalv22",
        amount_minor=123450,
        creditor_reference=format_creditor_reference(reference),
    )
    assert payload.split("\n") == [
        "BCD",
        "002",
        "1",
        "SCT",
        "HABALV22",
        "SIA Piemērs",
        IBAN,
        "EUR1234.50",
        "",
        reference,
    ]
    assert not payload.endswith("\n")


def test_epc_payload_with_free_text_and_without_bic_or_amount():
    payload = epc_qr_payload(
        beneficiary_name="SIA Piemērs", iban=IBAN, remittance_text="Rēķins INV-2026-0034"
    )
    lines = payload.split("\n")
    assert lines[4] == ""  # BIC may be left out in version 002, its line stays
    assert lines[7] == ""  # no amount: the payer types it
    assert lines[9:] == ["", "Rēķins INV-2026-0034"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"currency": "USD"}, "currency"),
        ({"beneficiary_name": "A" * 71}, "beneficiary_name"),
        ({"beneficiary_name": " "}, "beneficiary_name"),
        ({"beneficiary_name": "SIA\nPiemērs"}, "beneficiary_name"),
        ({"amount_minor": 0}, "amount"),
        ({"amount_minor": 100_000_000_000}, "amount"),
        ({"bic": "HABA LV"}, "bic"),
        ({"iban": "LV80BANK0000435195002"}, "iban"),
        ({"creditor_reference": "RF19 0000 0034"}, "creditor_reference"),
        ({"creditor_reference": "RF5600000034", "remittance_text": "INV 34"}, "remittance_text"),
        ({"remittance_text": "x" * 141}, "remittance_text"),
        ({"information": "y" * 71}, "information"),
        ({"purpose": "GOODS"}, "purpose"),
    ],
)
def test_epc_payload_refuses_what_the_standard_forbids(changes, field):
    arguments = {"beneficiary_name": "SIA Piemērs", "iban": IBAN, "amount_minor": 100} | changes
    with pytest.raises(ValidationError) as caught:
        epc_qr_payload(**arguments)
    assert caught.value.field == field


def test_epc_payload_amount_limits_and_total_size():
    smallest = epc_qr_payload(beneficiary_name="A", iban=IBAN, amount_minor=1)
    largest = epc_qr_payload(beneficiary_name="A", iban=IBAN, amount_minor=99_999_999_999)
    assert smallest.split("\n")[7] == "EUR0.01"
    assert largest.split("\n")[7] == "EUR999999999.99"
    assert len(largest.split("\n")[7]) - len("EUR") <= 12
    # Every field within its own limit, but Latvian letters take two bytes each in UTF-8.
    with pytest.raises(ValidationError, match="331"):
        epc_qr_payload(
            beneficiary_name="ē" * 70,
            iban=IBAN,
            amount_minor=100,
            remittance_text="ā" * 140,
            information="ū" * 10,
        )
