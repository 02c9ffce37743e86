"""A database that cannot take a write: intake answers 503 with Retry-After within the
configured wait (never 500, never an unbounded wait), and the callback is stored when
EveryPay delivers it again after the lock is gone."""

import asyncio
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import col, select

from callback_service.app import create_app
from shared.callbacks.group_commit import IntakeWriter
from shared.callbacks.intake import CallbackRequest
from shared.config import get_settings
from shared.db import DatabaseBusy, dispose_engines, read_session, write_session
from shared.models import CallbackEvent
from tests.callbacks.helpers import Shop, make_shop
from tests.utils.callback_service import new_reference, wait_until

WAIT_SECONDS = 1.0
# Scheduling slack on a shared machine; the old code waited 10–40 s or for ever.
SLACK_SECONDS = 2.0

T = TypeVar("T")

# Takes the SQLite writer queue's file lock as another process would, says so, and holds
# it until its standard input closes.
_HOLD_FILE_LOCK = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def short_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKPAY_DATABASE_WAIT_SECONDS", str(WAIT_SECONDS))
    get_settings.cache_clear()


@contextmanager
def write_lock_held_elsewhere() -> Iterator[None]:
    """Another process (SQLite) or connection (PostgreSQL) holds what intake must wait
    for until the block ends."""
    url = get_settings().resolved_database_url
    if url.startswith("sqlite"):
        holder = subprocess.Popen(
            [sys.executable, "-c", _HOLD_FILE_LOCK, f"{make_url(url).database}.writer-lock"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert holder.stdin is not None and holder.stdout is not None
        try:
            assert holder.stdout.readline().strip() == "held"
            yield
        finally:
            holder.stdin.close()
            holder.wait(timeout=10)
        return
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text("LOCK TABLE callback_event IN EXCLUSIVE MODE"))
            try:
                yield
            finally:
                connection.rollback()
    finally:
        engine.dispose()


@contextmanager
def sqlite_transaction_held_elsewhere() -> Iterator[None]:
    """A plain sqlite3 connection (say, an operator's shell) in a write transaction: it
    bypasses the writer queue, so only SQLite's own busy wait stands between."""
    connection = sqlite3.connect(make_url(get_settings().resolved_database_url).database)
    connection.isolation_level = None
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        connection.rollback()
        connection.close()


def _within(seconds: float, call: Callable[[], T]) -> tuple[T, float]:
    """``call()``'s result and how long it took; fails instead of hanging past ``seconds``."""
    pool = ThreadPoolExecutor(max_workers=1)
    started = time.monotonic()
    future = pool.submit(call)
    try:
        return future.result(timeout=seconds), time.monotonic() - started
    except TimeoutError:
        pytest.fail(f"no answer within {seconds} s: intake waits without a bound")
    finally:
        # Not waiting for a call still stuck: it ends once the caller frees the lock.
        pool.shutdown(wait=False)


def _stored_references() -> list[str | None]:
    with read_session() as session:
        rows = session.exec(select(CallbackEvent).order_by(col(CallbackEvent.id))).all()
        return [row.payment_reference for row in rows]


def test_locked_database_is_503_with_retry_after_within_the_wait_and_redelivery_is_stored(
    shop: Shop, short_wait: None
) -> None:
    reference = new_reference()
    params = {"payment_reference": reference, "order_reference": shop.invoice.number}
    url = f"/callbacks/linkpay/{shop.token}"

    with TestClient(create_app(start_background=False)) as client:
        with write_lock_held_elsewhere():
            response, took = _within(WAIT_SECONDS + 10, lambda: client.get(url, params=params))
            assert _stored_references() == []
        redelivered = client.get(url, params=params)

    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["status"] == "unavailable"
    assert took < WAIT_SECONDS + SLACK_SECONDS
    assert redelivered.status_code == 200
    assert _stored_references() == [reference]


def test_sqlite_transaction_of_another_connection_is_503_within_the_wait(
    db: str, short_wait: None
) -> None:
    shop = make_shop()
    url = f"/callbacks/linkpay/{shop.token}"
    params = {"payment_reference": new_reference()}

    with TestClient(create_app(start_background=False)) as client:
        with sqlite_transaction_held_elsewhere():
            response, took = _within(WAIT_SECONDS + 20, lambda: client.get(url, params=params))
        redelivered = client.get(url, params=params)

    assert (response.status_code, redelivered.status_code) == (503, 200)
    assert "Retry-After" in response.headers
    assert took < WAIT_SECONDS + SLACK_SECONDS
    assert _stored_references() == [params["payment_reference"]]


def test_a_queue_of_callbacks_behind_a_lock_is_answered_within_one_wait_not_one_each(
    shop: Shop, short_wait: None
) -> None:
    def request() -> CallbackRequest:
        return CallbackRequest(
            channel_token=shop.token,
            params={"payment_reference": new_reference()},
            http_method="GET",
            remote_addr="127.0.0.1",
        )

    async def burst(writer: IntakeWriter, count: int) -> list:
        return await asyncio.gather(*(writer.submit(request()) for _ in range(count)))

    writer = IntakeWriter()
    try:
        with write_lock_held_elsewhere():
            # The first request's batch takes the lock wait; those queued meanwhile must
            # not each wait again (the old split retried every row alone).
            refused, took = _within(WAIT_SECONDS + 20, lambda: asyncio.run(burst(writer, 40)))
        stored = asyncio.run(burst(writer, 40))
    finally:
        writer.stop()

    assert {result.http_status for result in refused} == {503}
    assert took < WAIT_SECONDS + SLACK_SECONDS
    assert [result.http_status for result in stored] == [200] * 40
    assert len(_stored_references()) == 40


def test_a_long_lock_costs_one_waiting_thread_not_one_per_attempt(db: str) -> None:
    def lock_waiters() -> int:
        return sum(thread.name == "sqlite-writer-lock" for thread in threading.enumerate())

    with write_lock_held_elsewhere():
        for _ in range(5):
            with pytest.raises(DatabaseBusy), write_session(max_wait_seconds=0.05):
                pass
        assert lock_waiters() == 1
    with write_session(max_wait_seconds=WAIT_SECONDS) as session:  # the lock came back
        session.exec(text("SELECT 1"))
    wait_until(lambda: lock_waiters() == 0, message="the waiting thread to end")


def test_an_unreachable_database_is_503_not_500(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LINKPAY_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/none")
    get_settings.cache_clear()
    dispose_engines()
    with TestClient(create_app(start_background=False)) as client:
        response = client.get("/callbacks/linkpay/any-token", params={"payment_reference": "ab"})

    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
