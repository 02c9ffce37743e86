"""Report figures that never make a visitor wait for their refresh.

``st.cache_data`` forgets a result when its time is up, so the first visitor after that
waits for the report queries again (about half a second each on a million invoices). A
``refreshed_in_background`` function instead keeps answering with the figures it has and,
once they are older than ``ttl``, recomputes them in a background thread: the figures are
as fresh as before (at most ``ttl`` plus one refresh old), and only the very first call for
a set of arguments runs the queries while the visitor waits.

Invariants:
- one refresh at a time per set of arguments (a crowd of visitors starts one thread);
- a refresh that fails keeps the old figures and is tried again on a later call;
- ``clear()`` (after a write in the dashboard) makes the next call compute afresh, so a
  person sees their own change at once; a refresh that was already running when ``clear()``
  was called does not put its older figures back.
"""

import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, ParamSpec, TypeVar

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# Sets of arguments kept per function (dates, time zones, periods): the least recently used
# go first, so a long-running dashboard does not keep every day it was ever asked about.
MAX_ENTRIES = 64

_all: list["RefreshedInBackground[Any, Any]"] = []


class RefreshedInBackground(Generic[P, R]):
    def __init__(
        self,
        compute: Callable[P, R],
        *,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        start: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self._compute = compute
        self._ttl = ttl
        self._clock = clock
        self._start = start or _start_daemon_thread
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[R, float]] = OrderedDict()
        self._refreshing: set[Hashable] = set()
        self._generation = 0
        self._name = getattr(compute, "__qualname__", type(compute).__name__)
        functools.update_wrapper(self, compute)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        key = (args, tuple(sorted(kwargs.items())))
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                value, computed_at = entry
                stale = self._clock() - computed_at > self._ttl
                if stale and key not in self._refreshing:
                    self._refreshing.add(key)
                    generation = self._generation
                    self._start(lambda: self._refresh(key, generation, args, kwargs))
                return value
            generation = self._generation
        value = self._compute(*args, **kwargs)
        self._store(key, generation, value)
        return value

    def _refresh(self, key: Hashable, generation: int, args: tuple, kwargs: dict) -> None:
        try:
            value = self._compute(*args, **kwargs)
        except Exception:
            logger.exception("refreshing %s failed; its last figures stay", self._name)
            with self._lock:
                self._refreshing.discard(key)
            return
        self._store(key, generation, value)

    def _store(self, key: Hashable, generation: int, value: R) -> None:
        with self._lock:
            self._refreshing.discard(key)
            if generation != self._generation:
                return  # computed before a clear(): older than what the person just did
            self._entries[key] = (value, self._clock())
            self._entries.move_to_end(key)
            while len(self._entries) > MAX_ENTRIES:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._refreshing.clear()
            self._generation += 1


def _start_daemon_thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="report-refresh", daemon=True).start()


def refreshed_in_background(
    *, ttl: float
) -> Callable[[Callable[P, R]], RefreshedInBackground[P, R]]:
    def wrap(compute: Callable[P, R]) -> RefreshedInBackground[P, R]:
        refreshed = RefreshedInBackground(compute, ttl=ttl)
        _all.append(refreshed)
        return refreshed

    return wrap


def clear_all() -> None:
    """After a write: every report computes afresh at its next call."""
    for refreshed in _all:
        refreshed.clear()
