"""Group commit for EveryPay's answers: on SQLite, one transaction records many.

Why: SQLite has one writer at a time, and recording an answer (the payment booked, the
callback closed) holds that lock for the whole transaction. Each of the worker's callers
recording its own answer waited in line for the lock, and in a process of a hundred
threads the holder also waited for its turn to run Python between every two statements:
at 50 payments a second the lock was busy ~20 ms an answer, more than the second has, and
callback → paid grew to seconds (benchmarks, scenario 2). One thread writing whatever
answers are waiting in one transaction pays the lock, the commit and the hand-overs once a
batch, as intake's group commit does for the callbacks themselves.

Invariants:
- A caller returns only when its own answer is committed (or raises): what happens after
  ``record`` (the log line, the counters, giving the caller's slot back) is as before.
- Each answer is recorded in a savepoint: one that fails is rolled back alone and its
  caller gets the error (the event goes back on the queue, as before); the others commit.
- A batch whose transaction fails as a whole (the database gone, the commit refused) fails
  every caller in it; nothing of it is written, and each event is retried.
- Order and money are unchanged: the answers are applied one after another through the one
  guard (``apply_payment_status``), in the order they arrived, inside one transaction.

PostgreSQL takes writers in parallel, so there each caller keeps its own transaction.
"""

import logging
import queue
import threading
from concurrent.futures import Future

from shared.callbacks.processing import Answer, Recorded, record_answer
from shared.db import write_session
from shared.log_context import log_context

log = logging.getLogger(__name__)

# Bounds one transaction: intake (the acknowledgements EveryPay waits for) and the
# dashboard write between batches, and a booking takes a few milliseconds of Python.
MAX_BATCH = 10

_STOP = None


class AnswerWriter:
    """One thread that records the answers callers hand it, a batch per transaction."""

    def __init__(self, *, max_batch: int = MAX_BATCH) -> None:
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[Answer, Future] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.batches_written = 0  # transactions committed: how much the batching saves

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="answer-writer", daemon=True)
        self._thread.start()

    def stop(self, *, timeout: float = 15.0) -> None:
        """Records what is queued, then ends the thread."""
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join(timeout)
            self._thread = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def record(self, answer: Answer) -> Recorded:
        """Waits until the answer is committed; raises what recording it raised."""
        future: Future[Recorded] = Future()
        self._queue.put((answer, future))
        return future.result()

    def _run(self) -> None:
        while (first := self._queue.get()) is not _STOP:
            batch = [first]
            stopping = False
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)
            self._write(batch)
            if stopping:
                return

    def _write(self, batch: list[tuple[Answer, Future]]) -> None:
        outcomes: list[Recorded | BaseException] = []
        try:
            with write_session() as session:
                for answer, _ in batch:
                    claimed = answer.claimed
                    with log_context(request_id=claimed.request_id, callback_id=claimed.id):
                        try:
                            with session.begin_nested():
                                outcomes.append(record_answer(session, answer=answer))
                        except Exception as error:
                            outcomes.append(error)
        except Exception as error:
            log.exception("%s answer(s) could not be recorded; they are asked again", len(batch))
            for _, future in batch:
                future.set_exception(error)
            return
        self.batches_written += 1
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
