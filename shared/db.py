"""One engine per process, SQLite tuned for two processes sharing a file, PostgreSQL by URL.

Write transactions on SQLite begin as IMMEDIATE: a deferred transaction that reads and
then writes fails at once with "database is locked" when another process got there first,
while an immediate one waits for the busy timeout instead.
"""

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from shared.config import get_settings
from shared.security import create_private_file, make_private

SQLITE_BUSY_TIMEOUT_MS = 10_000

_engines: dict[str, Engine] = {}


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

    @contextmanager
    def turn(self) -> Iterator[None]:
        with self._threads:
            self._depth += 1
            outermost = self._depth == 1 and self._lock_path is not None
            try:
                if outermost:
                    fcntl.flock(self._file(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    if outermost:
                        fcntl.flock(self._file(), fcntl.LOCK_UN)
            finally:
                self._depth -= 1

    def _file(self) -> int:
        if self._fd is None:
            assert self._lock_path is not None
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd


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
    # Room for the callback worker's threads (12 on PostgreSQL) and the periodic jobs
    # without opening and closing overflow connections on every busy second.
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=10)


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
def write_session(*, durable: bool = True) -> Iterator[Session]:
    """A short write transaction: committed on success, rolled back on any error.

    Commits wait until they are on disk. ``durable=False`` is for a transaction whose loss
    in a crash only means doing it again (a worker's claim): it commits without the fsync.
    """
    engine = get_engine()
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        engine = engine.execution_options(sqlite_begin="IMMEDIATE", sqlite_durable=durable)
    with (
        _writer_queue(engine).turn() if sqlite else nullcontext(),
        Session(engine, expire_on_commit=False) as session,
    ):
        try:
            if not durable and not sqlite:
                session.exec(text("SET LOCAL synchronous_commit TO OFF"))
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
