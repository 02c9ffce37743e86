"""The worker against a slow gateway: many API calls in flight at once, and no database
connection (so no transaction, no SQLite write lock) held while one waits."""

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import event

from shared.callbacks.queue import claim_due_events
from shared.callbacks.worker import CallbackWorker
from shared.config import get_settings
from shared.db import get_engine
from shared.models import InvoiceStatus
from tests.callbacks.helpers import Shop, invoice
from tests.utils.callback_service import wait_until
from tests.utils.factories import make_invoice

IN_FLIGHT = 30


@pytest.fixture
def connection_holders(shop: Shop) -> Iterator[dict[Any, int]]:
    """Which thread holds each checked-out database connection right now."""
    engine = get_engine()
    holders: dict[Any, int] = {}

    def checkout(_dbapi, record, _proxy) -> None:
        holders[record] = threading.get_ident()

    def checkin(_dbapi, record) -> None:
        holders.pop(record, None)

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)
    yield holders
    event.remove(engine, "checkout", checkout)
    event.remove(engine, "checkin", checkin)


def test_a_slow_gateway_is_asked_about_many_callbacks_at_once(
    shop: Shop, api: respx.MockRouter, connection_holders: dict[Any, int]
) -> None:
    invoices = [shop.invoice, *(make_invoice(channel=shop.channel) for _ in range(IN_FLIGHT - 1))]
    answers = {}
    for inv in invoices:
        answer = shop.answer(order_reference=inv.number)
        answers[answer["payment_reference"]] = answer
    # EveryPay answers only once every call is waiting: a worker that asks fewer at a
    # time never gets an answer before the barrier gives up.
    all_waiting = threading.Barrier(IN_FLIGHT, timeout=15)
    held_during_call: list[bool] = []

    def slow_answer(request: httpx.Request, reference: str) -> httpx.Response:
        held_during_call.append(threading.get_ident() in connection_holders.values())
        all_waiting.wait()
        return httpx.Response(200, json=answers[reference])

    api.get(url__regex=r"/payments/(?P<reference>[^/?]+)").mock(side_effect=slow_answer)
    for reference in answers:
        shop.callback(reference)
    worker = CallbackWorker(threads=2, api_calls=IN_FLIGHT)

    worker.start()
    try:
        wait_until(
            lambda: all(invoice(inv.id).status == InvoiceStatus.PAID for inv in invoices),
            timeout=30,
            message="every invoice paid",
        )
        assert worker.alive  # no thread died along the way
    finally:
        worker.stop()

    assert not all_waiting.broken
    assert len(held_during_call) == IN_FLIGHT
    assert not any(held_during_call)
    assert not worker.alive  # stopped: claimers and callers alike


def test_a_wake_up_sends_one_claimer_to_the_queue_not_all_of_them(
    shop: Shop, api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every idle claimer answering each wake-up read the queue for the same callback and
    # raced to claim it: three wasted transactions per callback at 50 payments a second.
    # No polls and no heartbeat wake-ups in the test's window: only the wake-up looks.
    monkeypatch.setenv("LINKPAY_WORKER_POLL_SECONDS", "60")
    monkeypatch.setattr("shared.callbacks.worker.HEARTBEAT_SECONDS", 60.0)
    get_settings.cache_clear()
    claims: list[int] = []

    def counted_claim(**kwargs: Any) -> list:
        found = claim_due_events(**kwargs)
        claims.append(len(found))
        return found

    monkeypatch.setattr("shared.callbacks.worker.claim_due_events", counted_claim)
    answer = shop.answer()
    api.get(f"/payments/{answer['payment_reference']}").respond(json=answer)
    worker = CallbackWorker(threads=4, api_calls=100)
    worker.start()
    try:
        wait_until(lambda: len(claims) >= 4, timeout=10, message="each claimer looked once")
        time.sleep(0.3)  # all four asleep
        looked_before = len(claims)

        shop.callback(answer["payment_reference"])
        worker.wake()
        wait_until(
            lambda: invoice(shop.invoice.id).status == InvoiceStatus.PAID,
            timeout=10,
            message="invoice paid",
        )
        time.sleep(0.3)  # time enough for any other claimer to have looked
    finally:
        worker.stop()

    assert claims[looked_before:] == [1]
