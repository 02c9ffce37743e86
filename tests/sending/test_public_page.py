import html
import re
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import delete, select

from callback_service.public_pages import router
from shared.db import read_session, write_session
from shared.invoicing import cancel_invoice
from shared.linkpay.signing import parse_query, verify_query
from shared.models import (
    CallbackEvent,
    CallbackStatus,
    FunnelEvent,
    FunnelStep,
    Invoice,
    PaymentAttempt,
    PaymentChannel,
)
from shared.public_urls import public_token
from tests.sending.conftest import english_customer, issued_invoice
from tests.utils.factories import API_SECRET, make_invoice, post_payment, settle_linkpay


@pytest.fixture
def client(db: str) -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app, follow_redirects=False)


def _opened(invoice_id: int) -> list[FunnelEvent]:
    with read_session() as session:
        return list(
            session.exec(
                select(FunnelEvent).where(
                    FunnelEvent.invoice_id == invoice_id,
                    FunnelEvent.step == FunnelStep.LINK_OPENED,
                )
            ).all()
        )


def _pay(client: TestClient, token: str) -> dict[str, str]:
    response = client.get(f"/i/{token}/pay")
    assert response.status_code == 303
    query = response.headers["location"].split("?", 1)[1]
    assert verify_query(query, API_SECRET)
    return parse_query(query)


def test_unpaid_invoice_page_shows_details_and_a_pay_button(client, company):
    invoice = issued_invoice(customer=english_customer())

    response = client.get(f"/i/{public_token(invoice)}")

    assert response.status_code == 200
    page = response.text
    for expected in (
        invoice.number,
        "Baltic Widgets SIA",
        "Northwind Ltd",
        "Consulting",
        "121.00 EUR",
        "21.00 EUR",
        "VAT rate",
        "Unpaid",
        "Pay online",
        "Download PDF",
        "Swedbank",
    ):
        assert expected in page, expected
    assert f'href="{public_token(invoice)}/pay"' in page
    assert f'src="{public_token(invoice)}/logo"' in page
    assert "hmac" not in page and API_SECRET not in page
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"

    logo = client.get(f"/i/{public_token(invoice)}/logo")
    assert logo.status_code == 200 and logo.headers["content-type"] == "image/png"
    pdf = client.get(f"/i/{public_token(invoice)}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_latvian_customer_sees_a_latvian_page(client):
    invoice = issued_invoice()

    page = client.get(f"/i/{public_token(invoice)}").text

    for words in (
        "Rēķins",
        "Apmaksāt tiešsaistē",
        "Summa apmaksai",
        "Apmaksas termiņš",
        "Neapmaksāts",
        "PVN",
        "Kopā",
    ):
        assert words in page, words


def test_pay_records_link_opened_and_redirects_to_the_current_signed_link(client):
    invoice = issued_invoice(customer=english_customer())

    params = _pay(client, public_token(invoice))

    assert params["transaction_amount"] == "121.00"
    assert params["order_reference"] == invoice.number
    assert [e.detail for e in _opened(invoice.id)] == ["pay"]
    # The lost-payment watch starts from this first opening; a second one keeps it.
    with read_session() as session:
        first_opened = session.get(Invoice, invoice.id).pay_link_opened_at
    assert first_opened is not None
    with write_session() as session:
        session.exec(delete(FunnelEvent))  # as if ten minutes had passed
    _pay(client, public_token(invoice))
    with read_session() as session:
        assert session.get(Invoice, invoice.id).pay_link_opened_at == first_opened


def test_a_pay_link_that_cannot_be_signed_now_gets_a_clear_page_not_an_error(client):
    invoice = issued_invoice(customer=english_customer())
    with write_session() as session:
        channel = session.get(PaymentChannel, invoice.channel_id)
        channel.api_secret_encrypted = "k1:not-a-ciphertext"
        session.add(channel)

    response = client.get(f"/i/{public_token(invoice)}/pay")

    assert response.status_code == 503
    assert "Online payment is not available at the moment" in response.text
    assert invoice.number in response.text and "Back to the invoice" in response.text


def test_the_customer_back_from_everypay_is_told_we_check_and_the_reference_is_queued(client):
    invoice = issued_invoice(customer=english_customer())
    reference = "a" * 64
    query = f"payment_reference={reference}&order_reference={invoice.number}"

    for _ in range(2):  # a reload (the page refreshes itself) stores nothing more
        response = client.get(f"/i/{public_token(invoice)}/return?{query}")
        assert response.status_code == 200
        assert "We are checking your payment" in response.text
        assert '<meta http-equiv="refresh" content="5">' in response.text

    with read_session() as session:
        [event] = session.exec(select(CallbackEvent)).all()
    assert (event.payment_reference, event.channel_id) == (reference, invoice.channel_id)
    assert (event.event_name, event.status) == ("customer_return", CallbackStatus.PENDING)

    bad = client.get(f"/i/{public_token(invoice)}/return?payment_reference=x%27%3B")
    assert bad.status_code == 200 and "If you completed the payment" in bad.text
    with read_session() as session:
        assert len(session.exec(select(CallbackEvent)).all()) == 1


@pytest.mark.parametrize(
    ("state", "expected"),
    [("failed", "The payment did not go through"), ("settled", "Payment received")],
)
def test_once_everypay_answered_the_returning_customer_reads_the_outcome(client, state, expected):
    invoice = issued_invoice(customer=english_customer())
    reference = "b" * 64
    with write_session() as session:
        session.add(
            PaymentAttempt(
                payment_reference=reference,
                channel_id=invoice.channel_id,
                invoice_id=invoice.id,
                state=state,
            )
        )

    page = client.get(f"/i/{public_token(invoice)}/return?payment_reference={reference}").text

    assert expected in page and 'http-equiv="refresh"' not in page


def test_partly_paid_page_and_pay_ask_for_the_open_balance_under_suffix_2(client):
    invoice = issued_invoice(customer=english_customer())
    with write_session() as session:
        settle_linkpay(session, invoice_id=invoice.id, amount_minor=5000)

    page = client.get(f"/i/{public_token(invoice)}").text

    assert "Partly paid" in page and "71.00 EUR" in page and "Pay online" in page
    params = _pay(client, public_token(invoice))
    assert params["transaction_amount"] == "71.00"
    assert params["order_reference"] == f"{invoice.number}-2"


def test_paid_invoice_page_says_paid_without_a_pay_button(client):
    invoice = issued_invoice(customer=english_customer())
    with write_session() as session:
        post_payment(session, invoice_id=invoice.id, amount_minor=invoice.total_minor)

    page = client.get(f"/i/{public_token(invoice)}").text

    assert "This invoice has been paid" in page and "Pay online" not in page
    response = client.get(f"/i/{public_token(invoice)}/pay")
    assert response.status_code == 303
    assert response.headers["location"] == f"../{public_token(invoice)}"


def test_cancelled_invoice_page_says_cancelled_without_a_pay_button(client):
    invoice = issued_invoice()
    with write_session() as session:
        cancel_invoice(session, actor="t", invoice_id=invoice.id, reason="Duplicate")

    page = client.get(f"/i/{public_token(invoice)}").text

    assert "Atcelts" in page and "Šis rēķins ir atcelts" in page
    assert "Apmaksāt tiešsaistē" not in page


def test_unknown_token_and_drafts_get_a_404_page(client):
    draft = make_invoice(channel=None, issue=False)
    for path in (
        "/i/no-such-token-at-all-0000",
        f"/i/{public_token(draft)}",
        f"/i/{public_token(draft)}/pdf",
        f"/i/{public_token(draft)}/pay",
        f"/i/{public_token(draft)}/return?payment_reference={'a' * 64}",
        "/i/x<y>",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Invoice not found" in response.text and "Rēķins nav atrasts" in response.text


def test_page_views_count_once_per_ten_minutes(client, monkeypatch):
    invoice = issued_invoice()
    for _ in range(3):
        client.get(f"/i/{public_token(invoice)}")
    assert len(_opened(invoice.id)) == 1

    with write_session() as session:
        for event in session.exec(select(FunnelEvent)).all():
            event.at -= timedelta(minutes=11)
            session.add(event)
    client.get(f"/i/{public_token(invoice)}")
    assert len(_opened(invoice.id)) == 2


def test_page_escapes_what_customers_and_staff_typed(client):
    invoice = issued_invoice(customer=english_customer(name="<script>x</script> Ltd"))

    page = client.get(f"/i/{public_token(invoice)}").text

    assert "<script>x</script>" not in page and html.escape("<script>x</script>") in page
    assert re.search(r"<script", page) is None
