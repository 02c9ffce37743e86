"""The Callback URL as EveryPay (and anyone else) calls it: every request is recorded and
answered at once; nothing is processed in the request. HTTP parsing does not depend on the
SQL dialect, so this runs on SQLite, except where stored text meets PostgreSQL's rules."""

import asyncio
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from callback_service.app import create_app
from callback_service.logging_config import RedactingAccessFormatter, RedactingFormatter
from shared.callbacks.intake import receive_callback
from shared.channels import rotate_callback_token
from shared.db import read_session, write_session
from shared.models import CallbackEvent, CallbackStatus
from tests.callbacks.helpers import Shop, channel, make_shop
from tests.utils.callback_service import new_reference


@pytest.fixture
def shop(db: str) -> Shop:
    return make_shop()


@pytest.fixture
def client(shop: Shop) -> Iterator[TestClient]:
    with TestClient(create_app(start_background=False)) as test_client:
        yield test_client


def _events() -> list[CallbackEvent]:
    with read_session() as session:
        return list(session.exec(select(CallbackEvent).order_by(col(CallbackEvent.id))).all())


def _url(shop: Shop) -> str:
    return f"/callbacks/linkpay/{shop.token}"


def test_get_callback_is_stored_and_acknowledged(shop: Shop, client: TestClient) -> None:
    reference = new_reference()
    response = client.get(
        _url(shop),
        params={
            "payment_reference": reference,
            "order_reference": shop.invoice.number,
            "event_name": "status_updated",
        },
    )

    assert response.status_code == 200
    [stored] = _events()
    assert stored.status == CallbackStatus.PENDING
    assert (stored.payment_reference, stored.order_reference, stored.event_name) == (
        reference,
        shop.invoice.number,
        "status_updated",
    )
    assert stored.channel_id == shop.channel.id and stored.http_method == "GET"
    assert stored.next_attempt_at is not None
    assert channel(shop.channel.id).first_callback_at is not None


@pytest.mark.parametrize("how", ["form", "query"])
def test_post_callback_accepts_form_or_query(shop: Shop, client: TestClient, how: str) -> None:
    reference = new_reference().upper()  # EveryPay sends lower case; be lenient
    fields = {"payment_reference": reference, "event_name": "refunded"}
    if how == "form":
        response = client.post(_url(shop), data=fields)
    else:
        response = client.post(_url(shop), params=fields)

    assert response.status_code == 200
    [stored] = _events()
    assert (stored.payment_reference, stored.event_name, stored.http_method) == (
        reference,
        "refunded",
        "POST",
    )


def test_plain_multipart_form_is_read(shop: Shop, client: TestClient) -> None:
    reference = new_reference()
    body = (
        '--b\r\nContent-Disposition: form-data; name="payment_reference"\r\n\r\n'
        f"{reference}\r\n--b--\r\n"
    )
    response = client.post(
        _url(shop), content=body, headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert response.status_code == 200
    assert _events()[0].payment_reference == reference


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "payment_reference"),
        ({"payment_reference": "a" * 65}, "payment_reference"),
        ({"payment_reference": "abc-123"}, "payment_reference"),
        ({"payment_reference": "abc", "order_reference": "INV 1"}, "order_reference"),
        ({"payment_reference": "abc", "order_reference": "x" * 121}, "order_reference"),
        ({"payment_reference": "abc", "event_name": "Status-Updated"}, "event_name"),
        ({"payment_reference": "abc\x00def"}, "payment_reference"),
        ({"payment_reference": "äbc"}, "payment_reference"),
    ],
    ids=["missing", "too-long", "dash", "space", "order-too-long", "event-case", "nul", "umlaut"],
)
def test_bad_input_gets_a_clear_400_and_is_recorded(
    shop: Shop, client: TestClient, params: dict[str, str], field: str
) -> None:
    response = client.get(_url(shop), params=params)

    assert response.status_code == 400
    body = response.json()
    assert body["status"] == "rejected" and field in body["fields"]
    assert field in body["error"]
    [stored] = _events()
    assert stored.status == CallbackStatus.REJECTED
    assert stored.channel_id == shop.channel.id
    assert field in (stored.outcome or "")


def test_unknown_token_is_404_counted_and_not_stored(
    shop: Shop, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    wrong = "not-a-real-token-" + shop.token[:6]
    responses = [
        client.get(f"/callbacks/linkpay/{wrong}", params={"payment_reference": "abc" * 20})
        for _ in range(3)
    ]

    assert [response.status_code for response in responses] == [404] * 3
    # Anyone can send these: a row each would let anyone fill the disk.
    assert _events() == []
    assert client.app.state.intake_guard.counts.unknown_url_total == 3
    assert "unknown Callback URL (404, not stored) 1," in caplog.text  # the first, at once
    assert wrong not in caplog.text
    assert channel(shop.channel.id).first_callback_at is None


def test_previous_url_keeps_working_during_the_grace_period(shop: Shop, client: TestClient) -> None:
    with write_session() as session:
        rotate_callback_token(session, actor="admin", channel_id=shop.channel.id)
    response = client.get(_url(shop), params={"payment_reference": new_reference()})
    assert response.status_code == 200


def test_oversized_body_is_413(shop: Shop, client: TestClient) -> None:
    big = {"payment_reference": "a", "padding": "x" * 20_000}
    assert client.post(_url(shop), data=big).status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 1000

    # No Content-Length to trust: the limit is counted while reading.
    assert client.post(_url(shop), content=chunks()).status_code == 413
    assert _events() == []


def test_hostile_text_is_stored_safely_on_every_backend(any_db: str) -> None:
    shop = make_shop()
    result = receive_callback(
        channel_token=shop.token,
        params={"payment_reference": "ab\x00cd" + "z" * 100, "x" * 200: "\x00" * 900},
        http_method="GET\x00PATCHED",
        remote_addr=None,
    )

    assert result.http_status == 400
    [stored] = _events()
    assert stored.status == CallbackStatus.REJECTED
    assert stored.payment_reference is not None and len(stored.payment_reference) == 64


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_methods_are_405(shop: Shop, client: TestClient, method: str) -> None:
    response = client.request(method, _url(shop), params={"payment_reference": "abc"})
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    assert _events() == []


def test_a_pasted_trailing_slash_still_reaches_the_channel(shop: Shop, client: TestClient) -> None:
    reference = new_reference()
    response = client.get(_url(shop) + "/", params={"payment_reference": reference})

    assert response.status_code == 200
    assert [event.payment_reference for event in _events()] == [reference]


def test_a_sender_gone_mid_body_is_not_answered_nor_stored(shop: Shop) -> None:
    sent: list[dict] = []
    messages = iter(
        [
            {"type": "http.request", "body": b"payment_reference=", "more_body": True},
            {"type": "http.disconnect"},
        ]
    )

    async def receive() -> dict:
        return next(messages)

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": _url(shop),
        "raw_path": _url(shop).encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/x-www-form-urlencoded")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    asyncio.run(create_app(start_background=False)(scope, receive, send))

    assert sent == []
    assert _events() == []


def test_health_without_a_worker_is_503(shop: Shop, client: TestClient) -> None:
    client.get(_url(shop), params={"payment_reference": new_reference()})
    response = client.get("/health")

    assert response.status_code == 503
    body = response.json()
    assert (body["database"], body["worker_alive"], body["backlog"]) == (True, False, 1)
    assert body["oldest_pending_seconds"] >= 0


def test_log_lines_never_show_a_url_token() -> None:
    token = "Zq3xR9secretTOKENvalue_-abc"
    access = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", f"/callbacks/linkpay/{token}?payment_reference=ab", "1.1", 200),
        None,
    )
    error = logging.LogRecord(
        "uvicorn.error", logging.ERROR, __file__, 1, "failed on %s", (f"/i/{token}",), None
    )

    access_line = RedactingAccessFormatter(
        '%(client_addr)s "%(request_line)s" %(status_code)s', use_colors=False
    ).format(access)
    error_line = RedactingFormatter("%(message)s").format(error)

    assert token not in access_line and token not in error_line
    assert "/callbacks/linkpay/***?payment_reference=ab" in access_line
    assert "/i/***" in error_line
