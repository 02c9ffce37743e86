"""Every test gets its own data directory, SQLite file and secret key.

Tests that must hold on PostgreSQL too use the ``any_db`` fixture: it runs them once per
backend, on a fresh PostgreSQL database when ``LINKPAY_TEST_POSTGRES_URL`` is set.
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from shared import users
from shared.config import get_settings
from shared.db import dispose_engines
from shared.operations.migrate import upgrade_to_head
from shared.security import reset_key_cache

POSTGRES_URL_ENV = "LINKPAY_TEST_POSTGRES_URL"


def _reset_caches() -> None:
    dispose_engines()
    get_settings.cache_clear()
    reset_key_cache()


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    for name in list(os.environ):
        if name.startswith("LINKPAY_") and name != POSTGRES_URL_ENV:
            monkeypatch.delenv(name)
    monkeypatch.setenv("LINKPAY_DATA_DIR", str(data_dir))
    monkeypatch.setenv("LINKPAY_DATABASE_URL", f"sqlite:///{data_dir / 'linkpay.db'}")
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    _reset_caches()
    yield data_dir
    _reset_caches()


# Names the older tests pass as ``actor`` when they call shared write functions directly,
# standing for a trusted caller as the CLI does. A name that belongs to a user account is
# still judged by that account's role (tests of permissions use real users). A process
# a test starts does not inherit these: it acts as SYSTEM_ACTOR.
TEST_ACTORS = frozenset({"t", "f", "test", "someone-else", "finance", "admin"})


@pytest.fixture(autouse=True)
def trusted_test_actors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(users, "SYSTEM_ACTORS", users.SYSTEM_ACTORS | TEST_ACTORS)


@pytest.fixture
def db(isolated_settings: Path) -> str:
    """A migrated SQLite database file; returns its URL."""
    url = get_settings().resolved_database_url
    upgrade_to_head(url)
    return url


def postgres_base_url() -> str | None:
    return os.environ.get(POSTGRES_URL_ENV) or None


@pytest.fixture
def postgres_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped afterwards."""
    base = postgres_base_url()
    if not base:
        pytest.skip(f"{POSTGRES_URL_ENV} is not set: no PostgreSQL server to test against")
    name = f"linkpay_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("LINKPAY_DATABASE_URL", url)
    _reset_caches()
    try:
        yield url
    finally:
        _reset_caches()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest, isolated_settings: Path) -> str:
    """A migrated database on each backend in turn; returns its URL."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = get_settings().resolved_database_url
    upgrade_to_head(url)
    return url
