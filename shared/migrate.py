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
    engine = get_engine(url)
    with engine.begin() as connection:
        config = alembic_config(url)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_tables(url: str | None = None) -> set[str]:
    return set(inspect(get_engine(url)).get_table_names())
