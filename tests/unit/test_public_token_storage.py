"""Invoice links (/i/{token}) are bearer credentials: the database keeps only their
SHA-256 and a ciphertext, and links made before the change keep working."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import MetaData, Table, event, insert, text

from callback_service.public_pages import router
from shared.config import get_settings
from shared.db import dispose_engines, get_engine, read_session
from shared.operations.migrate import upgrade_to, upgrade_to_head
from shared.security import new_token
from shared.sending import invoice_by_public_token, public_invoice_url, public_token
from tests.utils.factories import make_invoice

OLD_TOKEN = new_token(24)
OLD_DRAFT_TOKEN = new_token(24)
# Enough rows to fill pages that the rebuilt table does not reuse: their free space
# must not keep the tokens either.
MORE_OLD_TOKENS = [new_token(24) for _ in range(300)]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_at_0002(request: pytest.FixtureRequest, isolated_settings: Path) -> str:
    """A database at revision 0002 (plain public tokens), on each backend in turn."""
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    else:
        url = get_settings().resolved_database_url
        # As SQLite is built on most systems (Debian's build zeroes freed space already).
        event.listen(
            get_engine(url),
            "connect",
            lambda dbapi_connection, _record: dbapi_connection.execute(
                "PRAGMA secure_delete = OFF"
            ),
        )
    upgrade_to("0002", url)
    return url


def _seed_plain_tokens(url: str) -> None:
    """An issued invoice and a draft as revision 0002 stored them: token in plain text."""
    engine = get_engine(url)
    now = datetime.now(UTC)
    with engine.begin() as connection:
        # Core inserts against the tables as they are at 0002: the models describe the
        # latest schema (the customer's search column, say), not this one.
        company = Table("company", MetaData(), autoload_with=connection)
        connection.execute(
            insert(company).values(
                name="Baltic Widgets SIA", registration_number="", vat_number="", address="",
                email="", phone="", website="", timezone="Europe/Riga", default_currency="EUR",
                updated_at=now,
            )
        )  # fmt: skip
        customers = Table("customer", MetaData(), autoload_with=connection)
        customer_id = connection.execute(
            insert(customers).values(
                name="Northwind Ltd",
                email="ap@northwind.example",
                language="en",
                registration_number="",
                vat_number="",
                cc_emails="",
                address="",
                created_at=now,
                updated_at=now,
            )
        ).inserted_primary_key[0]
        invoice = Table("invoice", MetaData(), autoload_with=connection)
        common = {
            "series": "INV",
            "customer_id": customer_id,
            "currency": "EUR",
            "subtotal_minor": 10000,
            "vat_minor": 2100,
            "total_minor": 12100,
            "paid_minor": 0,
            "open_minor": 12100,
            "settled_payments": 0,
            "notes": "",
            "cancellation_reason": "",
            "reminders_enabled": False,
            "created_by": "finance",
            "created_at": now,
            "updated_at": now,
        }
        issued_id = connection.execute(
            insert(invoice).values(
                **common,
                number="INV-2026-0001",
                status="sent",
                issue_date=date(2026, 11, 2),
                due_date=date(2026, 11, 16),
                public_token=OLD_TOKEN,
            )
        ).inserted_primary_key[0]
        connection.execute(
            insert(invoice),
            [
                {**common, "status": "draft", "public_token": token}
                for token in [OLD_DRAFT_TOKEN, *MORE_OLD_TOKENS]
            ],
        )
    with engine.begin() as connection:
        lines = Table("invoice_line", MetaData(), autoload_with=connection)
        connection.execute(
            insert(lines).values(
                invoice_id=issued_id,
                position=0,
                description="Consulting",
                quantity="1",
                unit="",
                unit_price_minor=10000,
                vat_rate="21",
                net_minor=10000,
                vat_minor=2100,
                gross_minor=12100,
            )
        )


def _stored_bytes(url: str) -> list[tuple[str, bytes]]:
    """Every file the database keeps on disk, as the server has flushed it."""
    engine = get_engine(url)
    if engine.dialect.name == "sqlite":
        dispose_engines()  # checkpoint the WAL so the main file holds everything
        paths = sorted(get_settings().data_dir.glob("linkpay.db*"))
    else:
        with engine.connect() as connection:
            connection.execute(text("CHECKPOINT"))
            data_dir = connection.execute(text("SHOW data_directory")).scalar()
            oid = connection.execute(
                text("SELECT oid FROM pg_database WHERE datname = current_database()")
            ).scalar()
        folder = Path(data_dir) / "base" / str(oid)
        if not folder.is_dir():
            pytest.skip("the PostgreSQL server's files are not readable from this test")
        paths = sorted(p for p in folder.iterdir() if p.is_file())
    assert paths
    return [(path.name, path.read_bytes()) for path in paths]


def test_upgrade_keeps_old_links_working_and_leaves_no_plain_token(db_at_0002) -> None:
    _seed_plain_tokens(db_at_0002)

    upgrade_to_head(db_at_0002)

    with read_session() as session:
        invoice = invoice_by_public_token(session, OLD_TOKEN)
        assert invoice is not None and invoice.number == "INV-2026-0001"
        assert public_invoice_url(invoice).endswith(f"/i/{OLD_TOKEN}")
        assert invoice_by_public_token(session, OLD_DRAFT_TOKEN) is None  # drafts stay private
    app = FastAPI()
    app.include_router(router)
    page = TestClient(app).get(f"/i/{OLD_TOKEN}")
    assert page.status_code == 200
    assert "INV-2026-0001" in page.text
    for name, raw in _stored_bytes(db_at_0002):
        for token in [OLD_TOKEN, OLD_DRAFT_TOKEN, *MORE_OLD_TOKENS]:
            assert token.encode() not in raw, name


def test_new_invoices_store_no_plain_token_and_their_link_works(any_db) -> None:
    invoice = make_invoice(channel=None)
    token = public_token(invoice)

    with read_session() as session:
        found = invoice_by_public_token(session, token)
        assert found is not None and found.id == invoice.id
        assert (
            invoice_by_public_token(session, token[:-1] + ("A" if token[-1] != "A" else "B"))
            is None
        )
    assert token not in invoice.public_token_encrypted
    for name, raw in _stored_bytes(any_db):
        assert token.encode() not in raw, name
