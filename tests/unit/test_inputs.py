"""The create/update forms' input models: each bad value is refused with the message the
form has always shown, next to the field it belongs to; a caller's typo is a bug that
fails loudly instead of dropping what the person typed."""

from datetime import date
from typing import Any

import pytest
from sqlmodel import select

from shared.channels import ChannelInput
from shared.company import CompanyInput, get_company, save_company
from shared.customers import CustomerInput, create_customer, update_customer
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.inputs import FormInput
from shared.invoicing import DraftInput, LineInput
from shared.models import Customer, Environment

CHANNEL = {"link_token": "tok123", "api_username": "abc", "api_secret": "secret-1234"}
CUSTOM = {**CHANNEL, "environment": Environment.CUSTOM}
LP = "https://igw-demo.every-pay.com/lp"
API = "https://igw-demo.every-pay.com/api/v4"
CONTROL = "retype it or paste it as plain text."
DRAFT = {"customer_id": 1, "lines": [LineInput("Hours", "1", "10")]}

CASES: list[tuple[type[FormInput], dict[str, Any], str, str]] = [
    (CustomerInput, {"name": "  "}, "name", "Give the customer's name."),
    (CustomerInput, {"name": "Anna\nSIA"}, "name", "Name must be on one line."),
    (CustomerInput, {"name": "A", "language": "de"}, "language", "Language must be LV or EN."),
    (
        CustomerInput,
        {"name": "A", "registration_number": "4" * 51},
        "registration_number",
        "Registration number can be at most 50 characters; this one has 51.",
    ),
    (
        CustomerInput,
        {"name": "A", "vat_number": "LV\x00"},
        "vat_number",
        f"VAT number contains an invisible control character (U+0000); {CONTROL}",
    ),
    (CustomerInput, {"name": "A", "email": "anna@"}, "email", "'anna@' is not an e-mail address."),
    (
        CustomerInput,
        {"name": "A", "cc_emails": "a@x.lv, nope"},
        "cc_emails",
        "Not an e-mail address: nope. Separate addresses with commas.",
    ),
    (
        CustomerInput,
        {"name": "A", "address": "R" * 501},
        "address",
        "Address can be at most 500 characters; this one has 501.",
    ),
    (CompanyInput, {"name": ""}, "name", "Give the company's name."),
    (
        CompanyInput,
        {"name": "K", "registration_number": "4\r\n0"},
        "registration_number",
        "Registration number must be on one line.",
    ),
    (
        CompanyInput,
        {"name": "K", "vat_number": "LV\n4"},
        "vat_number",
        "VAT number must be on one line.",
    ),
    (
        CompanyInput,
        {"name": "K", "address": "Rīga\x07"},
        "address",
        f"Legal address contains an invisible control character (U+0007); {CONTROL}",
    ),
    (
        CompanyInput,
        {"name": "K", "email": "info@koks"},
        "email",
        "'info@koks' is not an e-mail address.",
    ),
    (
        CompanyInput,
        {"name": "K", "default_currency": "XYZ"},
        "default_currency",
        "Currency XYZ is not supported.",
    ),
    (
        CompanyInput,
        {"name": "K", "timezone": "Mars/Olympus"},
        "timezone",
        "Unknown time zone 'Mars/Olympus'.",
    ),
    (ChannelInput, {**CHANNEL, "name": "Link\nPay"}, "name", "Name must be on one line."),
    (
        ChannelInput,
        {**CHANNEL, "link_token": " "},
        "link_token",
        "Link Token is required (EveryPay portal → Links).",
    ),
    (
        ChannelInput,
        {**CHANNEL, "link_token": "tok en"},
        "link_token",
        "Link Token has characters a token never has.",
    ),
    (
        ChannelInput,
        {**CHANNEL, "api_username": ""},
        "api_username",
        "API username is required (EveryPay portal → General Settings).",
    ),
    (
        ChannelInput,
        {**CHANNEL, "api_secret": "sec\nret"},
        "api_secret",
        "API secret must be on one line.",
    ),
    (ChannelInput, {**CHANNEL, "currency": "XYZ"}, "currency", "Currency XYZ is not supported."),
    (ChannelInput, {**CHANNEL, "environment": "moon"}, "environment", "Choose the environment."),
    (
        ChannelInput,
        {**CHANNEL, "url_fields": ["amount"]},
        "url_fields",
        "Unknown URL field: amount.",
    ),
    (
        ChannelInput,
        {**CUSTOM, "linkpay_prefix": "igw-demo.every-pay.com/lp", "api_base": API},
        "linkpay_prefix",
        "LinkPay prefix must be a full URL.",
    ),
    (
        ChannelInput,
        {**CUSTOM, "linkpay_prefix": LP, "api_base": "every-pay.com"},
        "api_base",
        "API base must be a full URL.",
    ),
    (
        ChannelInput,
        {**CUSTOM, "linkpay_prefix": LP, "api_base": API + "\x00"},
        "api_base",
        f"API base contains an invisible control character (U+0000); {CONTROL}",
    ),
    (
        DraftInput,
        {**DRAFT, "issue_date": date(2026, 3, 2), "due_date": date(2026, 3, 1)},
        "due_date",
        "Due date cannot be before the issue date.",
    ),
    (
        DraftInput,
        {**DRAFT, "notes": "n" * 2001},
        "notes",
        "Notes can be at most 2000 characters; this one has 2001.",
    ),
]


@pytest.mark.parametrize(
    ("model", "values", "field", "message"),
    CASES,
    ids=[f"{model.__name__}.{field}:{message[:30]}" for model, _, field, message in CASES],
)
def test_a_bad_value_gets_its_message_next_to_its_field(
    model: type[FormInput], values: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as error:
        model(**values)
    assert (error.value.field, str(error.value)) == (field, message)


def test_with_two_bad_values_the_form_shows_the_first_it_always_showed() -> None:
    with pytest.raises(ValidationError) as error:
        CustomerInput(name="", email="nope")
    assert error.value.field == "name"


@pytest.mark.parametrize(
    ("model", "values"),
    [
        (CustomerInput, {"name": "A"}),
        (CompanyInput, {"name": "K"}),
        (ChannelInput, CHANNEL),
        (DraftInput, DRAFT),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_misspelt_field_is_refused_not_dropped(
    model: type[FormInput], values: dict[str, Any]
) -> None:
    with pytest.raises(TypeError, match="emial"):
        model(**values, emial="anna@example.lv")


def test_typed_text_is_stored_cleaned() -> None:
    customer = CustomerInput(
        name=" Anna SIA ", cc_emails="a@x.lv; b@y.lv\na@x.lv", address="Rīga\r\n1"
    )
    assert (customer.name, customer.cc_emails, customer.address) == (
        "Anna SIA",
        "a@x.lv, b@y.lv",
        "Rīga\n1",
    )
    channel = ChannelInput(
        **CUSTOM, name="", url_fields=["customer_email"], linkpay_prefix=LP + "/", api_base=API
    )
    assert (channel.name, channel.url_fields, channel.linkpay_prefix) == (
        "LinkPay",
        ["transaction_amount", "order_reference", "customer_email"],
        LP,
    )


def test_the_api_secret_stays_out_of_the_input_repr_and_of_a_callers_error() -> None:
    channel = ChannelInput(**{**CHANNEL, "api_secret": "very-secret-4321"})
    assert "very-secret" not in repr(channel)
    with pytest.raises(TypeError) as error:
        ChannelInput(**{**CHANNEL, "api_secret": "very-secret-4321"}, currency=978)
    assert "very-secret" not in str(error.value)


def test_every_customer_field_reaches_the_row_on_create_and_on_update(db: str) -> None:
    first = CustomerInput(
        name="Anna SIA",
        language="en",
        registration_number="40003000017",
        vat_number="LV40003000017",
        email="anna@example.lv",
        cc_emails="books@example.lv",
        address="Rīga, Brīvības 1",
    )
    second = CustomerInput(name="Anna Bērziņa SIA", email="b@example.lv")
    with write_session() as session:
        customer_id = create_customer(session, actor="t", data=first).id
    with read_session() as session:
        stored = session.exec(select(Customer)).one()
        assert {name: getattr(stored, name) for name in first.model_dump()} == first.model_dump()
    with write_session() as session:
        update_customer(session, actor="t", customer_id=customer_id, data=second)
    with read_session() as session:
        stored = session.exec(select(Customer)).one()
        assert {name: getattr(stored, name) for name in second.model_dump()} == second.model_dump()


def test_every_company_field_reaches_the_row(db: str) -> None:
    data = CompanyInput(
        name="Koks SIA",
        registration_number="40003000002",
        vat_number="LV40003000002",
        address="Rīga, Brīvības 2",
        email="info@koks.lv",
        default_currency="USD",
        timezone="Europe/Vilnius",
    )
    with write_session() as session:
        save_company(session, actor="t", data=data)
    with read_session() as session:
        company = get_company(session)
        assert {name: getattr(company, name) for name in data.model_dump()} == data.model_dump()
