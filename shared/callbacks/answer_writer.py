"""Group commit for EveryPay's answers: one transaction records many.

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
- Order and money are unchanged: a writer applies its answers one after another through
  the one guard (``apply_payment_status``), in the order they reached it, inside one
  transaction; the guard's row locks keep writers that run side by side apart.

PostgreSQL takes writers in parallel, yet a hundred callers each recording its own answer
cost more than the work: every transaction checked a connection out of the pool (past the
pool's size, opened and closed one: a server process per answer), began, committed, and
between any two statements its thread queued for the GIL behind the others. At 50 payments
a second on two shared cores the background process then needed more CPU than it got, and
callback → paid grew to seconds (benchmarks, scenario 2). So PostgreSQL records batches
too, on a few writer threads whose round trips to the server overlap:
- answers about one payment (duplicate callbacks, the same payment asked about twice) go
  to the same writer, one after the other in its batch, never into two writers at once;
- a lock cycle left (two invoices each with two payments at the same moment, in opposite
  orders in two writers' batches) is broken by the server, which fails one answer's
  savepoint: that answer is asked again later, as any answer that could not be recorded.
  Routing by invoice is not possible before the answer is matched: an order reference
  "INV-2026-0042-2" may be that invoice or a partial payment of INV-2026-0042.
"""

import logging
import queue
import threading
import zlib
from concurrent.futures import Future

from shared.callbacks.processing import Answer, Recorded, record_answer
from shared.db import is_sqlite, write_session
from shared.log_context import log_context

log = logging.getLogger(__name__)

# Bounds one transaction. On SQLite a batch holds the one write lock that intake's commits
# (the acknowledgements EveryPay waits for) queue behind: at most 3 answers a batch took
# intake's flat-out rate with the workers busy from 0.35-0.40x to 0.49-0.53x of a bare
# endpoint, for a third fewer answers a second on a backlog (still five times 50/s).
# PostgreSQL has no such lock, and a batch of 10 spreads its commit over more answers.
SQLITE_MAX_BATCH = 3
POSTGRES_MAX_BATCH = 10
# Writer threads on PostgreSQL: enough that one batch's round trips to the server overlap
# another's Python; SQLite has one writer at a time, so one thread.
POSTGRES_WRITERS = 3

_STOP = None

Queue = queue.SimpleQueue[tuple[Answer, Future] | None]


def default_writer_count() -> int:
    return 1 if is_sqlite() else POSTGRES_WRITERS


def default_max_batch() -> int:
    return SQLITE_MAX_BATCH if is_sqlite() else POSTGRES_MAX_BATCH


def writer_index(payment_reference: str, *, writers: int) -> int:
    """Which writer records answers about this payment: always the same one (EveryPay's
    references are case-insensitive), and the payments spread over all of them."""
    return zlib.crc32(payment_reference.lower().encode()) % writers


class AnswerWriter:
    """Threads that record the answers callers hand them, a batch per transaction."""

    def __init__(self, *, writers: int | None = None, max_batch: int | None = None) -> None:
        self._max_batch = max_batch or default_max_batch()
        count = writers or default_writer_count()
        self._queues: list[Queue] = [queue.SimpleQueue() for _ in range(count)]
        self._threads: list[threading.Thread] = []
        self.batches_written = 0  # transactions committed: how much the batching saves
        self._count_lock = threading.Lock()

    def start(self) -> None:
        for index, answers in enumerate(self._queues):
            thread = threading.Thread(
                target=self._run, args=(answers,), name=f"answer-writer-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, *, timeout: float = 15.0) -> None:
        """Records what is queued, then ends the threads."""
        for answers in self._queues:
            answers.put(_STOP)
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    @property
    def alive(self) -> bool:
        return bool(self._threads) and all(thread.is_alive() for thread in self._threads)

    def record(self, answer: Answer) -> Recorded:
        """Waits until the answer is committed; raises what recording it raised."""
        future: Future[Recorded] = Future()
        writer = writer_index(answer.claimed.payment_reference, writers=len(self._queues))
        self._queues[writer].put((answer, future))
        return future.result()

    def _run(self, answers: Queue) -> None:
        while (first := answers.get()) is not _STOP:
            batch = [first]
            stopping = False
            while len(batch) < self._max_batch:
                try:
                    item = answers.get_nowait()
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
        with self._count_lock:
            self.batches_written += 1
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)
