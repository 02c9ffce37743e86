"""The company and customer forms: numbers checked next to their field, a duplicate
registration number saved with a warning, payment terms kept, and "Check in VIES" telling
what VIES said without ever blocking; the invoice editor's supply date."""

from collections.abc import Iterator
from datetime import date

import pytest
from sqlmodel import select

from shared.db import read_session
from shared.models import Company, Customer, Invoice
from tests.dashboard.conftest import app_as, no_exceptions, open_page, texts
from tests.utils.factories import make_customer
from tests.utils.vies_server import FakeVies, fake_vies


@pytest.fixture
def vies(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVies]:
    with fake_vies(monkeypatch) as fake:
        yield fake


def _new_customer(at, name: str, registration: str, **extra) -> None:
    at.button(key="customer_new").click().run()
    at.text_input(key="cust_new_name").input(name)
    at.text_input(key="cust_new_reg").input(registration)
    for key, value in extra.items():
        at.number_input(key=f"cust_new_{key}").set_value(value)
    at.button(key="cust_new_save").click().run()


def test_customer_numbers_are_checked_and_a_duplicate_is_saved_with_a_warning(db):
    at = open_page(app_as("finance"), "customers")

    _new_customer(at, "Kurzemes Koks SIA", "40003009498")
    assert any("wrong check digit" in error.value for error in at.error)
    at.text_input(key="cust_new_reg").input("4000 3009 497")
    at.number_input(key="cust_new_terms").set_value(30)
    at.button(key="cust_new_save").click().run()
    no_exceptions(at)
    assert "Customer Kurzemes Koks SIA saved." in texts(at)

    _new_customer(at, "SIA Kurzemes koks", "40003009497")
    no_exceptions(at)
    assert [warning.value for warning in at.warning] == [
        "Saved, but Kurzemes Koks SIA has the same registration number 40003009497: "
        "is this the same customer twice?"
    ]
    with read_session() as session:
        stored = session.exec(select(Customer).order_by(Customer.id)).all()
    assert [(c.registration_number, c.payment_terms_days) for c in stored] == [
        ("40003009497", 30),
        ("40003009497", 14),
    ]


def _save_company(at, vat: str) -> None:
    at.text_input(key="co_name").input("Koks SIA")
    at.text_input(key="co_vat").input(vat)
    at.checkbox(key="co_words").check()
    at.button(key="co_save").click().run()


def test_company_vat_number_is_checked_and_vies_asked_on_request(vies):
    at = open_page(app_as("admin"), "company")
    assert at.button(key="co_vies").disabled  # nothing saved to check yet
    _save_company(at, "LV40003009498")
    assert any("wrong check digit" in error.value for error in at.error)
    assert vies.requests == []  # the form never calls VIES by itself

    _save_company(at, "LV 4000 3009 497")
    no_exceptions(at)
    with read_session() as session:
        company = session.exec(select(Company)).one()
    assert (company.vat_number, company.amount_in_words) == ("LV40003009497", True)
    assert vies.requests == []

    vies.body = {"valid": True, "name": "SIA KOKS", "address": "RĪGA"}
    at.button(key="co_vies").click().run()
    assert [s.value for s in at.success] == [
        "VIES confirms LV40003009497 is a valid VAT number: SIA KOKS, RĪGA."
    ]

    vies.status, vies.body = 503, {"errorWrappers": [{"error": "SERVICE_UNAVAILABLE"}]}
    at.button(key="co_vies").click().run()
    no_exceptions(at)
    assert "Could not reach VIES to check LV40003009497; the number is saved anyway." in texts(at)


def test_a_customers_vat_number_is_checked_in_vies_on_request(vies):
    at = open_page(app_as("finance"), "customers")
    _new_customer(at, "Tartu Disain OÜ", "12000003")
    # A new customer is Latvian until told otherwise, and 12000003 is no Latvian number.
    assert any("exactly 11 digits" in error.value for error in at.error)
    at.selectbox(key="cust_new_country").set_value("EE")
    at.button(key="cust_new_save").click().run()
    no_exceptions(at)
    with read_session() as session:
        customer = session.exec(select(Customer)).one()
    assert (customer.country, customer.registration_number) == ("EE", "12000003")
    at.selectbox(key="customer_pick").set_value(customer.id).run()
    assert at.button(key="customer_vies").disabled  # no VAT number saved yet
    at.text_input(key=f"cust_{customer.id}_vat").input("EE100931558")
    at.button(key=f"cust_{customer.id}_save").click().run()
    at.selectbox(key="customer_pick").set_value(customer.id).run()

    vies.body = {"valid": False, "userError": "INVALID"}
    at.button(key="customer_vies").click().run()

    no_exceptions(at)
    assert vies.requests == [{"countryCode": "EE", "vatNumber": "100931558"}]
    assert [w.value for w in at.warning] == [
        "VIES says EE100931558 is not a valid VAT number (saved all the same: "
        "check it with its holder)."
    ]


def test_the_editor_keeps_a_supply_date_and_the_detail_shows_it(db):
    make_customer()
    at = open_page(app_as("finance"), "invoices")
    at.button(key="invoice_new").click().run()
    at.text_input(key="new_invoice_desc_0").input("Konsultācijas")
    at.text_input(key="new_invoice_qty_0").input("1")
    at.text_input(key="new_invoice_price_0").input("100")
    at.date_input(key="new_invoice_issue_date").set_value(date(2026, 11, 2))
    at.date_input(key="new_invoice_supply_date").set_value(date(2026, 10, 30))
    at.button(key="new_invoice_save").click().run()
    no_exceptions(at)

    with read_session() as session:
        invoice = session.exec(select(Invoice)).one()
    assert (invoice.issue_date, invoice.supply_date) == (date(2026, 11, 2), date(2026, 10, 30))
    at = open_page(at, "invoice_detail")
    assert "Issue date 2026-11-02 · Supply date 2026-10-30 · Due date —" in texts(at)
