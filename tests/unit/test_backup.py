"""`linkpay-desk backup` and `restore`: a backup taken while callbacks keep arriving holds every
callback acknowledged before it started, restores elsewhere, and a bad backup changes nothing."""

import json
import os
import stat
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlmodel import select

from shared.config import PROJECT_ROOT, get_settings
from shared.db import dispose_engines, read_session
from shared.models import CallbackEvent, Customer
from shared.operations.backup import BackupError, create_backup, restore_backup
from shared.operations.migrate import upgrade_to_head
from shared.security import reset_key_cache
from tests.callbacks.helpers import make_shop
from tests.conftest import postgres_base_url
from tests.utils.callback_service import (
    new_reference,
    running_fake_everypay,
    running_service_process,
    wait_until,
)
from tests.utils.factories import make_customer


def _point_at(monkeypatch: pytest.MonkeyPatch, *, data_dir: Path, database_url: str) -> None:
    monkeypatch.setenv("LINKPAY_DATA_DIR", str(data_dir))
    monkeypatch.setenv("LINKPAY_DATABASE_URL", database_url)
    dispose_engines()
    get_settings.cache_clear()
    reset_key_cache()


@contextmanager
def _another_database(first_url: str, data_dir: Path) -> Iterator[str]:
    """An empty database of the same backend as ``first_url``: where a restore lands."""
    if make_url(first_url).get_backend_name() == "sqlite":
        yield f"sqlite:///{data_dir / 'linkpay.db'}"
        return
    base = postgres_base_url()
    assert base
    name = f"linkpay_restore_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        dispose_engines()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _customer_names() -> set[str]:
    with read_session() as session:
        return set(session.exec(select(Customer.name)).all())


@pytest.mark.slow
def test_backup_under_callback_load_restores_every_acknowledged_callback_elsewhere(
    any_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_fake_everypay() as everypay:
        shop = make_shop(api_base=everypay.url)
        acknowledged: list[tuple[float, str]] = []
        stop = threading.Event()

        with running_service_process(log_path=tmp_path / "service.log") as service:

            def send_callbacks() -> None:
                with httpx.Client(timeout=10) as client:
                    while not stop.is_set():
                        reference = new_reference()
                        response = client.get(
                            f"{service.base_url}/callbacks/linkpay/{shop.token}",
                            params={
                                "payment_reference": reference,
                                "order_reference": shop.invoice.number,
                            },
                        )
                        if response.status_code == 200:
                            acknowledged.append((time.monotonic(), reference))

            sender = threading.Thread(target=send_callbacks)
            sender.start()
            try:
                wait_until(lambda: len(acknowledged) >= 50, timeout=30, message="50 callbacks")
                backup_started = time.monotonic()
                manifest = create_backup(destination=tmp_path / "backups")
                backup_finished = time.monotonic()
                wait_until(
                    lambda: acknowledged[-1][0] > backup_finished,
                    message="callbacks still acknowledged after the backup",
                )
            finally:
                stop.set()
                sender.join(timeout=30)

    before_backup = {reference for at, reference in acknowledged if at < backup_started}
    assert len(before_backup) >= 50
    folder = manifest.path
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert {path.name for path in folder.iterdir()} >= {"manifest.json", "secret.key"}
    key_before = get_settings().resolved_secret_key_file.read_bytes()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with _another_database(any_db, elsewhere) as other_url:
        _point_at(monkeypatch, data_dir=elsewhere, database_url=other_url)
        result = restore_backup(source=folder)

        assert result.previous is None  # nothing was there to keep
        with read_session() as session:
            stored = set(session.exec(select(CallbackEvent.payment_reference)).all())
        assert before_backup <= stored, f"{len(before_backup - stored)} acknowledged lost"
        assert (elsewhere / "secret.key").read_bytes() == key_before
        assert stat.S_IMODE((elsewhere / "secret.key").stat().st_mode) == 0o600
        upgrade_to_head()  # the restored database is at the code's schema: nothing to do
        dispose_engines()


def test_restore_keeps_the_data_it_replaces(
    any_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_customer(name="SIA Backup Time")
    manifest = create_backup(destination=tmp_path / "backups")
    make_customer(name="SIA Added Later")

    result = restore_backup(source=manifest.path)

    assert _customer_names() == {"SIA Backup Time"}
    assert result.previous is not None
    kept = result.previous.path
    assert kept.parent == get_settings().data_dir
    assert result.previous.row_counts["customer"] == 2
    # The data put aside is itself a backup that restores.
    restore_backup(source=kept)
    assert _customer_names() == {"SIA Backup Time", "SIA Added Later"}


def test_a_damaged_backup_is_refused_and_changes_nothing(any_db: str, tmp_path: Path) -> None:
    make_customer(name="SIA Before")
    manifest = create_backup(destination=tmp_path / "backups")
    make_customer(name="SIA Current")
    database_file = next(manifest.path / name for name in manifest.files if name != "secret.key")
    with database_file.open("r+b") as handle:
        handle.seek(200)
        byte = handle.read(1)
        handle.seek(200)
        handle.write(bytes([byte[0] ^ 0xFF]))

    with pytest.raises(BackupError, match="does not match its checksum"):
        restore_backup(source=manifest.path)

    assert _customer_names() == {"SIA Before", "SIA Current"}
    assert not list(get_settings().data_dir.glob("before-restore-*"))


def test_a_backup_of_another_schema_revision_is_refused(any_db: str, tmp_path: Path) -> None:
    make_customer(name="SIA Before")
    manifest = create_backup(destination=tmp_path / "backups")
    manifest_file = manifest.path / "manifest.json"
    body = json.loads(manifest_file.read_text())
    body["schema_revision"] = "0001"
    manifest_file.write_text(json.dumps(body))

    with pytest.raises(BackupError, match="schema revision 0001"):
        restore_backup(source=manifest.path)
    assert _customer_names() == {"SIA Before"}


def test_cli_backup_and_restore_say_what_they_did_and_fail_with_one_line(
    db: str, tmp_path: Path
) -> None:
    make_customer(name="SIA Command Line")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    command = [sys.executable, "-m", "shared.operations.cli"]

    made = subprocess.run(
        [*command, "backup", str(tmp_path / "b")], env=env, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    assert "1 customer" in made.stdout
    folder = next((tmp_path / "b").iterdir())

    restored = subprocess.run(
        [*command, "restore", str(folder)], env=env, capture_output=True, text=True
    )
    assert restored.returncode == 0, restored.stderr
    assert "is kept in" in restored.stdout

    (folder / "manifest.json").unlink()
    refused = subprocess.run(
        [*command, "restore", str(folder)], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        f"error: {folder} is not a LinkPay Desk backup: no manifest.json."
    ]
