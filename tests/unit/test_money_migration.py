"""Revision 0003 turns every money column into BIGINT, on a database that already holds
invoices and payments."""

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from sqlmodel import func, select

from shared.config import get_settings
from shared.db import get_engine, read_session, write_session
from shared.models import Invoice, InvoiceLine, PaymentAttempt, ReviewItem
from shared.operations.migrate import alembic_config, upgrade_to_head

MONEY_COLUMNS = {
    "invoice": ("subtotal_minor", "vat_minor", "total_minor", "paid_minor", "open_minor"),
    "invoice_line": ("unit_price_minor", "net_minor", "vat_minor", "gross_minor"),
    "payment_attempt": ("initial_amount_minor", "standing_amount_minor", "booked_minor"),
    "review_item": ("amount_minor",),
}
# Above PostgreSQL's 32-bit integer (21 474 836.47 EUR).
LARGE_MINOR = 3_000_000_000_00


def _before_0003(url: str) -> None:
    """Migrates to the revision 0003 follows, whatever is chained before it."""
    config = alembic_config(url)
    previous = ScriptDirectory.from_config(config).get_revision("0003").down_revision
    with get_engine(url).begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, previous)


def _filler(column: sa.Column) -> object:
    """A value for a required column the row below does not care about."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return 0
    if isinstance(kind, sa.DateTime):
        return datetime.now(UTC).replace(tzinfo=None)
    if isinstance(kind, sa.Date):
        return date(2026, 5, 2)
    if isinstance(kind, sa.JSON):
        return {}
    return "x"


def _insert(connection: sa.Connection, table: str, **values: object) -> int:
    reflected = sa.Table(table, sa.MetaData(), autoload_with=connection)
    row = dict(values)
    for column in reflected.columns:
        needs_value = not column.nullable and column.server_default is None
        if column.name not in row and needs_value and not column.primary_key:
            row[column.name] = _filler(column)
    return connection.execute(
        reflected.insert().values(**row).returning(reflected.c.id)
    ).scalar_one()


def _seed_old_schema(url: str) -> int:
    with get_engine(url).begin() as c:
        account = _insert(c, "bank_account", name="Merchant", account_type="merchant")
        # No ciphertexts: this database has no key file yet, and a key is never made over
        # ciphertexts it could not open.
        channel = _insert(
            c,
            "payment_channel",
            bank_account_id=account,
            callback_token_hash="h" * 64,
            callback_token_encrypted="",
            api_secret_encrypted="",
        )
        customer = _insert(c, "customer", name="SIA Koks", language="lv")
        invoice = _insert(
            c,
            "invoice",
            number="INV-2026-0001",
            customer_id=customer,
            channel_id=channel,
            currency="EUR",
            status="paid",
            subtotal_minor=10000,
            vat_minor=2100,
            total_minor=12100,
            paid_minor=12100,
            open_minor=0,
            public_token="t" * 32,
        )
        _insert(
            c,
            "invoice_line",
            invoice_id=invoice,
            description="Consulting",
            quantity="1",
            unit_price_minor=10000,
            vat_rate="21",
            net_minor=10000,
            vat_minor=2100,
            gross_minor=12100,
        )
        attempt = _insert(
            c,
            "payment_attempt",
            payment_reference="ref-1",
            channel_id=channel,
            invoice_id=invoice,
            state="settled",
            is_final=True,
            initial_amount_minor=12100,
            standing_amount_minor=12100,
            booked_minor=12100,
        )
        _insert(
            c,
            "review_item",
            kind="overpayment",
            dedupe_key="overpayment:ref-1",
            reason="more than the balance",
            invoice_id=invoice,
            payment_attempt_id=attempt,
            amount_minor=12100,
        )
    return invoice


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, isolated_settings: Path) -> str:
    """A database with no schema yet on each backend (``any_db`` is migrated to head)."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return get_settings().resolved_database_url


def test_upgrade_keeps_the_amounts_and_then_stores_more_than_32_bits(empty_db: str) -> None:
    _before_0003(empty_db)
    invoice_id = _seed_old_schema(empty_db)
    with get_engine(empty_db).connect() as connection:
        version = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
        assert version.scalar_one() != "0003"

    upgrade_to_head(empty_db)

    with read_session() as session:
        invoice = session.get(Invoice, invoice_id)
        line = session.exec(select(InvoiceLine)).one()
        attempt = session.exec(select(PaymentAttempt)).one()
        review = session.exec(select(ReviewItem)).one()
    assert (invoice.total_minor, invoice.paid_minor, invoice.open_minor) == (12100, 12100, 0)
    assert (line.unit_price_minor, line.gross_minor) == (10000, 12100)
    assert (attempt.initial_amount_minor, attempt.booked_minor) == (12100, 12100)
    assert review.amount_minor == 12100
    if empty_db.startswith("postgresql"):
        inspector = sa.inspect(get_engine(empty_db))
        for table, columns in MONEY_COLUMNS.items():
            types = {c["name"]: c["type"] for c in inspector.get_columns(table)}
            assert all(isinstance(types[name], sa.BigInteger) for name in columns), table

    with write_session() as session:
        invoice = session.get(Invoice, invoice_id)
        invoice.total_minor = invoice.paid_minor = LARGE_MINOR
        attempt = session.exec(select(PaymentAttempt)).one()
        attempt.initial_amount_minor = attempt.standing_amount_minor = LARGE_MINOR
        attempt.booked_minor = LARGE_MINOR
        review = session.exec(select(ReviewItem)).one()
        review.amount_minor = LARGE_MINOR
        line = session.exec(select(InvoiceLine)).one()
        line.unit_price_minor = line.net_minor = line.gross_minor = LARGE_MINOR
    with read_session() as session:
        assert session.get(Invoice, invoice_id).total_minor == LARGE_MINOR
        assert session.exec(select(PaymentAttempt)).one().booked_minor == LARGE_MINOR
        assert session.exec(select(ReviewItem)).one().amount_minor == LARGE_MINOR
        assert session.exec(select(InvoiceLine)).one().gross_minor == LARGE_MINOR
        # PostgreSQL sums BIGINT as numeric; reports still get whole minor units as int.
        total = session.exec(select(func.sum(Invoice.total_minor))).one()
        assert total == LARGE_MINOR and type(total) is int
