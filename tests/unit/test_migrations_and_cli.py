import subprocess
import sys

from alembic import command as alembic_command
from sqlalchemy import inspect, text

from shared.db import get_engine
from shared.models import SQLModel
from shared.operations.migrate import alembic_config, upgrade_to_head

EXPECTED_TABLES = set(SQLModel.metadata.tables)


def _tables(url: str) -> set[str]:
    return set(inspect(get_engine(url)).get_table_names()) - {"alembic_version"}


def test_migrations_build_every_table_on_each_backend(any_db):
    assert _tables(any_db) == EXPECTED_TABLES
    with get_engine(any_db).connect() as connection:
        version = connection.execute(text("select version_num from alembic_version")).scalar()
    assert version


def test_migrating_twice_is_harmless(any_db):
    upgrade_to_head(any_db)
    assert _tables(any_db) == EXPECTED_TABLES


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(db):
    with get_engine(db).connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def _cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shared.operations.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def test_help_lists_the_subcommands():
    result = _cli("--help")
    assert result.returncode == 0
    for command in (
        "run",
        "dashboard",
        "callback-service",
        "sandbox",
        "init-db",
        "demo",
        "create-user",
        "channels",
        "reconcile",
        "send-reminders",
        "rotate-key",
    ):
        assert command in result.stdout


def test_init_db_twice_then_create_user_and_list_channels(isolated_settings):
    first, second = _cli("init-db"), _cli("init-db")
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    created = _cli(
        "create-user",
        "riga.finance",
        "--role",
        "finance",
        "--password-stdin",
        stdin="long-enough-password\n",
    )
    assert created.returncode == 0, created.stderr
    assert "riga.finance" in created.stdout
    duplicate = _cli(
        "create-user",
        "riga.finance",
        "--role",
        "finance",
        "--password-stdin",
        stdin="long-enough-password\n",
    )
    assert duplicate.returncode == 2
    assert "already exists" in duplicate.stderr
    short = _cli("create-user", "someone", "--role", "admin", "--password-stdin", stdin="short\n")
    assert short.returncode == 2
    assert "at least 8" in short.stderr
    channels = _cli("channels")
    assert channels.returncode == 0
    assert "No channels yet" in channels.stdout


def test_the_bic_migration_keeps_accounts_and_goes_back_cleanly(any_db):
    def columns() -> set[str]:
        return {c["name"] for c in inspect(get_engine(any_db)).get_columns("bank_account")}

    config = alembic_config(any_db)
    with get_engine(any_db).begin() as connection:
        config.attributes["connection"] = connection
        alembic_command.downgrade(config, "0017")
        connection.execute(
            text(
                "INSERT INTO bank_account (name, bank_name, iban, currency, account_type,"
                " active, created_at) VALUES ('Main', 'Swedbank', 'LV80BANK0000435195001',"
                " 'EUR', 'regular', true, CURRENT_TIMESTAMP)"
            )
        )
    assert "bic" not in columns()

    upgrade_to_head(any_db)
    assert "bic" in columns()
    with get_engine(any_db).connect() as connection:
        kept = connection.execute(text("SELECT iban, bic FROM bank_account")).one()
    assert tuple(kept) == ("LV80BANK0000435195001", "")

    with get_engine(any_db).begin() as connection:
        config.attributes["connection"] = connection
        alembic_command.downgrade(config, "0017")
    assert "bic" not in columns()
    upgrade_to_head(any_db)
