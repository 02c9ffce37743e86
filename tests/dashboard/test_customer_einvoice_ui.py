"""Customers page: the e-invoice address and the default sending method, saved from the
form; a wrong id is refused next to its field."""

from sqlmodel import select

from shared.db import read_session
from shared.models import Customer, SendingMethod
from tests.dashboard.conftest import app_as, no_exceptions, open_page, texts


def test_finance_gives_a_customer_an_e_invoice_address_and_makes_it_their_default(db):
    at = open_page(app_as("finance"), "customers")
    at.button(key="customer_new").click().run()
    at.text_input(key="cust_new_name").input("Kalns SIA")
    at.selectbox(key="cust_new_peppol_scheme").set_value("9939")
    at.text_input(key="cust_new_peppol_id").input("40003245752")
    at.radio(key="cust_new_sending_method").set_value(SendingMethod.EMAIL_EINVOICE)
    at.button(key="cust_new_save").click().run()

    assert any(
        "'40003245752' is not a Latvian VAT number (scheme 9939, e.g. LV40003245752)" in e.value
        for e in at.error
    )
    with read_session() as session:
        assert session.exec(select(Customer)).first() is None

    at.text_input(key="cust_new_peppol_id").input("lv 40003245752")
    at.button(key="cust_new_save").click().run()

    no_exceptions(at)
    assert "Customer Kalns SIA saved." in texts(at)
    with read_session() as session:
        customer = session.exec(select(Customer)).one()
    assert (customer.peppol_scheme, customer.peppol_id, customer.sending_method) == (
        "9939",
        "LV40003245752",
        SendingMethod.EMAIL_EINVOICE,
    )
    at.selectbox(key="customer_pick").set_value(customer.id).run()
    assert at.text_input(key=f"cust_{customer.id}_peppol_id").value == "LV40003245752"
    assert at.radio(key=f"cust_{customer.id}_sending_method").value == "email_einvoice"
