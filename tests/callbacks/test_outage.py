"""A gateway outage and its end, on a simulated clock: nothing is parked for an hour, the
gateway's return brings the waiting callbacks forward, and /health says degraded while
payments wait. The queue, processing and reconciler take ``now``; the API is respx with
a fault switch."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import respx
from fastapi.testclient import TestClient
from sqlalchemy import update

from callback_service.app import create_app
from shared.callbacks.processing import process_event, run_claimed_event
from shared.callbacks.queue import claim_next_event, worker_name
from shared.callbacks.reconciler import reconcile_once
from shared.callbacks.worker import beat
from shared.config import get_settings
from shared.db import write_session
from shared.models import (
    CallbackStatus,
    InvoiceStatus,
    PaymentAttempt,
    ReviewKind,
    ReviewStatus,
    utcnow,
)
from tests.callbacks.helpers import Shop, event, invoice, make_shop, reviews
from tests.utils.factories import make_invoice

OUTAGE = timedelta(minutes=35)
PAID_WITHIN = timedelta(minutes=5)
STEP = timedelta(seconds=5)
RECONCILE_EVERY = timedelta(seconds=60)


class Gateway:
    """EveryPay's payment lookups behind a switch: down answers 503 to everything, with
    ``Retry-After`` when one is set."""

    def __init__(self, api: respx.MockRouter) -> None:
        self.down = False
        self.retry_after: str | None = None
        self.answers: dict[str, dict[str, Any]] = {}
        api.get(url__regex=r"/payments/(?P<reference>[^/?]+)").mock(side_effect=self._answer)

    def add(self, answer: dict[str, Any]) -> str:
        self.answers[answer["payment_reference"]] = answer
        return answer["payment_reference"]

    def _answer(self, request: httpx.Request, reference: str) -> httpx.Response:
        if self.down:
            headers = {"Retry-After": self.retry_after} if self.retry_after else {}
            return httpx.Response(503, headers=headers, json={"error": {"message": "down"}})
        if reference not in self.answers:
            return httpx.Response(404, json={"error": {"code": 4004}})
        return httpx.Response(200, json=self.answers[reference])


@pytest.fixture
def gateway(api: respx.MockRouter) -> Gateway:
    return Gateway(api)


@pytest.fixture
def service(shop: Shop) -> Iterator[TestClient]:
    with TestClient(create_app(start_background=False)) as client:
        yield client


def _work(now: datetime) -> None:
    """What the worker threads do at this moment: every due callback, one after another."""
    claimant = worker_name("test-worker")
    while (claimed := claim_next_event(worker=claimant, now=now)) is not None:
        run_claimed_event(claimed, now=now)


def _health(service: TestClient) -> dict[str, Any]:
    beat()  # the worker's heartbeat, which the simulated one would write
    response = service.get("/health")
    assert response.status_code == 200
    return response.json()


def test_a_35_minute_outage_ends_with_every_payment_paid_within_5_minutes(
    shop: Shop, gateway: Gateway, service: TestClient
) -> None:
    invoices = [shop.invoice, *(make_invoice(channel=shop.channel) for _ in range(9))]
    gateway.down = True
    events = [
        shop.callback(gateway.add(shop.answer(order_reference=inv.number))) for inv in invoices
    ]
    started = now = utcnow()
    next_reconcile = now
    health_during: dict[str, Any] = {}
    paid_at: dict[int, datetime] = {}

    while len(paid_at) < len(invoices) and now < started + OUTAGE + timedelta(minutes=30):
        if gateway.down and now >= started + OUTAGE:
            health_during = _health(service)
            gateway.down = False
            recovered = now
        _work(now)
        if now >= next_reconcile:
            reconcile_once(now=now)
            next_reconcile = now + RECONCILE_EVERY
        for inv in invoices:
            if inv.id not in paid_at and invoice(inv.id).status == InvoiceStatus.PAID:
                paid_at[inv.id] = now
        now += STEP

    assert not gateway.down and min(paid_at.values()) >= recovered
    late = {inv.number: paid_at.get(inv.id, now) - recovered for inv in invoices}
    assert max(late.values()) <= PAID_WITHIN, late
    # The outage outlasted the retry budget: people were told, and tries went on anyway.
    assert health_during["status"] == "degraded"
    assert health_during["needs_attention"] >= 1
    assert health_during["needs_attention"] + health_during["retrying"] == len(invoices)
    assert {event(e).status for e in events} == {CallbackStatus.DONE}
    assert {item.status for item in reviews(ReviewKind.UNVERIFIED_CALLBACK)} == {
        ReviewStatus.RESOLVED
    }
    health_after = _health(service)
    assert (health_after["status"], health_after["retrying"], health_after["needs_attention"]) == (
        "ok",
        0,
        0,
    )


def _fail_once(shop: Shop, gateway: Gateway) -> int:
    """A callback whose try failed in an outage that asked for five minutes' patience."""
    reference = gateway.add(shop.answer(order_reference=make_invoice(channel=shop.channel).number))
    event_id = shop.callback(reference)
    gateway.down, gateway.retry_after = True, "300"
    _work(utcnow())
    gateway.down, gateway.retry_after = False, None
    assert event(event_id).next_attempt_at > utcnow() + timedelta(minutes=4)
    return event_id


def test_the_first_answer_after_failures_makes_the_channels_waiting_callbacks_due(
    shop: Shop, gateway: Gateway
) -> None:
    other = make_shop()
    waiting = [_fail_once(shop, gateway) for _ in range(3)]
    elsewhere = _fail_once(other, gateway)
    fresh = shop.callback(gateway.add(shop.answer()))

    assert "invoice paid" in process_event(fresh)  # EveryPay answers for this channel again
    answered_at = utcnow()

    for event_id in waiting:
        assert event(event_id).next_attempt_at <= answered_at
    # Another channel's callbacks keep their schedule until its own calls succeed.
    assert event(elsewhere).next_attempt_at > answered_at + timedelta(minutes=4)
    _work(answered_at)
    assert {event(e).status for e in waiting} == {CallbackStatus.DONE}
    assert event(elsewhere).status == CallbackStatus.PENDING


def test_an_answer_the_reconciler_gets_brings_waiting_callbacks_forward(
    shop: Shop, gateway: Gateway
) -> None:
    unfinished = shop.answer(state="sent_for_processing")
    process_event(shop.callback(gateway.add(unfinished)))
    waiting = _fail_once(shop, gateway)
    with write_session() as session:  # the unfinished payment is due for its re-check
        session.exec(update(PaymentAttempt).values(next_check_at=utcnow()))

    report = reconcile_once()

    assert (report.callbacks_processed, report.payments_checked) == (0, 1)
    assert event(waiting).next_attempt_at <= utcnow()


def test_a_malformed_answer_keeps_its_backoff_while_other_payments_are_answered(
    shop: Shop, gateway: Gateway
) -> None:
    process_event(shop.callback(gateway.add(shop.answer())))  # the channel answers
    broken = shop.answer(order_reference=make_invoice(channel=shop.channel).number)
    broken_event = shop.callback(gateway.add({**broken, "initial_amount": "not a number"}))
    process_event(broken_event)
    retry_at = event(broken_event).next_attempt_at
    assert retry_at > utcnow()

    for _ in range(3):
        process_event(shop.callback(gateway.add(shop.answer())))

    # Retried at once after every other answer, it would cost an API call per payment.
    assert event(broken_event).next_attempt_at == retry_at


def test_a_callback_shown_to_a_person_is_still_retried_within_five_minutes(
    shop: Shop, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINKPAY_CALLBACK_MAX_ATTEMPTS", "1")
    get_settings.cache_clear()
    gateway.down = True
    event_id = shop.callback(gateway.add(shop.answer()))
    now = utcnow()

    _work(now)

    stored = event(event_id)
    assert stored.status == CallbackStatus.NEEDS_ATTENTION
    assert stored.next_attempt_at <= now + PAID_WITHIN
    [item] = reviews(ReviewKind.UNVERIFIED_CALLBACK)
    assert item.status == ReviewStatus.OPEN
