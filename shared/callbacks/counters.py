"""What a callback worker process (callback worker and reconciler) has done since it
started, for ``/metrics``.

Workers run in the service's child process, or on other machines, so their counters cannot
be read from the process that answers ``/metrics``: each worker process writes its own with
its heartbeat (``WorkerHeartbeat.counters``), and ``/metrics`` lists every live worker's,
labelled by worker. Like every Prometheus counter they start at zero with the process.
"""

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from shared.linkpay.client import ApiResult

# How one claimed callback ended, as /metrics labels it.
APPLIED = "applied"  # EveryPay's answer was applied to one of our payments
NOT_OURS = "not_ours"  # the answer names no invoice of ours (or a vanished channel)
UNKNOWN_REFERENCE = "unknown_reference"  # EveryPay does not know the reference
RETRY = "retry"  # no usable answer: tried again later
ERROR = "error"  # an internal error: back on the queue


@dataclass
class WorkerCounters:
    """Counted from many caller threads at once, hence the lock."""

    callbacks: Counter[str] = field(default_factory=Counter)
    api_calls: Counter[str] = field(default_factory=Counter)
    api_seconds: float = 0.0
    bookings: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def callback_done(self, result: str) -> None:
        with self._lock:
            self.callbacks[result] += 1

    def answer_applied(self, *, money_moved: bool) -> None:
        """An EveryPay answer applied, by the worker or the reconciler."""
        with self._lock:
            self.bookings += int(money_moved)

    def api_call(self, outcome: str, *, seconds: float) -> None:
        with self._lock:
            self.api_calls[outcome] += 1
            self.api_seconds += seconds

    def snapshot(self) -> dict[str, object]:
        """A plain copy for the heartbeat row (JSON)."""
        with self._lock:
            return {
                "callbacks": dict(self.callbacks),
                "api_calls": dict(self.api_calls),
                "api_seconds": round(self.api_seconds, 6),
                "bookings": self.bookings,
            }


# This process's worker: one per process, as the worker itself is.
WORKER_COUNTERS = WorkerCounters()


def ask_everypay(ask: Callable[[], ApiResult]) -> ApiResult:
    """Asks EveryPay about a payment and counts the call, its outcome and its time."""
    started = time.perf_counter()
    result = ask()
    WORKER_COUNTERS.api_call(result.outcome.value, seconds=time.perf_counter() - started)
    return result
