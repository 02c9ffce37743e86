"""Helpers for callback-service tests: a fake EveryPay API over real HTTP, the service in a
thread or as a real subprocess, and polling with a deadline instead of sleeps."""

import base64
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn
from fastapi import FastAPI

from shared.config import PROJECT_ROOT
from tests.utils.factories import API_SECRET, API_USERNAME


def new_reference() -> str:
    return secrets.token_hex(32)


def payment_answer(
    *,
    reference: str,
    order_reference: str,
    state: str = "settled",
    amount: str = "121.00",
    standing: str | None = None,
    currency: str | None = "EUR",
    api_username: str = API_USERNAME,
    created_at: str = "2026-05-02T09:14:15.501Z",
) -> dict[str, Any]:
    """An EveryPay ``GET /payments/{reference}`` body, values as EveryPay sends them."""
    answer: dict[str, Any] = {
        "api_username": api_username,
        "account_name": "EUR3D1",
        "order_reference": order_reference,
        "payment_reference": reference,
        "payment_state": state,
        "initial_amount": amount,
        "standing_amount": amount if standing is None else standing,
        "payment_method": "card",
        "email": "anna@example.lv",
        "payment_created_at": created_at,
        "transaction_time": created_at,
        "processing_error": {"code": None, "message": None},
        "cc_details": {"last_four_digits": "1002", "type": "master_card"},
    }
    if currency is not None:
        answer["currency"] = currency
    return answer


def wait_until(
    condition: Callable[[], Any], *, timeout: float = 10.0, message: str = "condition"
) -> Any:
    """Polls until ``condition()`` is truthy and returns its value; fails at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(0.05)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class FakeEveryPay:
    """EveryPay's ``GET /api/v4/payments/{reference}`` and ``/shops``, checking Basic auth
    like the real one. ``mode``: "up" answers, "down" gives 503, "hang" holds the request
    open."""

    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    mode: str = "up"
    calls: int = 0
    released: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def add(self, answer: dict[str, Any]) -> str:
        self.payments[answer["payment_reference"]] = answer
        return answer["payment_reference"]

    def set_mode(self, mode: str) -> None:
        self.mode = mode
        if mode != "hang":
            self.released.set()
        else:
            self.released.clear()


@contextmanager
def running_fake_everypay() -> Iterator[FakeEveryPay]:
    fake = FakeEveryPay()
    expected_auth = "Basic " + base64.b64encode(f"{API_USERNAME}:{API_SECRET}".encode()).decode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            fake.calls += 1
            if fake.mode == "hang":
                fake.released.wait(30)
            if fake.mode == "down":
                return self._send(503, {"error": {"code": 503, "message": "maintenance"}})
            if self.headers.get("Authorization") != expected_auth:
                return self._send(401, None)
            path = urlsplit(self.path).path
            if path == "/api/v4/shops":  # the credentials check behind Test connection
                return self._send(200, {"shops": []})
            reference = path.rsplit("/", 1)[-1]
            answer = fake.payments.get(reference)
            if not path.startswith("/api/v4/payments/") or answer is None:
                return self._send(404, {"error": {"code": 4004, "message": "not found"}})
            return self._send(200, answer)

        def _send(self, status: int, body: dict | None) -> None:
            payload = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}/api/v4"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.released.set()
        server.shutdown()
        server.server_close()


@contextmanager
def running_app(app: FastAPI) -> Iterator[str]:
    """Serves ``app`` with a real uvicorn server in a thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, message="uvicorn to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@dataclass
class ServiceProcess:
    process: subprocess.Popen
    base_url: str
    log_path: Path

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_service_process(
    *, log_path: Path, env: dict[str, str] | None = None
) -> Iterator[ServiceProcess]:
    """``python -m callback_service`` exactly as the launcher starts it, configured through
    LINKPAY_* variables (the test's database and data directory are inherited)."""
    port = free_port()
    child_env = {
        **os.environ,
        "LINKPAY_CALLBACK_HOST": "127.0.0.1",
        "LINKPAY_CALLBACK_PORT": str(port),
        "PYTHONPATH": str(PROJECT_ROOT),
        **(env or {}),
    }
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "callback_service"],
            env=child_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    service = ServiceProcess(process, f"http://127.0.0.1:{port}", log_path)

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"callback service exited early:\n{service.log()}")
        try:
            return httpx.get(f"{service.base_url}/health", timeout=1).status_code in (200, 503)
        except httpx.HTTPError:
            return False

    try:
        wait_until(up, timeout=30, message="the callback service to answer /health")
        yield service
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
