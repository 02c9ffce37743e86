"""Worker threads that process stored callbacks inside the callback service process.

Intake calls ``wake()`` right after its commit, so a callback is usually applied within
milliseconds of the answer; a poll every ``worker_poll_seconds`` picks up what other
processes stored. Any number of workers, in any number of processes, may run at once:
the claim in ``queue`` hands each event to one of them.

Three kinds of threads: a few claimers claim, a larger pool of callers asks EveryPay,
and the answer writers (``answer_writer``) record the callers' answers a batch per
transaction while each caller waits for its own. A slow gateway (3 s an answer) then
costs waiting callers, not throughput: 20 payments a second need 60 calls in flight,
while the claims stay few and short. A claimer takes free callers' slots before it
claims (as many as are free, up to ``CLAIM_BATCH``, claimed in one write), so no
event is claimed that no caller is free to run (its lease would tick away in a queue),
and nothing is claimed at all while every caller is busy.
"""

import logging
import os
import queue
import socket
import threading
import time
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col

from shared.callbacks.answer_writer import AnswerWriter
from shared.callbacks.counters import WORKER_COUNTERS
from shared.callbacks.processing import run_claimed_event
from shared.callbacks.queue import ClaimedEvent, claim_due_events, worker_name
from shared.config import get_settings
from shared.db import is_sqlite, write_session
from shared.linkpay.client import close_thread_client, prepare_api_calls
from shared.log_context import log_context
from shared.models import WorkerHeartbeat, utcnow

log = logging.getLogger(__name__)

HEARTBEAT_PREFIX = "callback-worker"
HEARTBEAT_SECONDS = 5.0
# Claimer threads. Each claim takes up to CLAIM_BATCH events in one write on either
# backend, so a few keep a hundred callers busy; a wake-up wakes one of them (more while
# claims come back full), so more claimers would only add polls.
CLAIMER_THREADS = 4
# Most events one claim takes when that many callers are free (one write).
CLAIM_BATCH = 20


def default_thread_count() -> int:
    configured = get_settings().worker_threads
    if configured:
        return configured
    return CLAIMER_THREADS


# A process that stopped beating this long ago is gone: its row (and its counters) go too.
HEARTBEAT_FORGET = timedelta(hours=1)


class WakeUps:
    """Hands each wake-up to one sleeping claimer, not to all of them.

    A wake-up means "something was stored", and one claim takes all of it (up to its
    batch): every claimer waking would have each read the queue for the same rows and
    raced to claim them (on SQLite, each race a turn at the write lock intake waits for).
    A wake-up that comes while no claimer sleeps is kept for the next one about to.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._pending = False

    def wake_one(self) -> None:
        with self._condition:
            self._pending = True
            self._condition.notify()

    def wake_all(self) -> None:
        with self._condition:
            self._pending = True
            self._condition.notify_all()

    def wait(self, timeout: float) -> None:
        """Sleeps until a wake-up (or the timeout), unless one is already waiting."""
        with self._condition:
            if not self._pending:
                self._condition.wait(timeout)
            self._pending = False


def heartbeat_name() -> str:
    """One row per worker process, so each one's counters stand on their own."""
    return f"{HEARTBEAT_PREFIX}@{socket.gethostname()[:40]}:{os.getpid()}"


class CallbackWorker:
    def __init__(self, *, threads: int | None = None, api_calls: int | None = None) -> None:
        self._thread_count = threads or default_thread_count()
        self._caller_count = api_calls or get_settings().worker_api_calls
        self._threads: list[threading.Thread] = []
        self._callers: list[threading.Thread] = []
        # One slot per caller: taken by a claimer before it claims, given back by the
        # caller when the event is done.
        self._free_callers = threading.Semaphore(self._caller_count)
        self._claimed: queue.SimpleQueue[ClaimedEvent | None] = queue.SimpleQueue()
        self._wake_ups = WakeUps()
        self._stop = threading.Event()
        self._beat_lock = threading.Lock()
        self._last_beat = 0.0
        # The callers' answers are recorded a batch per transaction (see answer_writer).
        self._answers = AnswerWriter()

    def start(self) -> None:
        prepare_api_calls()
        self._answers.start()
        for index in range(self._caller_count):
            thread = threading.Thread(
                target=self._call, name=f"callback-caller-{index}", daemon=True
            )
            thread.start()
            self._callers.append(thread)
        for index in range(self._thread_count):
            thread = threading.Thread(
                target=self._run, name=f"callback-worker-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        self._wake_ups.wake_one()

    def stop(self, *, timeout: float = 15.0) -> None:
        self._stop.set()
        self._wake_ups.wake_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(deadline - time.monotonic(), 0.1))
        # The claimers have stopped: the callers finish what was handed to them (the
        # queue is first in, first out), then find their end marks.
        for _ in self._callers:
            self._claimed.put(None)
        for thread in self._callers:
            thread.join(max(deadline - time.monotonic(), 0.1))
        self._answers.stop(timeout=max(deadline - time.monotonic(), 0.1))

    @property
    def alive(self) -> bool:
        threads = self._threads + self._callers
        return bool(threads) and self._answers.alive and all(t.is_alive() for t in threads)

    def _run(self) -> None:
        claimant = worker_name("worker")
        poll = get_settings().worker_poll_seconds
        while not self._stop.is_set():
            if not self._free_callers.acquire(timeout=min(poll, HEARTBEAT_SECONDS)):
                self._beat_if_due()  # every caller is busy: alive, just at capacity
                continue
            slots = 1
            while slots < CLAIM_BATCH and self._free_callers.acquire(blocking=False):
                slots += 1
            handed_over = 0
            try:
                self._beat_if_due()
                claimed = claim_due_events(worker=claimant, limit=slots)
                for event in claimed:
                    self._claimed.put(event)
                    handed_over += 1
            except Exception:
                # Usually the database is unreachable; the lease returns any claimed event.
                log.exception("callback worker error; retrying in %.1f s", poll)
                self._stop.wait(poll)
                continue
            finally:
                if slots > handed_over:
                    self._free_callers.release(slots - handed_over)
            if len(claimed) == slots:
                # A full claim: more may be due. Look again at once, and have another
                # claimer look too, so a backlog is claimed side by side.
                self._wake_ups.wake_one()
            else:
                # Everything due was claimed; what is stored next brings a wake-up.
                # Never sleep past a heartbeat, however long the poll interval is.
                self._wake_ups.wait(min(poll, HEARTBEAT_SECONDS))

    def _call(self) -> None:
        while (claimed := self._claimed.get()) is not None:
            try:
                run_claimed_event(claimed, record=self._answers.record)
            except Exception:
                # run_claimed_event gives failures back to the queue; this is the database
                # being unreachable even for that, and the lease returns the event.
                with log_context(request_id=claimed.request_id, callback_id=claimed.id):
                    log.exception("callback #%s: could not record the outcome", claimed.id)
            finally:
                self._free_callers.release()
        close_thread_client()

    def _beat_if_due(self) -> None:
        with self._beat_lock:
            if time.monotonic() - self._last_beat < HEARTBEAT_SECONDS:
                return
            self._last_beat = time.monotonic()
        beat(detail=f"pid {os.getpid()}, {self._thread_count} threads")


def beat(*, detail: str = "") -> None:
    """Records that this worker process is alive, for /health, with what it has done so
    far, for /metrics."""
    insert = sqlite_insert if is_sqlite() else pg_insert
    now = utcnow()
    values = {"beat_at": now, "detail": detail[:500], "counters": WORKER_COUNTERS.snapshot()}
    with write_session() as session:
        session.exec(
            insert(WorkerHeartbeat)
            .values(name=heartbeat_name(), **values)
            .on_conflict_do_update(index_elements=["name"], set_=values)
        )
        session.exec(
            delete(WorkerHeartbeat)
            .where(col(WorkerHeartbeat.name).startswith(HEARTBEAT_PREFIX))
            .where(col(WorkerHeartbeat.beat_at) < now - HEARTBEAT_FORGET)
        )
