"""Group commit for callback intake: one writer thread, one transaction per batch.

Every request still waits until its own row is committed before it is answered (stored
first, then 200), but requests that arrive while a batch is being committed share the
next transaction. Nothing waits on purpose: a lone callback is written at once, and the
batches grow only as fast as the database falls behind. This is what lets a burst of
callbacks through SQLite's single writer (and saves PostgreSQL a round trip per step).
"""

import asyncio
import contextlib
import logging
import queue
import threading
from dataclasses import dataclass

from shared.callbacks.intake import CallbackRequest, IntakeResult, receive_callbacks

log = logging.getLogger(__name__)

# Bounds one transaction, so the first request of a huge burst is not kept waiting for
# the last one's row; a few hundred rows commit in milliseconds on either backend.
MAX_BATCH = 250


@dataclass(frozen=True)
class _Waiting:
    request: CallbackRequest
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future


_STOP = object()


class IntakeWriter:
    """Started on first use; ``stop`` writes what is queued, then ends the thread."""

    def __init__(self, *, max_batch: int = MAX_BATCH) -> None:
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    async def submit(self, request: CallbackRequest) -> IntakeResult:
        """Resolves once the callback is committed, or raises what the write raised."""
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
        try:
            results = receive_callbacks(requests=[waiting.request for waiting in batch])
        except Exception as error:
            if len(batch) == 1:
                log.exception("callback could not be stored")
                _settle_all([(batch[0], error)])
                return
            # One unstorable request must not cost its neighbours their callbacks: each
            # is tried in a transaction of its own, and only the bad one fails.
            log.warning("%s callbacks failed together (%s); storing each alone", len(batch), error)
            for waiting in batch:
                self._write([waiting])
            return
        _settle_all(list(zip(batch, results, strict=True)))


_Answer = tuple[_Waiting, IntakeResult | BaseException]


def _settle_all(answered: list[_Answer]) -> None:
    """Each request's result (or the error its write raised), with one hand-over per
    event loop for the whole batch, not one per request."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Answer]] = {}
    for waiting, outcome in answered:
        by_loop.setdefault(waiting.loop, []).append((waiting, outcome))

    def deliver(pairs: list[_Answer]) -> None:
        for waiting, outcome in pairs:
            # The client may have gone away meanwhile; its row is stored all the same.
            if waiting.future.done():
                continue
            if isinstance(outcome, BaseException):
                waiting.future.set_exception(outcome)
            else:
                waiting.future.set_result(outcome)

    for loop, pairs in by_loop.items():
        # A closed event loop (shutdown) has nobody waiting any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, pairs)
