"""Group commit for callback intake: one writer thread, one transaction per batch.

Every request still waits until its own row is committed before it is answered (stored
first, then 200), but requests that arrive while a batch is being committed share the
next transaction. Nothing waits on purpose: a lone callback is written at once, and the
batches grow only as fast as the database falls behind. This is what lets a burst of
callbacks through SQLite's single writer (and saves PostgreSQL a round trip per step).

No request waits for the database longer than ``database_wait_seconds`` from its arrival:
past that, or when its row cannot be stored, it is answered 503 with Retry-After, and
EveryPay delivers it again.
"""

import asyncio
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from shared.callbacks.intake import CallbackRequest, IntakeResult, receive_callbacks, unavailable
from shared.config import get_settings
from shared.db import DatabaseBusy
from shared.log_context import log_context

log = logging.getLogger(__name__)

# Bounds one transaction, so the first request of a huge burst is not kept waiting for
# the last one's row; a few hundred rows commit in milliseconds on either backend.
MAX_BATCH = 250


@dataclass(frozen=True)
class _Waiting:
    request: CallbackRequest
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    queued_at: float = field(default_factory=time.monotonic)


_STOP = object()


class IntakeWriter:
    """Started on first use; ``stop`` writes what is queued, then ends the thread.

    ``on_stored`` is called once per committed batch that queued callbacks for the
    workers (to wake them): once a batch, not once a request, as a burst of hundreds a
    second would otherwise cost the HTTP handlers a write to the wake-up pipe each, and
    the worker process a wake-up each.
    """

    def __init__(
        self, *, max_batch: int = MAX_BATCH, on_stored: Callable[[], None] | None = None
    ) -> None:
        self._max_batch = max_batch
        self._on_stored = on_stored
        self._wait = get_settings().database_wait_seconds
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    async def submit(self, request: CallbackRequest) -> IntakeResult:
        """Resolves once the callback is committed, or to a 503 when it could not be."""
        self._ensure_started()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put(_Waiting(request, loop, future))
        return await future

    def stop(self, *, timeout: float = 15.0) -> None:
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _ensure_started(self) -> None:
        if self.alive:
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="callback-intake-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._queue.get()]
            while len(batch) < self._max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if _STOP in batch:
                stopping = True
                batch = [item for item in batch if item is not _STOP]
            if batch:
                self._write(batch)

    def _write(self, batch: list[_Waiting]) -> None:
        # A lone request's lines (stored, or refused) carry its id; a batch's lines are
        # about many, and intake logs each row's own line inside the batch.
        alone = batch[0].request.request_id if len(batch) == 1 else None
        with log_context(request_id=alone):
            self._write_batch(batch)

    def _write_batch(self, batch: list[_Waiting]) -> None:
        # The oldest request sets the bound: none is answered later than the wait allows.
        deadline = min(waiting.queued_at for waiting in batch) + self._wait
        remaining = deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise DatabaseBusy("waited in the queue behind a write that could not finish")
            results = receive_callbacks(
                requests=[waiting.request for waiting in batch], max_wait_seconds=remaining
            )
        except Exception as error:
            if len(batch) == 1 or _database_unavailable(error) or time.monotonic() >= deadline:
                self._refuse(batch, error)
                return
            # One unstorable request must not cost its neighbours their callbacks: each
            # is tried in a transaction of its own, and only the bad one fails. (A busy or
            # unreachable database is no single row's fault; trying each would only wait
            # once per row.)
            log.warning("%s callbacks failed together (%s); storing each alone", len(batch), error)
            for waiting in batch:
                self._write([waiting])
            return
        # Committed: the workers may look now, while the answers go out.
        if self._on_stored is not None and any(result.queued for result in results):
            self._on_stored()
        _settle_all(list(zip(batch, results, strict=True)))

    def _refuse(self, batch: list[_Waiting], error: Exception) -> None:
        # A busy or unreachable database is an operating condition, not a bug: no traceback.
        log.error(
            "%s callbacks not stored, answered 503 (%s: %s)",
            len(batch),
            type(error).__name__,
            next(iter(str(error).splitlines()), ""),
            exc_info=not _database_unavailable(error),
        )
        refusal = unavailable(wait_seconds=self._wait)
        _settle_all([(waiting, refusal) for waiting in batch])


def _database_unavailable(error: Exception) -> bool:
    """Locked, timed out or unreachable (as opposed to refusing one row's data)."""
    return isinstance(error, DatabaseBusy | OperationalError | PoolTimeout)


_Answer = tuple[_Waiting, IntakeResult]


def _settle_all(answered: list[_Answer]) -> None:
    """Each request's result, with one hand-over per event loop for the whole batch, not
    one per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Answer]] = {}
    for waiting, outcome in answered:
        by_loop.setdefault(waiting.loop, []).append((waiting, outcome))

    def deliver(pairs: list[_Answer]) -> None:
        for waiting, outcome in pairs:
            # The client may have gone away meanwhile; its row is stored all the same.
            if not waiting.future.done():
                waiting.future.set_result(outcome)

    for loop, pairs in by_loop.items():
        # A closed event loop (shutdown) has nobody waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, pairs)
