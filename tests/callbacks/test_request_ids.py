"""Request ids: one callback can be followed from its HTTP answer through the stored row to
the worker's lines about it, in JSON logs; a hostile X-Request-ID never reaches a log."""

import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import col, select

from callback_service.app import create_app
from callback_service.logging_config import JsonFormatter
from shared.callbacks.intake import CallbackRequest, receive_callbacks
from shared.db import read_session
from shared.log_context import ContextFilter
from shared.models import CallbackEvent, CallbackStatus, InvoiceStatus
from tests.callbacks.helpers import Shop, event, invoice, make_shop
from tests.utils.callback_service import (
    FakeEveryPay,
    new_reference,
    running_app,
    running_fake_everypay,
    running_service_process,
    wait_until,
)

Lines = Callable[[], list[dict[str, Any]]]
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def everypay(any_db: str) -> Iterator[FakeEveryPay]:
    with running_fake_everypay() as fake:
        yield fake


@pytest.fixture
def json_lines() -> Iterator[Lines]:
    """Every record logged during the test, as the JSON format writes it (parsed)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)


def _callback(base_url: str, shop: Shop, reference: str, request_id: str) -> httpx.Response:
    return httpx.get(
        f"{base_url}/callbacks/linkpay/{shop.token}",
        params={"payment_reference": reference, "order_reference": shop.invoice.number},
        headers={"X-Request-ID": request_id},
        timeout=30,
    )


def _stored_request_ids() -> list[str | None]:
    with read_session() as session:
        return list(
            session.exec(select(CallbackEvent.request_id).order_by(col(CallbackEvent.id))).all()
        )


def test_one_request_id_in_the_answer_the_row_and_every_line_about_the_callback(
    everypay: FakeEveryPay, json_lines: Lines
) -> None:
    shop = make_shop(api_base=everypay.url)
    reference = everypay.add(shop.answer())

    with running_app(create_app(background_in_process=True)) as base:
        response = _callback(base, shop, reference, "support-case-42")
        wait_until(lambda: invoice(shop.invoice.id).status == InvoiceStatus.PAID, timeout=20)
        wait_until(lambda: event(1).status == CallbackStatus.DONE)

    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "support-case-42"
    assert _stored_request_ids() == ["support-case-42"]
    about = [line for line in json_lines() if line.get("request_id") == "support-case-42"]
    by_logger: dict[str, list[str]] = {line["logger"]: [] for line in about}
    for line in about:
        by_logger[line["logger"]].append(line["message"])
    assert by_logger["shared.callbacks.intake"] == [
        f"callback #1 received: channel {shop.channel.id}, no event name, payment {reference[:16]}",
        "stored 1 callbacks, #1 to #1",
    ]
    processing = [line for line in about if line["logger"] == "shared.callbacks.processing"]
    assert {line["callback_id"] for line in processing} == {1}
    worker = " | ".join(by_logger["shared.callbacks.processing"])
    assert "callback #1 claimed by worker@" in worker
    assert "callback #1: EveryPay answered ok, payment settled (HTTP 200)" in worker
    assert f"callback #1: {shop.invoice.number}: payment settled" in worker
    assert "invoice paid (121.00 EUR booked)" in worker  # the booking, under the same id


def test_each_row_of_a_group_commit_keeps_its_own_request_id(shop: Shop, json_lines: Lines) -> None:
    requests = [
        CallbackRequest(
            channel_token=shop.token,
            params={"payment_reference": new_reference()},
            http_method="GET",
            remote_addr="127.0.0.1",
            request_id=f"request-{index}",
        )
        for index in range(5)
    ]

    results = receive_callbacks(requests=requests)

    assert [result.http_status for result in results] == [200] * 5
    assert _stored_request_ids() == [f"request-{index}" for index in range(5)]
    received = [line for line in json_lines() if "received" in line["message"]]
    assert [(line["request_id"], line["callback_id"]) for line in received] == [
        (f"request-{index}", index + 1) for index in range(5)
    ]


@pytest.mark.parametrize(
    "hostile",
    [
        'x" injected="1',
        "a" * 10_000,
        "abc\tdef",
        "a" * 65,
    ],
    ids=["quotes", "10 kB", "control character", "65 characters"],
)
def test_a_hostile_request_id_is_replaced_and_never_logged(
    any_db: str, json_lines: Lines, hostile: str
) -> None:
    shop = make_shop()

    with running_app(create_app(start_background=False)) as base:
        response = _callback(base, shop, new_reference(), hostile)

    assert response.status_code == 200
    replacement = response.headers["X-Request-ID"]
    assert GENERATED_ID.fullmatch(replacement)
    assert _stored_request_ids() == [replacement]
    lines = json_lines()
    assert any(line.get("request_id") == replacement for line in lines)
    assert hostile not in json.dumps(lines)


def test_the_service_processes_write_json_lines_with_the_request_id(
    everypay: FakeEveryPay, tmp_path: Path
) -> None:
    """Real processes, as the launcher runs them: the service and its background child."""
    shop = make_shop(api_base=everypay.url)
    reference = everypay.add(shop.answer())
    log_path = tmp_path / "service.log"
    env = {"LINKPAY_LOG_FORMAT": "json", "LINKPAY_LOG_LEVEL": "INFO"}

    with running_service_process(log_path=log_path, env=env) as service:
        response = _callback(service.base_url, shop, reference, "case-7")
        wait_until(lambda: event(1).status == CallbackStatus.DONE, timeout=20)

    assert response.headers["X-Request-ID"] == "case-7"
    text = log_path.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert all(line["time"].endswith("+00:00") for line in lines)
    about = {(line["logger"], line["message"]) for line in lines if line.get("request_id")}
    loggers = {logger for logger, _ in about}
    # Intake, the access line, and the worker in the background process, under one id.
    assert {"shared.callbacks.intake", "uvicorn.access", "shared.callbacks.processing"} <= (loggers)
    assert {line["request_id"] for line in lines if line.get("request_id")} == {"case-7"}
    assert any("invoice paid" in message for _, message in about)
    assert shop.token not in text
    assert "/callbacks/linkpay/***" in text
