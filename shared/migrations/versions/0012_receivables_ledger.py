"""receivables ledger: every movement of an invoice's balance as an entry

Invoices gain credited and returned totals beside paid (open = total - paid - credited +
returned); payments received outside LinkPay get their own table; each movement is one
``ledger_entry`` with a unique key, the exactly-once guard. LinkPay bookings made before
this revision become entries with the key the booking path uses ("linkpay:<ref>:in"), so a
duplicate callback after the upgrade still books nothing.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.models

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credited_minor", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("returned_minor", sa.BigInteger(), nullable=False, server_default="0")
        )
    op.create_table(
        "received_payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("method", _TEXT(length=32), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", _TEXT(length=3), nullable=False),
        sa.Column("payer", _TEXT(length=200), nullable=False),
        sa.Column("bank_reference", _TEXT(length=140), nullable=False),
        sa.Column("note", _TEXT(length=1000), nullable=False),
        sa.Column("created_by", _TEXT(length=64), nullable=False),
        sa.Column("created_at", shared.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reversed_at", shared.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reversed_by", _TEXT(length=64), nullable=True),
        sa.Column("reversal_reason", _TEXT(length=500), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("received_payment", schema=None) as batch_op:
        batch_op.create_index("ix_received_payment_customer_id", ["customer_id"], unique=False)
        batch_op.create_index("ix_received_payment_created_at", ["created_at"], unique=False)
    op.create_table(
        "ledger_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_key", _TEXT(length=160), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", _TEXT(length=16), nullable=False),
        sa.Column("source", _TEXT(length=24), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", _TEXT(length=3), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("payment_attempt_id", sa.Integer(), nullable=True),
        sa.Column("received_payment_id", sa.Integer(), nullable=True),
        sa.Column("reverses_entry_id", sa.Integer(), nullable=True),
        sa.Column("reference", _TEXT(length=140), nullable=False),
        sa.Column("note", _TEXT(length=500), nullable=False),
        sa.Column("actor", _TEXT(length=64), nullable=False),
        sa.Column("booked_at", shared.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoice.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.ForeignKeyConstraint(["payment_attempt_id"], ["payment_attempt.id"]),
        sa.ForeignKeyConstraint(["received_payment_id"], ["received_payment.id"]),
        sa.ForeignKeyConstraint(["reverses_entry_id"], ["ledger_entry.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_key"),
    )
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ledger_customer_booked", ["customer_id", "booked_at", "id"], unique=False
        )
        batch_op.create_index("ix_ledger_invoice_id", ["invoice_id", "id"], unique=False)
        batch_op.create_index(
            "ix_ledger_entry_payment_attempt_id", ["payment_attempt_id"], unique=False
        )
        batch_op.create_index(
            "ix_ledger_entry_received_payment_id", ["received_payment_id"], unique=False
        )
    _carry_over_linkpay_bookings()


def _carry_over_linkpay_bookings() -> None:
    # Two fixed statements, one per backend: SQLite's CAST(... AS date) would keep only
    # the year, PostgreSQL has no date() function.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            _CARRY_OVER.replace("{day}", "CAST(COALESCE(a.transaction_time, a.created_at) AS date)")
        )
    else:
        op.execute(_CARRY_OVER.replace("{day}", "date(COALESCE(a.transaction_time, a.created_at))"))


_CARRY_OVER = (
    "INSERT INTO ledger_entry (entry_key, invoice_id, customer_id, kind, source, "
    "amount_minor, currency, value_date, payment_attempt_id, reference, note, actor, "
    "booked_at) "
    "SELECT 'linkpay:' || a.payment_reference || ':' || 'in', a.invoice_id, i.customer_id, "
    "'payment', 'linkpay', a.booked_minor, i.currency, {day}, a.id, a.payment_reference, "
    "'booked before the ledger', 'system', COALESCE(a.transaction_time, a.created_at) "
    "FROM payment_attempt a JOIN invoice i ON i.id = a.invoice_id "
    "WHERE a.booked_minor > 0"
)


def downgrade() -> None:
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_entry_received_payment_id")
        batch_op.drop_index("ix_ledger_entry_payment_attempt_id")
        batch_op.drop_index("ix_ledger_invoice_id")
        batch_op.drop_index("ix_ledger_customer_booked")
    op.drop_table("ledger_entry")
    with op.batch_alter_table("received_payment", schema=None) as batch_op:
        batch_op.drop_index("ix_received_payment_created_at")
        batch_op.drop_index("ix_received_payment_customer_id")
    op.drop_table("received_payment")
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_column("returned_minor")
        batch_op.drop_column("credited_minor")
