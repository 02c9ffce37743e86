"""A real local HTTP server standing in for the EU VIES service: no call leaves the machine."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from shared.config import get_settings


class FakeVies:
    """What the next request gets: a status and a body, or a delay beyond the timeout."""

    def __init__(self) -> None:
        self.status = 200
        self.body: object = {}
        self.delay = 0.0
        self.requests: list[dict] = []


@contextmanager
def fake_vies(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVies]:
    """Runs the server and points LINKPAY_VIES_URL (with a half-second timeout) at it."""
    fake = FakeVies()
    stop = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            fake.requests.append(json.loads(self.rfile.read(length)))
            if fake.delay:
                stop.wait(fake.delay)
            payload = fake.body if isinstance(fake.body, bytes) else json.dumps(fake.body).encode()
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("LINKPAY_VIES_URL", f"http://127.0.0.1:{server.server_port}/check")
    monkeypatch.setenv("LINKPAY_VIES_TIMEOUT_SECONDS", "0.5")
    get_settings.cache_clear()
    try:
        yield fake
    finally:
        stop.set()
        server.shutdown()
        server.server_close()
