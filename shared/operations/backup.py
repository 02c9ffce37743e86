"""Backups a finance team can restore: the database and the key file, checksummed, with a
manifest that says what they hold.

A backup is a folder ``linkpay-backup-<UTC time>`` with 0700 permissions holding:

- the database: SQLite through its online backup API (a consistent snapshot taken while the
  callback service keeps writing; copying the file would tear a WAL database), PostgreSQL
  through ``pg_dump --format=custom`` (one snapshot transaction);
- ``secret.key``: without it the API secrets and tokens in the database cannot be read, so a
  database backup alone would restore a company that cannot take payments;
- ``manifest.json``: format, backend, schema revision, the app's version, row counts a person
  can compare, and the SHA-256 of every file.

Restore checks every checksum and refuses a backup of another schema revision or backend
before it touches anything, then puts the current database and key aside (a backup of its own
in ``DATA_DIR/before-restore-<UTC time>``) so a restore is never the last copy of anything.
Stop the services first: a restore replaces the database under them.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine, make_url

from shared.config import get_settings
from shared.db import dispose_engines, get_engine
from shared.operations.migrate import database_revision, head_revision
from shared.security import reset_key_cache

FORMAT = "linkpay-desk-backup/1"
MANIFEST = "manifest.json"
KEY_FILE = "secret.key"
SQLITE_FILE = "linkpay.db"
POSTGRES_FILE = "linkpay.pgdump"
# Tables a person recognises: the counts in the manifest let them see at a glance that a
# backup holds their year, not an empty database.
COUNTED_TABLES = ("invoice", "payment_attempt", "callback_event", "customer", "audit_log")


class BackupError(RuntimeError):
    """A backup or restore that cannot be done, with what to do about it."""


@dataclass(frozen=True)
class Manifest:
    path: Path
    backend: str
    schema_revision: str
    created_at: str
    files: dict[str, str]
    row_counts: dict[str, int]


def _new_folder_name(parent: Path, prefix: str, now: datetime | None) -> Path:
    """``prefix-<UTC time>``, with a counter when two are made in the same second."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    candidate = parent / f"{prefix}-{stamp}"
    counter = 2
    while candidate.exists():
        candidate = parent / f"{prefix}-{stamp}-{counter}"
        counter += 1
    return candidate


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _row_counts(engine: Engine) -> dict[str, int]:
    present = set(inspect(engine).get_table_names())
    with engine.connect() as connection:
        return {
            table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608 — names from the constant above
            for table in COUNTED_TABLES
            if table in present
        }


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password (kept out of the process list) and
    the environment that carries it."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _run_pg_tool(arguments: list[str], *, env: dict[str, str]) -> None:
    tool = arguments[0]
    if shutil.which(tool) is None:
        raise BackupError(
            f"{tool} is not installed: install the PostgreSQL client of the server's version "
            "(Debian: apt-get install postgresql-client)."
        )
    done = subprocess.run(arguments, env=env, capture_output=True, text=True, check=False)  # noqa: S603 — fixed tool, our arguments
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.strip() or done.stdout.strip()}")


def _sqlite_copy(source_path: Path, destination_path: Path) -> None:
    """SQLite's online backup API: a consistent copy while writers keep going."""
    source = sqlite3.connect(source_path)
    try:
        destination = sqlite3.connect(destination_path)
        try:
            source.backup(destination)
        finally:
            destination.close()
    finally:
        source.close()


def _dump_database(engine: Engine, target: Path) -> str:
    if engine.dialect.name == "sqlite":
        _sqlite_copy(Path(engine.url.database or ""), target / SQLITE_FILE)
        return SQLITE_FILE
    file_path = target / POSTGRES_FILE
    connection, env = _libpq(engine.url.render_as_string(hide_password=False))
    _run_pg_tool(
        ["pg_dump", "--format=custom", "--no-owner", f"--file={file_path}", connection], env=env
    )
    return POSTGRES_FILE


def _write_backup(engine: Engine, *, folder: Path, key_file: Path) -> Manifest:
    revision = database_revision()
    if revision is None:
        raise BackupError("The database has no LinkPay Desk schema yet: nothing to back up.")
    old_umask = os.umask(0o077)
    try:
        folder.mkdir(parents=True, exist_ok=False)
        database_file = _dump_database(engine, folder)
        names = [database_file]
        if key_file.is_file():
            shutil.copyfile(key_file, folder / KEY_FILE)
            names.append(KEY_FILE)
        manifest = Manifest(
            path=folder,
            backend=engine.dialect.name,
            schema_revision=revision,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            files={name: _sha256(folder / name) for name in names},
            row_counts=_row_counts(engine),
        )
        body = {
            "format": FORMAT,
            "app_version": metadata.version("linkpay-desk"),
            "backend": manifest.backend,
            "schema_revision": manifest.schema_revision,
            "created_at": manifest.created_at,
            "files": manifest.files,
            "row_counts": manifest.row_counts,
        }
        (folder / MANIFEST).write_text(json.dumps(body, indent=2) + "\n", encoding="utf-8")
    finally:
        os.umask(old_umask)
    return manifest


def create_backup(*, destination: Path, now: datetime | None = None) -> Manifest:
    """Backs the current database and key file up into a new folder under ``destination``."""
    settings = get_settings()
    folder = _new_folder_name(destination.expanduser().resolve(), "linkpay-backup", now)
    return _write_backup(get_engine(), folder=folder, key_file=settings.resolved_secret_key_file)


def read_manifest(*, source: Path) -> Manifest:
    """The backup's manifest, after checking every file against its checksum."""
    manifest_path = source / MANIFEST
    try:
        body = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise BackupError(f"{source} is not a LinkPay Desk backup: no {MANIFEST}.") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BackupError(f"{manifest_path} is damaged: {error}.") from error
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise BackupError(f"{source} is not a backup this version of LinkPay Desk can read.")
    files = body.get("files") or {}
    for name, checksum in files.items():
        path = source / Path(name).name
        if not path.is_file():
            raise BackupError(f"The backup is incomplete: {path.name} is missing.")
        if _sha256(path) != checksum:
            raise BackupError(f"The backup is damaged: {path.name} does not match its checksum.")
    return Manifest(
        path=source,
        backend=str(body.get("backend")),
        schema_revision=str(body.get("schema_revision")),
        created_at=str(body.get("created_at")),
        files=dict(files),
        row_counts=dict(body.get("row_counts") or {}),
    )


def _check_restorable(manifest: Manifest, engine: Engine) -> None:
    if manifest.backend != engine.dialect.name:
        raise BackupError(
            f"This is a {manifest.backend} backup and LINKPAY_DATABASE_URL points at "
            f"{engine.dialect.name}: restore it into a {manifest.backend} database."
        )
    expected = head_revision()
    if manifest.schema_revision != expected:
        raise BackupError(
            f"The backup is at schema revision {manifest.schema_revision}, this LinkPay Desk "
            f"is at {expected}: restore it with the release that made it, then upgrade "
            "with `linkpay-desk init-db`."
        )


def _restore_database(manifest: Manifest, engine: Engine) -> None:
    if engine.dialect.name == "sqlite":
        database = Path(engine.url.database or "")
        database.parent.mkdir(parents=True, exist_ok=True)
        dispose_engines()
        # The backup API writes through SQLite's own locking, so a WAL file left by the
        # previous database is replaced consistently instead of being replayed over it.
        _sqlite_copy(manifest.path / SQLITE_FILE, database)
        os.chmod(database, 0o600)
        return
    connection, env = _libpq(engine.url.render_as_string(hide_password=False))
    dispose_engines()
    _run_pg_tool(
        [
            "pg_restore",
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--dbname={connection}",
            str(manifest.path / POSTGRES_FILE),
        ],
        env=env,
    )


@dataclass(frozen=True)
class RestoreResult:
    restored: Manifest
    previous: Manifest | None


def restore_backup(*, source: Path, now: datetime | None = None) -> RestoreResult:
    """Replaces the database and key file with a backup's, keeping the current ones aside."""
    settings = get_settings()
    manifest = read_manifest(source=source.expanduser().resolve())
    engine = get_engine()
    _check_restorable(manifest, engine)
    previous = None
    if database_revision() is not None:
        previous = _write_backup(
            engine,
            folder=_new_folder_name(settings.data_dir, "before-restore", now),
            key_file=settings.resolved_secret_key_file,
        )
    _restore_database(manifest, engine)
    if KEY_FILE in manifest.files:
        key_file = settings.resolved_secret_key_file
        key_file.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(manifest.path / KEY_FILE, key_file)
        os.chmod(key_file, 0o600)
        reset_key_cache()
    return RestoreResult(restored=manifest, previous=previous)
