"""`init-db` on a database of an earlier release backs it up first, then upgrades with the
data in place; a database of a newer release is refused, never migrated down."""

import json
import os
import subprocess
import sys
from pathlib import Path

from alembic import command
from sqlalchemy import text

from shared.config import PROJECT_ROOT, get_settings
from shared.db import get_engine
from shared.operations.migrate import alembic_config, database_revision, head_revision


def _init_db() -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shared.operations.cli", "init-db"],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_init_db_backs_an_earlier_schema_up_then_upgrades_it_with_its_data(
    isolated_settings: Path,
) -> None:
    url = get_settings().resolved_database_url
    with get_engine(url).begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            text(
                "INSERT INTO customer (name, registration_number, vat_number, email, cc_emails,"
                " address, language, created_at, updated_at) VALUES ('SIA Vecā Versija', '',"
                " '', 'a@b.lv', '', 'Rīga', 'lv', '2025-01-02 03:04:05', '2025-01-02 03:04:05')"
            )
        )

    done = _init_db()

    assert done.returncode == 0, done.stderr
    assert "Backed up schema 0001 to " in done.stdout
    backups = list((isolated_settings / "backups").iterdir())
    assert len(backups) == 1
    manifest = json.loads((backups[0] / "manifest.json").read_text())
    assert manifest["schema_revision"] == "0001"
    assert manifest["row_counts"]["customer"] == 1
    assert database_revision(url) == head_revision()
    with get_engine(url).connect() as connection:
        names = connection.execute(text("SELECT name FROM customer")).scalars().all()
    assert names == ["SIA Vecā Versija"]


def test_a_database_of_a_newer_release_is_refused_and_left_as_it_is(db: str) -> None:
    with get_engine(db).begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))

    done = _init_db()

    assert done.returncode == 3
    assert done.stderr.strip().splitlines() == [
        f"error: The database is at schema revision 9999, made by a newer LinkPay Desk than "
        f"this one (latest known: {head_revision()}). Run the newer release, or restore a "
        "backup made with this one (linkpay-desk restore)."
    ]
    assert database_revision(db) == "9999"
    assert not (get_settings().data_dir / "backups").exists()
