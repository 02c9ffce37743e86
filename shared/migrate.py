"""Schema migrations to head, callable from the CLI, the launcher and the tests."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from shared.db import get_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_to_head(url: str | None = None) -> None:
    upgrade_to("head", url)


def upgrade_to(revision: str, url: str | None = None) -> None:
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
                command.upgrade(config, revision)
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"Migration left broken foreign keys: {broken[:5]}")
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys = ON")


def current_tables(url: str | None = None) -> set[str]:
    return set(inspect(get_engine(url)).get_table_names())
