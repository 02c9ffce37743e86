"""bank statements: imported files, statements, entries and their transactions

Entries are unique per bank account by a key derived from the bank's own reference, so a
file imported twice, or statements that overlap, never add the same booking twice.

Revision ID: 0008
Revises: 0004
Create Date: 2026-11-30 06:57:38
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.models

revision: str = "0008"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bank_statement_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("imported_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("imported_at", shared.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sha256"),
    )
    op.create_table(
        "bank_statement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_account_id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("statement_id", sqlmodel.sql.sqltypes.AutoString(length=140), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("opening_balance_minor", sa.BigInteger(), nullable=True),
        sa.Column("closing_balance_minor", sa.BigInteger(), nullable=True),
        sa.Column("balance_difference_minor", sa.BigInteger(), nullable=True),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("not_booked_count", sa.Integer(), nullable=False),
        sa.Column("warnings", sa.JSON(), nullable=False),
        sa.Column("imported_at", shared.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_account_id"],
            ["bank_account.id"],
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["bank_statement_file.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "bank_account_id", "currency", "statement_id", name="uq_bank_statement_account_id"
        ),
    )
    with op.batch_alter_table("bank_statement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bank_statement_file_id"), ["file_id"], unique=False)

    op.create_table(
        "bank_statement_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_account_id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("bank_reference", sqlmodel.sql.sqltypes.AutoString(length=140), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("direction", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=False),
        sa.Column("booking_date", sa.Date(), nullable=True),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("reversal", sa.Boolean(), nullable=False),
        sa.Column(
            "bank_transaction_code", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False
        ),
        sa.Column("batch_reference", sqlmodel.sql.sqltypes.AutoString(length=140), nullable=False),
        sa.Column("batch_size", sa.Integer(), nullable=True),
        sa.Column("created_at", shared.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["bank_account_id"],
            ["bank_account.id"],
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["bank_statement.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bank_account_id", "dedupe_key", name="uq_bank_entry_account_key"),
    )
    with op.batch_alter_table("bank_statement_entry", schema=None) as batch_op:
        batch_op.create_index(
            "ix_bank_entry_account_booking", ["bank_account_id", "booking_date", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_bank_statement_entry_statement_id"), ["statement_id"], unique=False
        )

    op.create_table(
        "bank_statement_transaction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column(
            "counterparty_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False
        ),
        sa.Column("counterparty_iban", sqlmodel.sql.sqltypes.AutoString(length=34), nullable=False),
        sa.Column("counterparty_bic", sqlmodel.sql.sqltypes.AutoString(length=11), nullable=False),
        sa.Column(
            "creditor_reference", sqlmodel.sql.sqltypes.AutoString(length=35), nullable=False
        ),
        sa.Column("remittance_text", sa.Text(), nullable=False),
        sa.Column("additional_info", sa.Text(), nullable=False),
        sa.Column("bank_reference", sqlmodel.sql.sqltypes.AutoString(length=140), nullable=False),
        sa.Column("end_to_end_id", sqlmodel.sql.sqltypes.AutoString(length=140), nullable=False),
        sa.Column("transaction_id", sqlmodel.sql.sqltypes.AutoString(length=140), nullable=False),
        sa.Column("original_amount_minor", sa.BigInteger(), nullable=True),
        sa.Column("original_currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["bank_statement_entry.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_id", "position", name="uq_bank_transaction_entry_position"),
    )
    with op.batch_alter_table("bank_statement_transaction", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bank_statement_transaction_counterparty_iban"),
            ["counterparty_iban"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_bank_statement_transaction_creditor_reference"),
            ["creditor_reference"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("bank_statement_transaction", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_statement_transaction_creditor_reference"))
        batch_op.drop_index(batch_op.f("ix_bank_statement_transaction_counterparty_iban"))

    op.drop_table("bank_statement_transaction")
    with op.batch_alter_table("bank_statement_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_statement_entry_statement_id"))
        batch_op.drop_index("ix_bank_entry_account_booking")

    op.drop_table("bank_statement_entry")
    with op.batch_alter_table("bank_statement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_statement_file_id"))

    op.drop_table("bank_statement")
    op.drop_table("bank_statement_file")
