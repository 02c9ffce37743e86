"""credit notes: their own gapless series, lines with VAT, one ledger entry each

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.models

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "credit_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", _TEXT(length=40), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", _TEXT(length=3), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("reason", _TEXT(length=500), nullable=False),
        sa.Column("subtotal_minor", sa.BigInteger(), nullable=False),
        sa.Column("vat_minor", sa.BigInteger(), nullable=False),
        sa.Column("total_minor", sa.BigInteger(), nullable=False),
        sa.Column("status", _TEXT(length=16), nullable=False),
        sa.Column("created_by", _TEXT(length=64), nullable=False),
        sa.Column("created_at", shared.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoice.id"]),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    with op.batch_alter_table("credit_note", schema=None) as batch_op:
        batch_op.create_index("ix_credit_note_invoice_id", ["invoice_id"], unique=False)
        batch_op.create_index("ix_credit_note_customer_id", ["customer_id"], unique=False)
    op.create_table(
        "credit_note_line",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credit_note_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", _TEXT(length=500), nullable=False),
        sa.Column("quantity", _TEXT(length=32), nullable=False),
        sa.Column("unit", _TEXT(length=16), nullable=False),
        sa.Column("unit_price_minor", sa.BigInteger(), nullable=False),
        sa.Column("vat_rate", _TEXT(length=8), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("vat_minor", sa.BigInteger(), nullable=False),
        sa.Column("gross_minor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["credit_note_id"], ["credit_note.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("credit_note_line", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credit_note_line_credit_note_id", ["credit_note_id"], unique=False
        )
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_note_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_ledger_entry_credit_note_id", "credit_note", ["credit_note_id"], ["id"]
        )
        batch_op.create_index("ix_ledger_entry_credit_note_id", ["credit_note_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ledger_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_ledger_entry_credit_note_id")
        batch_op.drop_constraint("fk_ledger_entry_credit_note_id", type_="foreignkey")
        batch_op.drop_column("credit_note_id")
    with op.batch_alter_table("credit_note_line", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_note_line_credit_note_id")
    op.drop_table("credit_note_line")
    with op.batch_alter_table("credit_note", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_note_customer_id")
        batch_op.drop_index("ix_credit_note_invoice_id")
    op.drop_table("credit_note")
