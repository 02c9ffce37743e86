"""The worker against a slow gateway: many API calls in flight at once, and no database
connection (so no transaction, no SQLite write lock) held while one waits."""

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import event

from shared.callbacks.worker import CallbackWorker
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
