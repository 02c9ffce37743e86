"""Schema migrations to head, callable from the CLI, the launcher and the tests."""

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from shared.db import get_engine

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class SchemaTooNew(RuntimeError):
    """The database was migrated by a newer LinkPay Desk: this one would misread it."""


def database_revision(url: str | None = None) -> str | None:
    engine = get_engine(url)
    if "alembic_version" not in inspect(engine).get_table_names():
        return None
    with engine.connect() as connection:
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the migrations folder has no revision"
    return head


def is_known_revision(revision: str) -> bool:
    return any(
        script.revision == revision
        for script in ScriptDirectory.from_config(alembic_config()).walk_revisions()
    )


def upgrade_to_head(url: str | None = None) -> None:
    """Migrates up; never down. A database from a newer release is refused with what to do,
    instead of Alembic's "can't locate revision"."""
    current = database_revision(url)
    if current is not None and not is_known_revision(current):
        raise SchemaTooNew(
            f"The database is at schema revision {current}, made by a newer LinkPay Desk than "
            f"this one (latest known: {head_revision()}). Run the newer release, or restore "
            "a backup made with this one (linkpay-desk restore)."
        )
    upgrade_to("head", url)


def upgrade_to(revision: str, url: str | None = None) -> None:
    _alembic(lambda config: command.upgrade(config, revision), url)


def downgrade_to(revision: str, url: str | None = None) -> None:
    """Back to an older schema, data kept: for the tests of a migration's data step (a user's
    database is never downgraded; ``init-db`` refuses it)."""
    _alembic(lambda config: command.downgrade(config, revision), url)


def _alembic(step: Callable[[Config], None], url: str | None) -> None:
    engine = get_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite changes most columns by rebuilding the table: copy, DROP, rename. With
            # foreign keys on, dropping a table other rows point at (invoice, say) fails.
            # The pragma is ignored inside a transaction, so it is set on the driver's
            # connection before ours begins, and the keys are checked before committing.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
        try:
            with connection.begin():
                config = alembic_config(url)
                config.attributes["connection"] = connection
                step(config)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"Migration left broken foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys = ON")


def current_tables(url: str | None = None) -> set[str]:
    return set(inspect(get_engine(url)).get_table_names())
