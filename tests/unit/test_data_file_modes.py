"""Data files hold customer data and credentials: readable and writable by their owner
only (0600), whatever the umask, and files made before this rule are narrowed."""

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from sandbox.store import SandboxStore
from shared.config import get_settings
from shared.db import dispose_engines, get_engine, write_session
from shared.models import Customer
from shared.operations.demo_smtp import save_to_outbox
from shared.operations.migrate import upgrade_to_head
from shared.security import encrypt_secret, reset_key_cache


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def default_umask() -> Iterator[None]:
    """The umask most systems start services with: group and others may read."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_sqlite_database_its_wal_and_shm_and_the_key_file_are_0600(isolated_settings) -> None:
    upgrade_to_head()
    with write_session() as session:
        session.add(Customer(name="Northwind Ltd"))
    encrypt_secret("a secret")
    data_dir = get_settings().data_dir

    files = {path.name: _mode(path) for path in data_dir.iterdir() if path.is_file()}

    assert {"linkpay.db", "linkpay.db-wal", "linkpay.db-shm", "secret.key"} <= set(files)
    assert set(files.values()) == {0o600}, files


def test_a_database_file_made_before_the_rule_is_narrowed(isolated_settings) -> None:
    upgrade_to_head()
    dispose_engines()
    database = get_settings().data_dir / "linkpay.db"
    os.chmod(database, 0o644)

    get_engine()

    assert _mode(database) == 0o600


def test_sandbox_store_is_0600(tmp_path) -> None:
    store = SandboxStore(tmp_path / "sandbox.db")
    store.create_merchant(name="Demo shop", api_secret="sandbox-secret-123456")

    modes = {path.name: _mode(path) for path in tmp_path.glob("sandbox.db*")}

    assert "sandbox.db" in modes
    assert set(modes.values()) == {0o600}, modes


def test_outbox_mails_are_0600(tmp_path) -> None:
    saved = save_to_outbox(b"Subject: Invoice INV-2026-0001\r\n\r\nHello", directory=tmp_path)

    assert _mode(saved) == 0o600


def test_a_key_file_made_before_the_rule_is_narrowed(isolated_settings) -> None:
    encrypt_secret("a secret")
    key_file = get_settings().resolved_secret_key_file
    os.chmod(key_file, 0o644)
    reset_key_cache()

    encrypt_secret("another secret")

    assert _mode(key_file) == 0o600
