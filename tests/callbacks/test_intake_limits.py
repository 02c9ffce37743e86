"""Hostile traffic at a Callback URL: size caps, rate limits (429 with Retry-After) and
requests to unknown URLs cost memory counters, not database rows; EveryPay's real rates
pass with the default settings."""

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from callback_service.app import create_app
from shared.callbacks.ratelimit import IntakeGuard, RefusalCounts
from shared.config import Settings, get_settings
from shared.db import read_session
from shared.models import CallbackEvent
from tests.callbacks.helpers import Shop, make_shop
from tests.utils.callback_service import new_reference


@pytest.fixture
def shop(db: str) -> Shop:
    return make_shop()


def _client() -> TestClient:
    return TestClient(create_app(start_background=False))


@pytest.fixture
def client(shop: Shop) -> Iterator[TestClient]:
    with _client() as test_client:
        yield test_client


def _stored() -> int:
    with read_session() as session:
        return session.exec(select(func.count()).select_from(CallbackEvent)).one()


def _url(shop: Shop) -> str:
    return f"/callbacks/linkpay/{shop.token}"


def _limits(monkeypatch: pytest.MonkeyPatch, **values: object) -> None:
    for name, value in values.items():
        monkeypatch.setenv(f"LINKPAY_{name.upper()}", str(value))
    get_settings.cache_clear()


@pytest.mark.parametrize("size", [3_000, 60_000])
def test_an_overlong_query_string_is_414_and_not_stored(
    shop: Shop, client: TestClient, size: int
) -> None:
    params = {"payment_reference": new_reference(), "padding": "x" * size}

    response = client.get(_url(shop), params=params)

    assert response.status_code == 414
    assert "query string longer than 2048 bytes" in response.json()["error"]
    assert len(response.content) < 200
    assert _stored() == 0


def test_a_real_callback_fits_the_query_cap(shop: Shop, client: TestClient) -> None:
    params = {
        "payment_reference": new_reference(),
        "order_reference": "INV-2026-000042-2",
        "event_name": "status_updated",
    }
    assert client.get(_url(shop), params=params).status_code == 200


def test_a_flood_to_one_callback_url_gets_429_with_retry_after(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    _limits(monkeypatch, callback_url_rate=0.01, callback_url_burst=3)
    with _client() as client:
        responses = [
            client.get(_url(shop), params={"payment_reference": new_reference()}) for _ in range(6)
        ]

    assert [r.status_code for r in responses] == [200, 200, 200, 429, 429, 429]
    assert int(responses[-1].headers["Retry-After"]) >= 1
    assert "this Callback URL" in responses[-1].json()["error"]
    assert _stored() == 3  # refused before any database work


def test_a_flood_from_one_address_gets_429_whatever_the_url(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = make_shop()
    _limits(monkeypatch, callback_ip_rate=0.01, callback_ip_burst=4)
    with _client() as client:
        statuses = [
            client.get(_url(target), params={"payment_reference": new_reference()}).status_code
            for target in [shop, other] * 3
        ]

    assert statuses == [200, 200, 200, 200, 429, 429]
    assert _stored() == 4


def test_unknown_urls_are_limited_per_address_and_valid_ones_keep_working(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The default burst of 30; a slower refill than the default one a second, so that a
    # slow run cannot earn another token meanwhile.
    _limits(monkeypatch, callback_unknown_rate=0.01)
    params = {"payment_reference": new_reference()}
    with _client() as client:
        assert client.get(_url(shop), params=params).status_code == 200
        unknown = [
            client.get(f"/callbacks/linkpay/guess-{n}", params=params).status_code
            for n in range(40)
        ]
        again = client.get(_url(shop), params={"payment_reference": new_reference()})
        counts = client.app.state.intake_guard.counts

    assert unknown[:30] == [404] * 30
    assert unknown[-5:] == [429] * 5
    assert again.status_code == 200  # this address also sends real callbacks
    assert _stored() == 2
    assert (counts.unknown_url_total, counts.limited_total) == (30, 10)


def test_default_limits_pass_200_callbacks_a_second_on_one_url() -> None:
    now = [0.0]
    guard = IntakeGuard(Settings(), clock=lambda: now[0])

    refused = []
    for number in range(200 * 30):  # 30 s at 200/s from one address (EveryPay)
        now[0] = number / 200
        if guard.admit(token="real-url", address="203.0.113.7") is not None:
            refused.append(number)
        guard.record(token="real-url", address="203.0.113.7", unknown_url=False)

    assert refused == []


def test_past_the_default_per_url_rate_429_says_when_to_come_back() -> None:
    now = [0.0]
    guard = IntakeGuard(Settings(), clock=lambda: now[0])
    outcomes = [
        guard.admit(token="real-url", address=f"198.51.100.{n % 200}") for n in range(1_001)
    ]

    refusal = outcomes[-1]
    assert outcomes[:1_000] == [None] * 1_000
    assert refusal is not None and refusal.http_status == 429
    assert refusal.retry_after_seconds == 1
    now[0] = 0.01  # 500/s refills a token in 2 ms
    assert guard.admit(token="real-url", address="198.51.100.1") is None


def test_unknown_url_requests_are_logged_once_a_minute_not_once_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    now = [0.0]
    counts = RefusalCounts(clock=lambda: now[0])

    for second in range(120):  # one a second for two minutes, from two addresses
        now[0] = float(second)
        counts.add(f"192.0.2.{second % 2}", unknown_url=True)
    counts.report()  # at shutdown

    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 3  # the first at once, then one a minute
    assert "unknown Callback URL (404, not stored) 60," in lines[1]
    assert "addresses 2" in lines[1]
    assert counts.unknown_url_total == 120
