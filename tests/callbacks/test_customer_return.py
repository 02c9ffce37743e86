"""Every callback of a payment is lost, but EveryPay sends the customer back to the
invoice's return address with the payment reference: the service asks the API and books
it. The sandbox and the callback service run as real servers; the customer is httpx."""

import httpx
import pytest
from sqlmodel import select

from callback_service.app import create_app
from shared.config import get_settings
from shared.db import read_session
from shared.models import (
    CallbackEvent,
    FunnelEvent,
    FunnelStep,
    Invoice,
    InvoiceStatus,
)
from shared.public_urls import public_pay_url, public_return_url
from tests.utils.callback_service import running_app, wait_until
from tests.utils.factories import make_channel, make_invoice
from tests.utils.sandbox_server import running_sandbox


@pytest.mark.slow
def test_a_payment_whose_callbacks_are_lost_is_booked_from_the_customer_s_return(
    db, tmp_path, monkeypatch
):
    with (
        running_sandbox(tmp_path) as sandbox,
        running_app(create_app()) as service_url,
    ):
        monkeypatch.setenv("LINKPAY_PUBLIC_BASE_URL", service_url)
        get_settings.cache_clear()
        merchant = sandbox.create_merchant(
            name="Return Test SIA",
            callback_url=f"{service_url}/callbacks/linkpay/unused",
            url_fields=["transaction_amount", "order_reference", "customer_url"],
        )
        sandbox.set_faults(callbacks="drop")  # not one callback reaches us
        channel = make_channel(
            api_base=merchant["api_base"],
            linkpay_prefix=merchant["lp_prefix"],
            api_username=merchant["api_username"],
            api_secret=merchant["api_secret"],
            link_token=merchant["link_token"],
            url_fields=("customer_url",),
        )
        invoice = make_invoice(channel=channel)

        with httpx.Client(timeout=10.0) as customer:
            # The e-mail's link: ours, counted, then on to EveryPay's hosted page.
            opened = customer.get(public_pay_url(invoice))
            assert opened.status_code == 303
            hosted = opened.headers["location"]
            assert hosted.startswith(f"{merchant['lp_prefix']}?")
            paid = customer.post(hosted, data={"outcome": "pay", "method": "card"})
            assert paid.status_code == 303
            back = paid.headers["location"]
            assert back.startswith(f"{public_return_url(invoice)}?payment_reference=")
            page = customer.get(back)

        assert page.status_code == 200
        # In the customer's language; the worker may already have EveryPay's answer.
        assert "Mēs pārbaudām jūsu maksājumu" in page.text or "Maksājums saņemts" in page.text

        def booked() -> Invoice | None:
            with read_session() as session:
                found = session.get(Invoice, invoice.id)
            return found if found.status == InvoiceStatus.PAID else None

        assert wait_until(booked, timeout=20, message="the returned payment to be booked")
        with httpx.Client(timeout=10.0) as customer:
            assert "Šis rēķins ir apmaksāts" in customer.get(back).text
        reference = back.split("payment_reference=", 1)[1].split("&", 1)[0]
        assert [d["callback_status"] for d in sandbox.deliveries(reference)] == ["dropped"]
    with read_session() as session:
        [event] = session.exec(select(CallbackEvent)).all()
        opened_events = session.exec(
            select(FunnelEvent).where(FunnelEvent.step == FunnelStep.LINK_OPENED)
        ).all()
    assert event.event_name == "customer_return" and event.status == "done"
    assert [e.detail for e in opened_events] == ["pay"]
