"""``linkpay-desk rotate-key``: a new secret key, every stored secret re-encrypted under it.

The steps, each safe to crash after:

1. The new key is put first in the key file, the old one kept after it. From here on every
   process encrypts with the new key and still decrypts the old ciphertexts.
2. Transactions that began before step 1 may still commit a ciphertext made with the old
   key: on PostgreSQL the rotation waits for them to end. (On SQLite every secret is
   encrypted inside a write transaction, and step 3 waits for the write lock anyway.)
3. One transaction re-encrypts every stored secret that is not under the new key yet. A
   crash rolls it back; the key file still holds both keys.
4. A second look finds nothing left under an old key.
5. The old keys leave the key file.

Run again after a crash, the command sees more than one key in the file and finishes the
rotation that was started instead of beginning another one.
"""

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from cryptography.fernet import Fernet
from sqlalchemy import bindparam, column, select, table, text, update

from shared.config import get_settings
from shared.db import get_engine, is_sqlite, write_session
from shared.security import (
    ciphertext_prefix,
    decrypt_secret,
    encrypt_secret,
    key_id,
    read_keys,
    write_keys,
)

# Every column that holds a ciphertext, by table.
ENCRYPTED_COLUMNS: dict[str, tuple[str, ...]] = {
    "payment_channel": ("api_secret_encrypted", "callback_token_encrypted"),
    "invoice": ("public_token_encrypted",),
}
_BATCH = 1000
# A session left idle in a transaction must not hold a rotation forever: after this long
# the rotation goes on, and step 4 still re-encrypts what such a session has committed.
OLDER_TRANSACTIONS_WAIT = 30.0


class RotationBusyError(RuntimeError):
    """Another rotate-key holds the key file."""


@dataclass(frozen=True)
class RotationReport:
    new_key_id: str
    retired_key_ids: list[str]
    reencrypted: int
    resumed: bool

    def __str__(self) -> str:
        start = "Finished an interrupted key rotation" if self.resumed else "Rotated the secret key"
        retired = ", ".join(f"k{kid}" for kid in self.retired_key_ids) or "none"
        return (
            f"{start}: new key k{self.new_key_id}, {self.reencrypted} stored secrets "
            f"re-encrypted, retired key(s): {retired}."
        )


@contextmanager
def _rotation_lock() -> Iterator[None]:
    path = get_settings().resolved_secret_key_file
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(f".{path.name}.rotate-lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RotationBusyError("Another rotate-key is running.") from None
        yield
    finally:
        os.close(fd)


def _reencrypt_pass(prefix: str) -> int:
    """Re-encrypts, in one transaction, every ciphertext that does not start with ``prefix``."""
    changed = 0
    with write_session() as session:
        connection = session.connection()
        for table_name, columns in ENCRYPTED_COLUMNS.items():
            for name in columns:
                rows = table(table_name, column("id"), column(name))
                stale = rows.c[name] != "", ~rows.c[name].startswith(prefix, autoescape=True)
                last_id = 0
                while True:
                    batch = connection.execute(
                        select(rows.c.id, rows.c[name])
                        .where(rows.c.id > last_id, *stale)
                        .order_by(rows.c.id)
                        .limit(_BATCH)
                    ).all()
                    if not batch:
                        break
                    connection.execute(
                        update(rows)
                        .where(rows.c.id == bindparam("row_id"))
                        .values({name: bindparam("ciphertext")}),
                        [
                            {"row_id": row_id, "ciphertext": encrypt_secret(decrypt_secret(value))}
                            for row_id, value in batch
                        ],
                    )
                    changed += len(batch)
                    last_id = batch[-1][0]
    return changed


def _wait_for_older_transactions(*, timeout_seconds: float = OLDER_TRANSACTIONS_WAIT) -> None:
    """Waits (bounded) until no PostgreSQL transaction that began before now is open."""
    engine = get_engine()
    if is_sqlite(engine):
        return
    with engine.connect() as connection:
        since = connection.execute(text("SELECT clock_timestamp()")).scalar()
        connection.rollback()
        older = text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
            "AND xact_start < :since"
        )
        deadline = time.monotonic() + timeout_seconds
        while connection.execute(older, {"since": since}).scalar() and (
            time.monotonic() < deadline
        ):
            connection.rollback()  # each look in a fresh snapshot of pg_stat_activity
            time.sleep(0.05)


def rotate_key() -> RotationReport:
    path = get_settings().resolved_secret_key_file
    with _rotation_lock():
        keys = read_keys(path)
        resumed = len(keys) > 1
        if not resumed:
            keys = [Fernet.generate_key(), *keys]
            write_keys(path, keys)
        _wait_for_older_transactions()
        new_key, old_keys = keys[0], keys[1:]
        prefix = ciphertext_prefix(new_key)
        reencrypted = _reencrypt_pass(prefix)
        reencrypted += _reencrypt_pass(prefix)
        write_keys(path, [new_key])
    return RotationReport(
        new_key_id=key_id(new_key),
        retired_key_ids=[key_id(key) for key in old_keys],
        reencrypted=reencrypted,
        resumed=resumed,
    )
