"""LINKPAY_LOG_FORMAT: today's text lines by default, one JSON object per line on request,
with the callback's context and never a URL secret; the CLI and the sandbox follow it."""

import json
import logging
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from callback_service.logging_config import JsonFormatter, formatter, log_config
from shared.callbacks.intake import receive_callback
from shared.config import PROJECT_ROOT, get_settings
from shared.log_context import ContextFilter, log_context, request_id_from
from tests.callbacks.helpers import make_shop
from tests.utils.callback_service import free_port, new_reference, wait_until

SECRET = "Zx9SecretCallbackToken"


def _record(
    message: str, *args: object, name: str = "shared.callbacks.processing"
) -> logging.LogRecord:
    return logging.LogRecord(name, logging.INFO, __file__, 1, message, args, None)


def _json(record: logging.LogRecord) -> dict:
    ContextFilter().filter(record)
    return json.loads(JsonFormatter().format(record))


def test_a_json_line_carries_utc_time_level_logger_message_and_the_context() -> None:
    with log_context(request_id="case-1", callback_id=7):
        line = _json(_record("callback #%s: %s", 7, "invoice paid"))
    outside = _json(_record("reconciler: nothing to do"))

    assert line.keys() == {"time", "level", "logger", "message", "request_id", "callback_id"}
    assert (line["level"], line["logger"]) == ("INFO", "shared.callbacks.processing")
    assert (line["message"], line["request_id"], line["callback_id"]) == (
        "callback #7: invoice paid",
        "case-1",
        7,
    )
    logged_at = datetime.fromisoformat(line["time"])
    assert logged_at.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - logged_at) < timedelta(minutes=1)
    assert outside.keys() == {"time", "level", "logger", "message"}  # the context has ended


def test_json_lines_redact_url_secrets_in_messages_tracebacks_and_the_access_log() -> None:
    access = _record(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5000",
        "GET",
        f"/callbacks/linkpay/{SECRET}?payment_reference=abc",
        "1.1",
        200,
        name="uvicorn.access",
    )
    try:
        raise RuntimeError(f"no channel at /callbacks/linkpay/{SECRET}")
    except RuntimeError:
        failed = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())

    lines = [JsonFormatter().format(access), JsonFormatter().format(failed)]

    assert all(SECRET not in line for line in lines)
    assert json.loads(lines[0])["message"] == (
        '127.0.0.1:5000 - "GET /callbacks/linkpay/***?payment_reference=abc HTTP/1.1" 200'
    )
    assert "/callbacks/linkpay/***" in json.loads(lines[1])["exception"]


def test_text_stays_the_default_format_and_json_is_chosen_by_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = get_settings()
    text = formatter(settings.log_format)
    with log_context(request_id="case-2", callback_id=12):
        record = _record("stored %s callbacks", 3)
        ContextFilter().filter(record)
        line = text.format(record)
    plain = _record("reconciler: nothing to do")
    ContextFilter().filter(plain)

    assert settings.log_format == "text"
    # A plain line, with the callback's context at its end for grep; none outside a context.
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO shared\.callbacks\.processing: "
        r"stored 3 callbacks \[request_id=case-2 callback_id=12\]",
        line,
    )
    assert text.format(plain).endswith("reconciler: nothing to do")
    monkeypatch.setenv("LINKPAY_LOG_FORMAT", "json")
    get_settings.cache_clear()
    assert get_settings().log_format == "json"
    config = log_config("INFO", get_settings().log_format)
    assert config["formatters"]["default"]["()"].endswith("JsonFormatter")
    assert config["formatters"]["access"]["()"].endswith("JsonFormatter")
    monkeypatch.setenv("LINKPAY_LOG_FORMAT", "xml")
    get_settings.cache_clear()
    with pytest.raises(ValidationError, match="log_format"):
        get_settings()


def test_a_text_line_with_a_traceback_keeps_the_context_on_its_first_line() -> None:
    try:
        raise RuntimeError(f"no channel at /callbacks/linkpay/{SECRET}")
    except RuntimeError:
        failed = logging.LogRecord(
            "shared.callbacks.worker", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    with log_context(request_id="case-3"):
        ContextFilter().filter(failed)
    line = formatter("text").format(failed)

    first, *traceback = line.splitlines()
    assert first.endswith("ERROR shared.callbacks.worker: failed [request_id=case-3]")
    assert traceback[0] == "Traceback (most recent call last):"
    assert SECRET not in line


@pytest.mark.parametrize(
    "header",
    [None, "", "a\nINFO forged line", 'x" level="CRITICAL', "a" * 10_000, "a" * 65, "ä-id"],
)
def test_a_request_id_that_is_not_a_plain_short_token_is_replaced(header: str | None) -> None:
    replaced = request_id_from(header)

    assert re.fullmatch(r"[0-9a-f]{32}", replaced)
    assert replaced != request_id_from(header)  # a new one each time


@pytest.mark.parametrize(
    "header", ["3f2b0c1e-58a4-4d2e-9d0c-2f1e6c7b8a90", "Root.1-5f84c7a9:abc_def", "a" * 64]
)
def test_a_plain_request_id_from_the_sender_is_kept(header: str) -> None:
    assert request_id_from(header) == header


def _env(**settings: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(PROJECT_ROOT),
        **{f"LINKPAY_{name.upper()}": value for name, value in settings.items()},
    }


def _parsed(output: str) -> list[dict]:
    lines = [json.loads(line) for line in output.splitlines() if line.strip()]
    assert lines, "no log lines"
    return lines


def test_the_cli_logs_json_with_the_stored_callbacks_request_id(any_db: str) -> None:
    shop = make_shop()
    # A callback the API cannot be asked about (nothing listens at the channel's API base):
    # the reconciler's retry line is about it.
    receive_callback(
        channel_token=shop.token,
        params={"payment_reference": new_reference()},
        http_method="GET",
        remote_addr="127.0.0.1",
        request_id="cli-case-9",
    )

    done = subprocess.run(
        [sys.executable, "-m", "shared.operations.cli", "reconcile"],
        env=_env(log_format="json"),
        capture_output=True,
        text=True,
        timeout=120,
    )

    lines = _parsed(done.stderr)
    about = [line for line in lines if line.get("request_id") == "cli-case-9"]
    assert about, done.stderr
    assert {line["logger"] for line in about} == {"shared.callbacks.processing"}
    assert all(line["callback_id"] == 1 for line in about)


def test_the_sandbox_logs_json_lines(tmp_path: Path) -> None:
    port = free_port()
    log_path = tmp_path / "sandbox.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox", "--host=127.0.0.1", f"--port={port}"],
            env=_env(log_format="json", data_dir=str(tmp_path)),
            cwd=tmp_path,
            stdout=log,
            stderr=log,
        )
    try:

        def healthy() -> bool:
            assert process.poll() is None, log_path.read_text()
            try:
                return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(healthy, timeout=30, message="the sandbox to start")
    finally:
        process.terminate()
        process.wait(timeout=15)

    lines = _parsed(log_path.read_text())
    assert {"uvicorn.error", "uvicorn.access"} <= {line["logger"] for line in lines}
    assert any("GET /health" in line["message"] for line in lines)
