"""The e-invoice on the invoice's Send panel (AppTest): the customer's default preselected,
the XML made and offered for download, a broken rule shown by its id."""

import sys
from collections.abc import Iterator

import pytest
import streamlit as st
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from dashboard import ui
from shared.db import read_session, write_session
from shared.models import Customer, MessageChannel, MessageLog, SendingMethod
from shared.users import create_user
from tests.sending.conftest import english_customer, issued_invoice


@pytest.fixture(autouse=True)
def fresh_streamlit() -> Iterator[None]:
    main = sys.modules["__main__"]
    st.cache_data.clear()
    yield
    st.cache_data.clear()
    sys.modules["__main__"] = main


def _panel(invoice_id: int, role: str) -> None:
    from dashboard.app_pages.sending import render_sending_actions

    render_sending_actions(invoice_id, username=role, role=role)


def _panel_as(role: str, invoice_id: int) -> AppTest:
    at = AppTest.from_function(
        _panel, kwargs={"invoice_id": invoice_id, "role": role}, default_timeout=30
    )
    with write_session() as session:
        user = create_user(session, actor="t", username=role, password="long-enough-1", role=role)
    at.session_state["auth"] = ui.new_session(user.id)
    return at.run()


def _buyer(**values) -> Customer:
    customer = english_customer()
    with write_session() as session:
        row = session.get(Customer, customer.id)
        row.sqlmodel_update({"registration_number": "40103000001", **values})
        session.add(row)
        session.flush()
        session.expunge(row)
        return row


def _button(at: AppTest, label: str):
    return next(button for button in at.button if button.label == label)


def _downloads(at: AppTest) -> list[str]:
    return [element.proto.label for element in at.get("download_button")]


def _logs() -> list[MessageLog]:
    with read_session() as session:
        return list(session.exec(select(MessageLog)))


def test_customers_default_ticks_attach_and_the_log_says_the_xml_went_along(smtp_server, company):
    invoice = issued_invoice(customer=_buyer(sending_method=SendingMethod.EMAIL_EINVOICE))

    at = _panel_as("finance", invoice.id)
    assert at.checkbox(key=f"send_email_{invoice.id}_einvoice").value is True
    _button(at, "Send e-mail").click().run()

    assert not at.exception
    parts = [part.get_content_type() for part in smtp_server.messages[0].iter_attachments()]
    assert parts == ["application/pdf", "application/xml"]
    assert list(at.dataframe[0].value["Channel"]) == ["E-mail + e-invoice"]


def test_finance_makes_the_e_invoice_and_downloads_it_logged(db, company):
    invoice = issued_invoice(customer=_buyer(sending_method=SendingMethod.EINVOICE))

    at = _panel_as("finance", invoice.id)
    assert at.checkbox(key=f"send_email_{invoice.id}_einvoice").value is False
    assert _button(at, "E-invoice (XML)").proto.type == "primary"  # the customer's default
    assert _downloads(at) == ["Download PDF"]
    _button(at, "E-invoice (XML)").click().run()

    assert not at.exception
    assert _downloads(at) == ["Download PDF", f"Download {invoice.number}.xml"]
    [log] = _logs()
    assert (log.channel, log.subject) == (MessageChannel.EINVOICE, f"{invoice.number}.xml")
    assert list(at.dataframe[0].value["Channel"]) == ["E-invoice (XML)"]


def test_a_broken_rule_is_shown_by_its_id_and_nothing_is_offered(db, company):
    invoice = issued_invoice(
        customer=_buyer(vat_number="XX40103000001", peppol_scheme="0218", peppol_id="40103000001")
    )

    at = _panel_as("finance", invoice.id)
    _button(at, "E-invoice (XML)").click().run()

    assert not at.exception
    assert "BR-CO-09: the customer's VAT number must start with its country code" in (
        at.error[0].value
    )
    assert _downloads(at) == ["Download PDF"] and _logs() == []


def test_a_manager_downloads_a_copy_without_it_counting_as_sent(db, company):
    invoice = issued_invoice(customer=_buyer())

    at = _panel_as("manager", invoice.id)
    _button(at, "E-invoice (XML)").click().run()

    assert not at.exception
    # Beside the manager's copy of the PDF, which does not count as sent either.
    assert _downloads(at) == [f"Download {invoice.number}.xml", "Download a copy (PDF)"]
    assert _logs() == []
