"""Company and customer details as an invoice prints them: registration and VAT numbers
checked, a duplicate registration number pointed out, payment terms giving the due date,
and no text ever cut to fit its column."""

from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import SQLModel

from shared.company import CompanyInput
from shared.customers import (
    CustomerInput,
    create_customer,
    duplicate_warning,
    update_customer,
)
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.inputs import FormInput
from shared.invoicing import DraftInput, LineInput, create_draft, issue_invoice
from shared.models import Company, Customer, Invoice
from shared.tax_numbers import (
    country_names,
    is_latvian,
    parse_registration_number,
    parse_vat_number,
)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("LV40003009497", "LV40003009497"),
        ("lv 4000 3009 497", "LV40003009497"),
        ("EE100931558", "EE100931558"),
        ("DE 136 695 976", "DE136695976"),
        ("EL094259216", "EL094259216"),
        # Outside the EU: nothing to check the format against, kept as written.
        ("NO987654321MVA", "NO987654321MVA"),
        ("", ""),
    ],
)
def test_a_good_vat_number_is_stored_compact(typed: str, stored: str) -> None:
    assert parse_vat_number(typed) == stored


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("LV40003009498", "VAT number LV40003009498 has a wrong check digit; please check it."),
        ("LV4000300949", "VAT number LV4000300949 is not in the format of LV VAT numbers."),
        ("DE123", "VAT number DE123 is not in the format of DE VAT numbers."),
        (
            "40003009497",
            "Write the VAT number 40003009497 with its country code, e.g. LV40003009497.",
        ),
    ],
)
def test_a_bad_vat_number_is_refused_with_the_reason(typed: str, message: str) -> None:
    with pytest.raises(ValidationError) as error:
        parse_vat_number(typed)
    assert (error.value.field, str(error.value)) == ("vat_number", message)


@pytest.mark.parametrize(
    ("typed", "vat", "stored"),
    [
        ("4000 3009 497", "", "40003009497"),
        ("40003009497", "LV40003009497", "40003009497"),
        # Estonian (8 digits), Lithuanian (9) and Swedish (10) numbers: not Latvian ones.
        ("12000003", "", "12000003"),
        ("300000004", "LT100000000017", "300000004"),
        ("556000-0006", "", "556000-0006"),
        # Eleven digits starting with 0 to 3 are personal codes, also abroad: kept as typed.
        ("32000000000", "", "32000000000"),
    ],
)
def test_the_companys_registration_number_is_checked_where_it_looks_latvian(
    typed: str, vat: str, stored: str
) -> None:
    assert parse_registration_number(typed, latvian=is_latvian(typed, vat)) == stored


def test_a_customers_registration_number_is_checked_when_the_customer_is_in_latvia() -> None:
    estonian = CustomerInput(name="Kask OÜ", country="ee", registration_number="12000003")
    assert (estonian.country, estonian.registration_number) == ("EE", "12000003")
    # A Latvian-looking number abroad is kept as typed, checksum or not.
    assert CustomerInput(name="A", country="EE", registration_number="40003009498")
    with pytest.raises(ValidationError, match="exactly 11 digits") as error:
        CustomerInput(name="Kask OÜ", registration_number="12000003")  # Latvia by default
    assert error.value.field == "registration_number"
    with pytest.raises(ValidationError, match="wrong check digit"):
        CustomerInput(name="A", country="LV", registration_number="40003009498")
    with pytest.raises(ValidationError, match="not a country code") as error:
        CustomerInput(name="A", country="EU")
    assert error.value.field == "country"


@pytest.mark.parametrize(
    ("typed", "vat", "message"),
    [
        ("40003009498", "", "wrong check digit"),
        ("12000003", "LV40003009497", "exactly 11 digits"),
        ("32000000000", "LV40003009497", "personal code"),
    ],
)
def test_a_bad_latvian_registration_number_is_refused(typed: str, vat: str, message: str) -> None:
    for model, name in ((CustomerInput, "Anna SIA"), (CompanyInput, "Koks SIA")):
        with pytest.raises(ValidationError, match=message) as error:
            model(name=name, registration_number=typed, vat_number=vat)
        assert error.value.field == "registration_number"


def test_the_forms_store_the_numbers_cleaned() -> None:
    for model, name in ((CustomerInput, "Anna SIA"), (CompanyInput, "Koks SIA")):
        data = model(name=name, registration_number="4000 3009 497", vat_number="lv40003009497")
        assert (data.registration_number, data.vat_number) == ("40003009497", "LV40003009497")


def _text_fields(model: type[FormInput]) -> list[str]:
    return [name for name, field in model.model_fields.items() if field.annotation is str]


def _column_limit(table: type[SQLModel], field: str) -> int:
    return table.__table__.c[field].type.length


@pytest.mark.parametrize(
    ("model", "table", "required"),
    [(CustomerInput, Customer, {"name": "Anna SIA"}), (CompanyInput, Company, {"name": "Koks"})],
    ids=["customer", "company"],
)
def test_every_text_field_refuses_text_longer_than_its_column(
    model: type[FormInput], table: type[SQLModel], required: dict[str, Any]
) -> None:
    checked = []
    for field in _text_fields(model):
        limit = _column_limit(table, field)
        with pytest.raises(ValidationError) as error:
            model(**{**required, field: "a" * (limit + 1)})
        assert error.value.field == field
        # Every free-text field names its limit; the others refuse such text as not theirs.
        assert str(limit) in str(error.value) or field in {
            "email",
            "language",
            "country",
            "ui_language",
            "default_currency",
            "timezone",
            "peppol_scheme",
            "sending_method",
        }, (field, str(error.value))
        checked.append(field)
    assert {"name", "registration_number", "vat_number", "address", "email"} <= set(checked)


def _customer(**values: Any) -> Customer:
    with write_session() as session:
        return create_customer(
            session, actor="t", data=CustomerInput(**{"name": "Anna SIA", **values})
        )


def test_a_second_customer_with_the_same_registration_number_is_saved_with_a_warning(
    any_db: str,
) -> None:
    first = _customer(name="Kurzemes Koks SIA", registration_number="40003009497")
    with write_session() as session:
        second = create_customer(
            session,
            actor="t",
            data=CustomerInput(name="SIA Kurzemes koks", registration_number="4000 3009 497"),
        )
        warning = duplicate_warning(session, customer=second)
    assert warning == (
        "Saved, but Kurzemes Koks SIA has the same registration number 40003009497: "
        "is this the same customer twice?"
    )
    with read_session() as session:
        assert session.get(Customer, second.id) is not None
        # The first customer is told about the second too.
        assert duplicate_warning(session, customer=session.get(Customer, first.id)) != ""
    with write_session() as session:
        changed = update_customer(
            session,
            actor="t",
            customer_id=second.id,
            data=CustomerInput(name="SIA Kurzemes koks", registration_number="40003000017"),
        )
        assert duplicate_warning(session, customer=changed) == ""
    with read_session() as session:
        # Alone with its number again: its own row is no duplicate of itself.
        assert duplicate_warning(session, customer=session.get(Customer, first.id)) == ""


def test_several_customers_with_the_number_are_all_named(db: str) -> None:
    _customer(name="Koks A", registration_number="40003009497")
    _customer(name="Koks B", registration_number="40003009497")
    third = _customer(name="Koks C", registration_number="40003009497")
    with read_session() as session:
        assert duplicate_warning(session, customer=session.get(Customer, third.id)) == (
            "Saved, but Koks A, Koks B have the same registration number 40003009497: "
            "is this the same customer twice?"
        )


def test_payment_terms_are_bounded() -> None:
    assert CustomerInput(name="A", payment_terms_days=0).payment_terms_days == 0
    with pytest.raises(ValidationError, match="0 to 365 days") as error:
        CustomerInput(name="A", payment_terms_days=366)
    assert error.value.field == "payment_terms_days"


def test_an_invoice_without_a_due_date_is_due_after_the_customers_payment_terms(
    any_db: str,
) -> None:
    customer = _customer(payment_terms_days=30)
    issued = date(2026, 11, 2)
    with write_session() as session:
        draft = create_draft(
            session,
            actor="t",
            data=DraftInput(customer_id=customer.id, lines=[LineInput("Hours", "1", "10")]),
        )
        set_due = create_draft(
            session,
            actor="t",
            data=DraftInput(
                customer_id=customer.id,
                lines=[LineInput("Hours", "1", "10")],
                due_date=issued + timedelta(days=5),
            ),
        )
    with write_session() as session:
        issue_invoice(session, actor="t", invoice_id=draft.id, today=issued)
        issue_invoice(session, actor="t", invoice_id=set_due.id, today=issued)
    with read_session() as session:
        assert session.get(Invoice, draft.id).due_date == date(2026, 12, 2)
        assert session.get(Invoice, set_due.id).due_date == date(2026, 11, 7)


def test_countries_are_offered_by_name_in_the_readers_language() -> None:
    latvian = country_names(language="lv")
    assert len(latvian) == 249 and "EU" not in latvian and "XK" not in latvian
    assert (latvian["LV"], latvian["EE"]) == ("Latvija", "Igaunija")
    names = list(latvian.values())
    # Ē sorts with E, not after Z.
    assert names.index("Ekvadora") < names.index("Ēģipte") < names.index("Zviedrija")
    assert country_names(language="en")["DE"] == "Germany"
