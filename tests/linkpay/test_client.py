"""The API v4 client classifies every answer; nothing unclear is ever a failed payment."""

import threading
import time
from decimal import Decimal

import httpx
import pytest
import respx

import shared.linkpay.client as client_module
from shared.linkpay.client import (
    ChannelCredentials,
    EveryPayClient,
    Outcome,
    basic_auth_header,
    client_for,
    close_thread_client,
)

API = "https://igw-demo.every-pay.com/api/v4"
REF = "1b1ee0cad31038ab000ddd0f021487711d88db9418a3ca53672e223337037c7d"
CREDS = ChannelCredentials(api_base=API, api_username="abc12345", api_secret="apisecret123456789")
ANSWER = {
    "api_username": "abc12345",
    "account_name": "EUR3D1",
    "order_reference": "INV-2026-0042",
    "payment_reference": REF,
    "payment_state": "settled",
    "initial_amount": 125.5,
    "standing_amount": 125.5,
    "currency": "EUR",
    "payment_method": "card",
    "email": "anna@example.lv",
    "payment_created_at": "2026-05-02T09:14:15.501Z",
    "transaction_time": "2026-05-02T09:15:20.084Z",
    "processing_error": {"code": None, "message": None},
    "cc_details": {
        "last_four_digits": "1002",
        "type": "master_card",
        "holder_name": "Anna Berzina",
        "issuer_country": "LV",
        "state_3ds": "attempted",
    },
}
URL = f"{API}/payments/{REF}"


def _get(**route_kwargs):
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(URL, params={"api_username": "abc12345"}).mock(**route_kwargs)
        with EveryPayClient(CREDS) as client:
            result = client.get_payment(REF)
        return result, route


def test_settled_answer_is_parsed_exactly():
    result, route = _get(return_value=httpx.Response(200, json=ANSWER))
    assert result.outcome is Outcome.OK
    status = result.status
    assert status.payment_state == "settled" and status.is_final
    assert status.initial_amount == Decimal("125.5")
    assert status.card_brand == "master_card" and status.card_last4 == "1002"
    assert status.transaction_time.isoformat() == "2026-05-02T09:15:20.084000+00:00"
    request = route.calls.last.request
    assert request.headers["Authorization"] == "Basic YWJjMTIzNDU6YXBpc2VjcmV0MTIzNDU2Nzg5"
    assert request.headers["Accept"] == "application/json"


def test_amounts_as_strings_stay_exact():
    body = {**ANSWER, "initial_amount": "0.30", "standing_amount": 0.1}
    result, _ = _get(return_value=httpx.Response(200, json=body))
    assert result.status.initial_amount == Decimal("0.30")
    assert result.status.standing_amount == Decimal("0.1")
    raw = httpx.Response(
        200,
        content=b'{"payment_reference":"%s","payment_state":"settled",'
        b'"order_reference":"X","api_username":"abc12345",'
        b'"initial_amount":30000000.00}' % REF.encode(),
    )
    result, _ = _get(return_value=raw)
    assert result.status.initial_amount == Decimal("30000000.00")
    assert result.status.currency == "EUR"  # the channel's, when the API leaves it out


def _raw_answer(amount: bytes, currency: bytes = b"EUR") -> httpx.Response:
    return httpx.Response(
        200,
        content=b'{"payment_reference":"%s","payment_state":"settled","order_reference":"X",'
        b'"api_username":"abc12345","currency":"%s","initial_amount":%s}'
        % (REF.encode(), currency, amount),
    )


@pytest.mark.parametrize(
    ("amount", "currency", "reason"),
    [
        (b"0.005", b"EUR", "more decimals than EUR has (2)"),
        (b'"0.005"', b"EUR", "more decimals than EUR has"),
        (b"1234567.8912345678", b"EUR", "more decimals than EUR has"),
        (b"100.5", b"JPY", "more decimals than JPY has (0)"),
        (b"1.2345", b"KWD", "more decimals than KWD has (3)"),
        (b"1e309", b"EUR", "not a plain decimal amount: '1e309'"),
        (b"1E2", b"EUR", "not a plain decimal amount"),
        (b"1.5e1", b"EUR", "not a plain decimal amount"),
        (b'"1e2"', b"EUR", "not a plain decimal amount"),
        (b"NaN", b"EUR", "not a plain decimal amount: 'NaN'"),
        (b"Infinity", b"EUR", "not a plain decimal amount"),
        (b"-Infinity", b"EUR", "not a plain decimal amount"),
        (b'" 12.00"', b"EUR", "not a plain decimal amount"),
        (b'"\u0661\u0662"', b"EUR", "not a plain decimal amount"),
        (b"-1.00", b"EUR", "is negative"),
        (b"1000000000000.00", b"EUR", "beyond any amount"),
        (b"1" + b"0" * 400, b"EUR", "beyond any amount"),
    ],
)
def test_an_amount_that_is_not_exact_in_the_currency_is_a_malformed_answer(
    amount: bytes, currency: bytes, reason: str
):
    result, _ = _get(return_value=_raw_answer(amount, currency))
    assert result.outcome is Outcome.TRANSIENT
    assert result.status is None
    assert result.error.startswith("malformed answer: initial_amount")
    assert reason in result.error


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (b"0.01", b"EUR", "0.01"),
        (b"125.50", b"EUR", "125.5"),  # trailing zeros need no rounding
        (b"100", b"JPY", "100"),
        (b"1.234", b"KWD", "1.234"),
        (b"999999999999.99", b"EUR", "999999999999.99"),
    ],
)
def test_exact_amounts_within_the_bound_are_read_exactly(
    amount: bytes, currency: bytes, expected: str
):
    result, _ = _get(return_value=_raw_answer(amount, currency))
    assert result.outcome is Outcome.OK
    assert result.status.initial_amount == Decimal(expected)


def test_declined_payment_is_http_200_failed():
    body = {
        **ANSWER,
        "payment_state": "failed",
        "processing_error": {"code": 4001, "message": "Card declined"},
    }
    result, _ = _get(return_value=httpx.Response(200, json=body))
    assert result.outcome is Outcome.OK
    assert result.status.payment_state == "failed"
    assert result.status.processing_error == "4001 Card declined"


def test_a_state_everypay_adds_later_is_passed_on_not_retried_forever():
    """callbacks.apply holds it for a person; refusing it would only retry it unseen."""
    body = {**ANSWER, "payment_state": "teleported"}
    result, _ = _get(return_value=httpx.Response(200, json=body))
    assert result.outcome is Outcome.OK
    assert (result.status.payment_state, result.status.is_final) == ("teleported", False)


@pytest.mark.parametrize(
    ("response", "outcome"),
    [
        (httpx.Response(401), Outcome.AUTH_REFUSED),
        (
            httpx.Response(403, json={"error": {"code": 4030, "message": "Forbidden"}}),
            Outcome.AUTH_REFUSED,
        ),
        (
            httpx.Response(404, json={"error": {"code": 4004, "message": "Not found"}}),
            Outcome.NOT_FOUND,
        ),
        (httpx.Response(429, headers={"Retry-After": "7"}), Outcome.TRANSIENT),
        (httpx.Response(500), Outcome.TRANSIENT),
        (httpx.Response(502, text="<html>Bad gateway</html>"), Outcome.TRANSIENT),
        (httpx.Response(503), Outcome.TRANSIENT),
        (httpx.Response(200, text="not json"), Outcome.TRANSIENT),
        (httpx.Response(200, json=[1, 2]), Outcome.TRANSIENT),
        (httpx.Response(200, json={"payment_state": "settled"}), Outcome.TRANSIENT),
        (httpx.Response(200, json={**ANSWER, "payment_state": "tele ported!"}), Outcome.TRANSIENT),
        (httpx.Response(200, json={**ANSWER, "initial_amount": "ten"}), Outcome.TRANSIENT),
    ],
)
def test_every_answer_is_classified(response, outcome):
    result, _ = _get(return_value=response)
    assert result.outcome is outcome
    assert result.status is None


def test_retry_after_is_kept_for_the_scheduler():
    result, _ = _get(return_value=httpx.Response(429, headers={"Retry-After": "7"}))
    assert result.retry_after_seconds == 7.0


@pytest.mark.parametrize(
    "error", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.ConnectTimeout("x")]
)
def test_network_failures_are_transient_never_failed(error):
    result, _ = _get(side_effect=error)
    assert result.outcome is Outcome.TRANSIENT
    assert "timeout" in result.error or "connection" in result.error


def test_connection_check_uses_the_shops_endpoint():
    with respx.mock(assert_all_called=True) as mock:
        mock.get(f"{API}/shops", params={"api_username": "abc12345"}).mock(
            return_value=httpx.Response(200, json={"shops": []})
        )
        with EveryPayClient(CREDS) as client:
            assert client.test_connection().outcome is Outcome.OK


def test_a_thread_keeps_its_client_until_the_credentials_change():
    changed = ChannelCredentials(
        api_base=API, api_username="abc12345", api_secret="rotated-secret-2"
    )
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(URL).mock(return_value=httpx.Response(200, json=ANSWER))
        first = client_for(CREDS)
        assert client_for(CREDS) is first  # kept: no new connection per callback
        assert client_for(CREDS).get_payment(REF).outcome is Outcome.OK

        # A secret changed in the dashboard is used from the next call on.
        second = client_for(changed)
        assert second is not first
        assert second.get_payment(REF).outcome is Outcome.OK
        sent = route.calls.last.request.headers["Authorization"]
        assert sent == basic_auth_header("abc12345", "rotated-secret-2")
    close_thread_client()
    assert client_for(changed) is not second
    close_thread_client()


def test_callers_starting_together_load_the_ca_bundle_once(monkeypatch):
    # A worker's hundred callers make their first clients at the same moment; each loading
    # the CA bundle (milliseconds of CPU) would stall the first burst after a start.
    loads = []
    real = client_module.ssl.create_default_context

    def slow_load(**kwargs):
        loads.append(kwargs)
        time.sleep(0.05)
        return real(**kwargs)

    monkeypatch.setattr(client_module.ssl, "create_default_context", slow_load)
    client_module._load_tls_context.cache_clear()
    start = threading.Barrier(8)
    contexts = []

    def first_client() -> None:
        start.wait()
        contexts.append(client_module._tls_context())

    threads = [threading.Thread(target=first_client) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    client_module._load_tls_context.cache_clear()

    assert len(loads) == 1
    assert len(contexts) == 8 and all(context is contexts[0] for context in contexts)
