"""Run the EveryPay sandbox as a real server for tests, and receive its callbacks.

``running_sandbox`` starts ``python -m sandbox`` on a free port and waits for ``/health``;
``CallbackReceiver`` is a tiny HTTP server that records every callback it gets and can be
told to fail some of them first.
"""

import os
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
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx

from sandbox.store import SandboxStore

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 30.0

T = TypeVar("T")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    probe: Callable[[], T | None], *, timeout: float = 10.0, interval: float = 0.05
) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@dataclass
class SandboxHandle:
    base_url: str
    store_path: Path
    store: SandboxStore
    process: subprocess.Popen[bytes]
    log_path: Path

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10.0, **kwargs)

    def create_merchant(self, **fields: Any) -> dict[str, str]:
        """``POST /sandbox/merchants``: credentials, link token, lp_prefix and api_base."""
        return self._post("/sandbox/merchants", fields)

    def pay(self, url: str, outcome: str = "pay", method: str | None = None) -> dict[str, str]:
        """``POST /sandbox/pay``, asserting success; returns the new payment's summary."""
        return self._post("/sandbox/pay", {"url": url, "outcome": outcome, "method": method})

    def set_faults(self, **faults: Any) -> dict[str, Any]:
        return self._post("/sandbox/faults", faults)

    def reset_faults(self) -> None:
        httpx.delete(f"{self.base_url}/sandbox/faults", timeout=10.0).raise_for_status()

    def deliveries(self, payment_reference: str) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.base_url}/sandbox/deliveries",
            params={"payment_reference": payment_reference},
            timeout=10.0,
        )
        response.raise_for_status()
        return response.json()

    def _post(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.base_url}{path}", json=body, timeout=10.0)
        response.raise_for_status()
        return response.json()


def _healthy(base_url: str, process: subprocess.Popen[bytes], log_path: Path) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"sandbox exited early:\n{log_path.read_text(errors='replace')}")
    try:
        return httpx.get(f"{base_url}/health", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


@contextmanager
def running_sandbox(
    tmp_path: Path,
    *,
    callback_schedule: tuple[float, ...] = (0.2, 0.5, 1.0),
    bank_settle_seconds: float = 0.5,
    store_path: Path | None = None,
) -> Iterator[SandboxHandle]:
    """A sandbox subprocess on a free 127.0.0.1 port, stopped on exit.

    Pass the same ``store_path`` twice to restart a sandbox on the same data.
    """
    store_path = store_path or tmp_path / "sandbox.db"
    store = SandboxStore(store_path)  # schema exists before the test touches it
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / f"sandbox-{port}.log"
    command = [
        sys.executable,
        "-m",
        "sandbox",
        "--host=127.0.0.1",
        f"--port={port}",
        f"--store={store_path}",
        f"--callback-schedule={','.join(str(delay) for delay in callback_schedule)}",
        f"--bank-settle-seconds={bank_settle_seconds}",
        f"--public-url={base_url}",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.getenv("PYTHONPATH")])),
        "LINKPAY_DATA_DIR": str(tmp_path),
        "LINKPAY_LOG_LEVEL": "WARNING",
    }
    with log_path.open("wb") as log:
        # cwd is the temp dir so no developer .env leaks into the sandbox's settings.
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=log)
    try:
        wait_until(lambda: _healthy(base_url, process, log_path), timeout=STARTUP_SECONDS)
        yield SandboxHandle(base_url, store_path, store, process, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass
class ReceivedCallback:
    method: str
    path: str
    query: str
    params: dict[str, str]
    status: int


@dataclass
class CallbackReceiver:
    """Records callbacks; ``fail(path, times)`` makes the next ``times`` hits answer 500."""

    base_url: str = ""
    received: list[ReceivedCallback] = field(default_factory=list)
    _failures: dict[str, list[int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/callback") -> str:
        return f"{self.base_url}{path}"

    def fail(self, path: str, times: int = 1, status: int = 500) -> None:
        with self._lock:
            self._failures[path] = [status] * times

    def answer(self, path: str) -> int:
        with self._lock:
            planned = self._failures.get(path)
            return planned.pop(0) if planned else 200

    def record(self, callback: ReceivedCallback) -> None:
        with self._lock:
            self.received.append(callback)

    def for_payment(self, payment_reference: str) -> list[ReceivedCallback]:
        with self._lock:
            return [
                c for c in self.received if c.params.get("payment_reference") == payment_reference
            ]

    def wait_for(
        self, payment_reference: str, *, count: int = 1, timeout: float = 10.0
    ) -> list[ReceivedCallback]:
        return wait_until(
            lambda: hits if len(hits := self.for_payment(payment_reference)) >= count else None,
            timeout=timeout,
        )


@contextmanager
def callback_receiver() -> Iterator[CallbackReceiver]:
    receiver = CallbackReceiver()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            parts = urlsplit(self.path)
            status = receiver.answer(parts.path)
            receiver.record(
                ReceivedCallback(
                    method=self.command,
                    path=parts.path,
                    query=parts.query,
                    params=dict(parse_qsl(parts.query, keep_blank_values=True)),
                    status=status,
                )
            )
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = _handle
        do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the recorded callbacks are the log."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
