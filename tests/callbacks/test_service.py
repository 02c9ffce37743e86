"""The whole service in-process over real HTTP (uvicorn), with its worker threads and a
fake EveryPay API server: the paths a merchant's money actually takes."""

import logging
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlmodel import col, func, select

from callback_service.app import create_app
from shared.config import get_settings
from shared.db import read_session
from shared.models import CallbackEvent, CallbackStatus, InvoiceStatus
from tests.callbacks.helpers import (
    Shop,
    attempts,
    invoice,
    make_shop,
    payment_audits,
    state_changes,
)
from tests.utils.callback_service import (
    FakeEveryPay,
    new_reference,
    running_app,
    running_fake_everypay,
    wait_until,
)
from tests.utils.factories import make_invoice


@pytest.fixture
def everypay(any_db: str) -> Iterator[FakeEveryPay]:
    with running_fake_everypay() as fake:
        yield fake


def _open_events() -> int:
    waiting = [CallbackStatus.PENDING, CallbackStatus.PROCESSING]
    with read_session() as session:
        return session.exec(
            select(func.count()).where(col(CallbackEvent.status).in_(waiting))
        ).one()


def _event_statuses() -> list[str]:
    with read_session() as session:
        return list(session.exec(select(CallbackEvent.status)).all())


def _send(url: str, shop: Shop, reference: str) -> int:
    params = {
        "payment_reference": reference,
        "order_reference": shop.invoice.number,
        "event_name": "status_updated",
    }
    return httpx.get(url, params=params, timeout=30).status_code


def test_duplicate_storm_pays_once(
    everypay: FakeEveryPay, caplog: pytest.LogCaptureFixture
) -> None:
    shop = make_shop(api_base=everypay.url)
    reference = everypay.add(shop.answer())
    caplog.set_level(logging.WARNING)

    with running_app(create_app()) as base:
        url = f"{base}/callbacks/linkpay/{shop.token}"
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(pool.map(lambda _: _send(url, shop, reference), range(50)))
        wait_until(lambda: _open_events() == 0, timeout=30, message="every callback processed")
        health = httpx.get(f"{base}/health").json()

    assert statuses == [200] * 50
    assert _event_statuses() == [CallbackStatus.DONE] * 50
    paid = invoice(shop.invoice.id)
    assert (paid.status, paid.paid_minor) == (InvoiceStatus.PAID, 12100)
    [attempt] = attempts()
    assert state_changes(attempt.id) == [(None, "settled")]
    assert len(payment_audits(shop.invoice.id)) == 1
    assert (health["status"], health["backlog"]) == ("ok", 0)
    assert "locked" not in caplog.text
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_callback_is_applied_at_once_not_at_the_next_poll(
    everypay: FakeEveryPay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINKPAY_WORKER_POLL_SECONDS", "60")
    get_settings.cache_clear()
    shop = make_shop(api_base=everypay.url)
    reference = everypay.add(shop.answer())

    with running_app(create_app()) as base:
        # Let the start-up reconciliation pass finish, so only the wake-up can explain it.
        wait_until(lambda: httpx.get(f"{base}/health").status_code == 200, message="worker")
        assert _send(f"{base}/callbacks/linkpay/{shop.token}", shop, reference) == 200
        wait_until(
            lambda: invoice(shop.invoice.id).status == InvoiceStatus.PAID,
            timeout=3,
            message="the invoice paid well before the 60 s poll",
        )


def test_callbacks_during_a_gateway_outage_are_applied_when_it_returns(
    everypay: FakeEveryPay,
) -> None:
    everypay.set_mode("down")
    shop = make_shop(api_base=everypay.url)
    invoices = [shop.invoice, *(make_invoice(channel=shop.channel) for _ in range(2))]
    references = [everypay.add(shop.answer(order_reference=inv.number)) for inv in invoices]

    with running_app(create_app()) as base:
        url = f"{base}/callbacks/linkpay/{shop.token}"
        statuses = [_send(url, shop, reference) for reference in references]
        wait_until(lambda: everypay.calls >= 3, message="the worker to try during the outage")
        health = httpx.get(f"{base}/health")
        assert all(invoice(inv.id).status == InvoiceStatus.ISSUED for inv in invoices)

        everypay.set_mode("up")
        wait_until(
            lambda: all(invoice(inv.id).status == InvoiceStatus.PAID for inv in invoices),
            timeout=20,
            message="every invoice paid after the outage",
        )

    assert statuses == [200, 200, 200]
    # An outage is not the service's illness: it stays in rotation to keep acknowledging.
    assert health.status_code == 200 and health.json()["backlog"] == 3
    assert _event_statuses() == [CallbackStatus.DONE] * 3


def test_forged_and_replayed_callbacks_change_nothing_and_are_all_recorded(
    everypay: FakeEveryPay,
) -> None:
    shop = make_shop(api_base=everypay.url)
    other = make_shop(api_base=everypay.url)  # another channel on the same EveryPay account
    genuine = everypay.add(shop.answer())
    foreign_user = everypay.add(shop.answer(api_username="another-shop"))
    other_channels = everypay.add(other.answer())
    forged = [new_reference() for _ in range(5)]  # EveryPay has never heard of these

    with running_app(create_app()) as base:
        url = f"{base}/callbacks/linkpay/{shop.token}"
        requests = [*forged, foreign_user, other_channels, *[genuine] * 5]
        statuses = [_send(url, shop, reference) for reference in requests]
        wrong_tokens = [
            httpx.get(f"{base}/callbacks/linkpay/{token}", params={"payment_reference": "ab"})
            for token in ("x", other.token[::-1], "a" * 200)
        ]
        garbage = httpx.get(url, params={"payment_reference": "../../etc/passwd"})
        wait_until(lambda: _open_events() == 0, timeout=20, message="every callback processed")

    assert statuses == [200] * len(requests)
    assert [r.status_code for r in wrong_tokens] == [404, 404, 404]
    assert garbage.status_code == 400
    # Requests to unknown Callback URLs are counted, not stored.
    assert len(_event_statuses()) == len(requests) + 1
    assert invoice(shop.invoice.id).paid_minor == 12100
    assert len(payment_audits(shop.invoice.id)) == 1
    assert invoice(other.invoice.id).status == InvoiceStatus.ISSUED
    assert [a.payment_reference for a in attempts()] == [genuine]
