"""Customers' e-invoice addresses: Peppol schemes from a short list, each id checked for its
format; the stored one addresses the e-invoice, else one derived from the customer's numbers."""

import pytest

from shared.customers import CustomerInput
from shared.einvoice.from_invoice import customer_endpoint
from shared.einvoice.model import ElectronicAddress, ModelError
from shared.einvoice.participants import parse_participant_id
from shared.errors import ValidationError
from shared.models import Customer, SendingMethod


@pytest.mark.parametrize(
    ("scheme", "typed", "stored"),
    [
        ("0218", "400 0324 5752", "40003245752"),
        ("9939", "lv40003245752", "LV40003245752"),
        ("0191", "10137025", "10137025"),
        ("9931", "EE100247019", "EE100247019"),
        ("0200", "302334567", "302334567"),
        ("0088", "4750000000017", "4750000000017"),
        ("0192", "987 654 325", "987654325"),
        ("0208", "0123.456.749", "0123456749"),
        ("0007", "556036-0793", "5560360793"),
        ("", "", ""),
    ],
)
def test_participant_ids_are_cleaned_to_the_form_peppol_lists(scheme, typed, stored):
    assert parse_participant_id(scheme=scheme, value=typed) == (scheme, stored)


@pytest.mark.parametrize(
    ("scheme", "typed", "field", "message"),
    [
        ("0218", "4000324575", "peppol_id", "'4000324575' is not a Latvian company register"),
        ("9939", "40003245752", "peppol_id", r"is not a Latvian VAT number \(scheme 9939"),
        ("0088", "4750000000011", "peppol_id", "is not a GS1 Global Location Number"),
        ("0192", "987654324", "peppol_id", "is not a Norwegian organisation number"),
        ("0208", "0123456748", "peppol_id", "is not a Belgian enterprise number"),
        ("0007", "5560360794", "peppol_id", "is not a Swedish organisation number"),
        ("0218", "", "peppol_id", "Give the customer's Latvian company register"),
        ("", "40003245752", "peppol_scheme", "Choose the e-invoice address scheme"),
        ("1234", "40003245752", "peppol_scheme", "Choose the e-invoice address scheme"),
    ],
)
def test_a_wrong_participant_id_is_refused_on_its_field(scheme, typed, field, message):
    with pytest.raises(ValidationError, match=message) as refused:
        parse_participant_id(scheme=scheme, value=typed)
    assert refused.value.field == field


def test_customer_form_keeps_the_participant_id_and_the_sending_method():
    data = CustomerInput(
        name="SIA Kalns",
        peppol_scheme="9939",
        peppol_id="lv 40003245752",
        sending_method=SendingMethod.EMAIL_EINVOICE,
    )
    assert (data.peppol_scheme, data.peppol_id, data.sending_method) == (
        "9939",
        "LV40003245752",
        "email_einvoice",
    )
    with pytest.raises(ValidationError, match="not a Latvian VAT number") as refused:
        CustomerInput(name="SIA Kalns", peppol_scheme="9939", peppol_id="EE100247019")
    assert refused.value.field == "peppol_id"
    with pytest.raises(ValidationError, match="Choose a sending method"):
        CustomerInput(name="SIA Kalns", sending_method="fax")


def test_the_stored_participant_id_wins_over_the_one_the_numbers_give():
    customer = Customer(
        name="SIA Kalns",
        registration_number="40003245752",
        vat_number="LV40003245752",
        peppol_scheme="0088",
        peppol_id="4750000000017",
    )
    assert customer_endpoint(customer) == ElectronicAddress("0088", "4750000000017")
    customer.peppol_scheme = customer.peppol_id = ""
    assert customer_endpoint(customer) == ElectronicAddress("0218", "40003245752")
    customer.registration_number = ""
    assert customer_endpoint(customer) == ElectronicAddress("9939", "LV40003245752")
    estonian = Customer(name="Kask OÜ", vat_number="EE100247019")
    assert customer_endpoint(estonian) == ElectronicAddress("9931", "EE100247019")
    with pytest.raises(ModelError, match="Kask OÜ has no e-invoice address"):
        customer_endpoint(Customer(name="Kask OÜ", registration_number="10137025"))
