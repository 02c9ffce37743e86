"""Payments → Exceptions: the Find payment form books a payment found by its reference,
and the page says how many invoices' reminders are held."""

from datetime import timedelta

import respx

from shared.callbacks.lost_payments import check_lost_payments, watch_pay_link_opened
from shared.db import read_session
from shared.models import Invoice, InvoiceStatus, utcnow
from tests.callbacks.helpers import API_BASE, answer_with, make_shop
from tests.dashboard.conftest import app_as, no_exceptions, open_page, texts
from tests.utils.callback_service import new_reference


def test_finance_finds_a_lost_payment_by_its_reference_and_it_is_booked(db) -> None:
    shop = make_shop()
    watch_pay_link_opened(invoice_id=shop.invoice.id, at=utcnow() - timedelta(hours=30))
    check_lost_payments()
    reference = new_reference()
    at = open_page(app_as("finance"), "exceptions")
    no_exceptions(at)
    assert "Reminders are held for 1 invoice(s)" in texts(at)

    with respx.mock(base_url=API_BASE, assert_all_called=True) as api:
        answer_with(api, shop.answer(reference, state="settled"))
        at.text_input(key="find_reference").set_value(reference)
        next(b for b in at.button if b.label == "Find payment").click().run()

    no_exceptions(at)
    [success] = at.success
    assert f"{shop.invoice.number}: payment settled" in success.value
    assert "Reminders are held" not in texts(at)  # the lost-payment item closed itself
    with read_session() as session:
        assert session.get(Invoice, shop.invoice.id).status == InvoiceStatus.PAID


def test_a_reference_that_cannot_be_one_is_explained_and_managers_see_no_form(db) -> None:
    make_shop()
    at = open_page(app_as("finance"), "exceptions")
    at.text_input(key="find_reference").set_value("INV-2026-0001")
    next(b for b in at.button if b.label == "Find payment").click().run()

    no_exceptions(at)
    assert "A payment reference is 1 to 64 letters and digits" in at.error[0].value

    manager = open_page(app_as("manager"), "exceptions")
    no_exceptions(manager)
    assert not [w for w in manager.text_input if w.key == "find_reference"]
