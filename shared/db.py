"""One engine per process, SQLite tuned for two processes sharing a file, PostgreSQL by URL.

Write transactions on SQLite begin as IMMEDIATE: a deferred transaction that reads and
then writes fails at once with "database is locked" when another process got there first,
while an immediate one waits for the busy timeout instead.

Who commits (the transaction rule):

- A domain function that takes a ``session`` works inside its caller's transaction: it
  may flush, but never commits, rolls back or opens a ``write_session()`` of its own. So
  a page can combine such functions, and whatever one of them refuses (a
  ``ValidationError``) undoes all of them.
- The unit of work belongs to the outermost caller: a page action (through
  ``dashboard.ui.page_action``), a route of the callback service, a CLI command or a
  worker. It opens the ``write_session()``, which commits on success and rolls back on
  any error.
- A shared function without a ``session`` parameter is itself such an outermost caller
  and opens its own ``write_session()``, one per step that must stand on its own: a
  step before and one after an e-mail or an EveryPay call (which must never hold the
  write lock), or one per bank transaction matched, so one refusal does not undo the
  others. Callers open no transaction around it.

``tests/unit/test_transactions.py`` holds ``shared/`` to the first point.
"""

import fcntl
import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from shared.config import get_settings
from shared.security import create_private_file, make_private

SQLITE_BUSY_TIMEOUT_MS = 10_000

_engines: dict[str, Engine] = {}


class DatabaseBusy(Exception):
    """The database did not take a write within the wait the caller allowed."""


class SqliteWriterQueue:
    """Writers of one SQLite file take turns here, woken the moment the one before them
    commits, instead of polling in SQLite's busy handler, which sleeps up to 100 ms
    between tries and so turns contention into long tail latencies.

    Threads of a process queue on a lock; processes (the callback service, its worker
    process, the dashboard) on an ``flock`` of a file beside the database, which the
    kernel hands over at once. Re-entrant: a write transaction opened inside another
    (same thread) does not wait for itself.
    """

    def __init__(self, lock_path: Path | None) -> None:
        self._lock_path = lock_path
        self._threads = threading.RLock()
        self._depth = 0  # changed only by the thread holding ``_threads``
        self._fd: int | None = None
        self._taker: _FileLockTaker | None = None  # as ``_depth``

    @contextmanager
    def turn(self, *, deadline: float | None = None) -> Iterator[None]:
        """Waits for this thread's turn; with a ``deadline`` (``time.monotonic``) raises
        ``DatabaseBusy`` instead of waiting past it."""
        wait = -1 if deadline is None else max(deadline - time.monotonic(), 0)
        if not self._threads.acquire(timeout=wait):
            raise DatabaseBusy("another thread of this process kept the database's write lock")
        try:
            self._depth += 1
            outermost = self._depth == 1 and self._lock_path is not None
            held = self._lock_file(deadline) if outermost else None
            try:
                yield
            finally:
                if held is not None:
                    fcntl.flock(held, fcntl.LOCK_UN)
                    if held != self._fd:
                        os.close(held)
        finally:
            self._depth -= 1
            self._threads.release()

    def _lock_file(self, deadline: float | None) -> int:
        """Takes the file lock; returns the descriptor that holds it."""
        if deadline is None:
            fcntl.flock(self._file(), fcntl.LOCK_EX)
            return self._file()
        try:
            fcntl.flock(self._file(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return self._file()
        except BlockingIOError:
            pass
        assert self._lock_path is not None
        while True:
            if self._taker is None:
                self._taker = _FileLockTaker(self._lock_path)
            taken = self._taker.wait(deadline)
            if taken is None:
                self._taker = None
                continue
            if not taken:
                raise DatabaseBusy("another process kept the database's write lock")
            held, self._taker = self._taker.fd, None
            return held

    def _file(self) -> int:
        if self._fd is None:
            assert self._lock_path is not None
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd


class _FileLockTaker:
    """Takes the file lock for waiters with a deadline.

    ``flock`` has no timeout, and polling it with LOCK_NB would lose every hand-over to
    the processes blocked in it. So a thread blocks in it, on a file description of its
    own (a lock held through the shared one could not be told apart). A waiter that gives
    up leaves the thread blocked for the next waiter, so a long outage costs one thread,
    not one per request; if nobody waits when the lock comes, it is let go at once.
    Waiters of one process come one at a time (they hold the queue's thread lock).
    """

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self.closed = False
        self._taken = threading.Event()
        self._decided = threading.Lock()
        self._waiting = True  # made for a waiter that waits at once
        threading.Thread(target=self._take, name="sqlite-writer-lock", daemon=True).start()

    def _take(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        with self._decided:
            if self._waiting:
                self._taken.set()
                return
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.closed = True

    def wait(self, deadline: float) -> bool | None:
        """True: the lock is the caller's (on ``fd``); False: not by the deadline; None:
        this taker is finished, use a new one."""
        with self._decided:
            if self.closed:
                return None
            self._waiting = True
        self._taken.wait(max(deadline - time.monotonic(), 0))
        with self._decided:
            self._waiting = False
            return self._taken.is_set()


_writer_queues: dict[str, SqliteWriterQueue] = {}
_writer_queues_lock = threading.Lock()


def _writer_queue(engine: Engine) -> SqliteWriterQueue:
    database = engine.url.database or ""
    with _writer_queues_lock:
        if database not in _writer_queues:
            on_disk = database not in ("", ":memory:") and not database.startswith("file:")
            lock_path = Path(f"{database}.writer-lock") if on_disk else None
            _writer_queues[database] = SqliteWriterQueue(lock_path)
        return _writer_queues[database]


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        # The driver's own transaction handling would begin DEFERRED transactions behind
        # our back; we emit BEGIN ourselves below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        options = connection.get_execution_options()
        # A bounded write waits for other writers no longer than its caller allows.
        busy_ms = options.get("sqlite_busy_ms", SQLITE_BUSY_TIMEOUT_MS)
        if connection.info.get("busy_ms", SQLITE_BUSY_TIMEOUT_MS) != busy_ms:
            connection.exec_driver_sql(f"PRAGMA busy_timeout = {int(busy_ms)}")
            connection.info["busy_ms"] = busy_ms
        # FULL: a commit returns once the WAL is on disk. NORMAL (WAL mode's usual choice)
        # can lose the last commits on power loss, among them callbacks EveryPay was
        # told were received. SQLite refuses to change this inside a transaction, so each
        # BEGIN sets what its transaction needs (see write_session's ``durable``).
        synchronous = "FULL" if options.get("sqlite_durable", True) else "NORMAL"
        info = connection.connection.info
        if info.get("synchronous") != synchronous:
            connection.exec_driver_sql(f"PRAGMA synchronous = {synchronous}")
            info["synchronous"] = synchronous
        connection.exec_driver_sql(f"BEGIN {options.get('sqlite_begin', 'DEFERRED')}")


def create_db_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            # SQLite gives the -wal and -shm files the database file's mode.
            create_private_file(Path(database))
            for companion in (f"{database}-wal", f"{database}-shm"):
                make_private(Path(companion))
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        )
        _configure_sqlite(engine)
        return engine
    # Room for the callback worker's database threads (its claimers and answer writers)
    # and the periodic jobs without opening and closing overflow connections on every
    # busy second. An
    # unreachable server or an exhausted pool fails within the write wait instead of
    # hanging a request for minutes.
    wait = get_settings().database_wait_seconds
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=20,
        max_overflow=10,
        pool_timeout=wait,
        connect_args={"connect_timeout": max(math.ceil(wait), 2)},
    )


def get_engine(url: str | None = None) -> Engine:
    url = url or get_settings().resolved_database_url
    if url not in _engines:
        _engines[url] = create_db_engine(url)
    return _engines[url]


def dispose_engines() -> None:
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def is_sqlite(engine: Engine | None = None) -> bool:
    return (engine or get_engine()).dialect.name == "sqlite"


@contextmanager
def read_session() -> Iterator[Session]:
    """A session for reading; objects stay usable after it closes."""
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


@contextmanager
def write_session(
    *, max_wait_seconds: float | None = None, durable: bool = True
) -> Iterator[Session]:
    """A short write transaction: committed on success, rolled back on any error.

    With ``max_wait_seconds``, waiting for other writers (SQLite's writer queue and busy
    lock; PostgreSQL's row and table locks, and each statement) is bounded: past it the
    write fails with ``DatabaseBusy`` or the driver's OperationalError instead of waiting.

    Commits wait until they are on disk. ``durable=False`` is for a transaction whose loss
    in a crash only means doing it again (a worker's claim): it commits without the fsync.
    """
    deadline = None if max_wait_seconds is None else time.monotonic() + max_wait_seconds
    engine = get_engine()
    sqlite = engine.dialect.name == "sqlite"
    with ExitStack() as stack:
        if sqlite:
            stack.enter_context(_writer_queue(engine).turn(deadline=deadline))
            options: dict[str, object] = {"sqlite_begin": "IMMEDIATE", "sqlite_durable": durable}
            if deadline is not None:
                options["sqlite_busy_ms"] = _remaining_ms(deadline)
            engine = engine.execution_options(**options)
        session = stack.enter_context(Session(engine, expire_on_commit=False))
        try:
            if deadline is not None and not sqlite:
                wait = str(_remaining_ms(deadline))
                session.execute(
                    text(
                        "SELECT set_config('lock_timeout', :wait, true), "
                        "set_config('statement_timeout', :wait, true)"
                    ),
                    {"wait": wait},
                )
            if not durable and not sqlite:
                session.exec(text("SET LOCAL synchronous_commit TO OFF"))
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _remaining_ms(deadline: float) -> int:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DatabaseBusy("no time left to wait for the database")
    return max(int(remaining * 1000), 1)
