"""EveryPay payouts found on bank statements, and the payments they bring to the bank

A payout (one per statement transaction) records gross, fee and net; each payment it was
explained by points at it and says since when its money is in the bank. Channels may
carry EveryPay's fee terms, against which a payout's fee is checked.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.models

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "everypay_payout",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("statement_transaction_id", sa.Integer(), nullable=False),
        sa.Column("bank_account_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=True),
        sa.Column("currency", _TEXT(length=3), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=True),
        sa.Column("reference", _TEXT(length=500), nullable=False),
        sa.Column("status", _TEXT(length=16), nullable=False),
        sa.Column("net_minor", sa.BigInteger(), nullable=False),
        sa.Column("gross_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("difference_minor", sa.BigInteger(), nullable=False),
        sa.Column("payment_count", sa.Integer(), nullable=False),
        sa.Column("review_item_id", sa.Integer(), nullable=True),
        sa.Column("created_at", shared.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["statement_transaction_id"], ["bank_statement_transaction.id"]),
        sa.ForeignKeyConstraint(["bank_account_id"], ["bank_account.id"]),
        sa.ForeignKeyConstraint(["channel_id"], ["payment_channel.id"]),
        sa.ForeignKeyConstraint(["review_item_id"], ["review_item.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("statement_transaction_id"),
    )
    with op.batch_alter_table("everypay_payout", schema=None) as batch_op:
        batch_op.create_index(
            "ix_everypay_payout_bank_account_id", ["bank_account_id"], unique=False
        )
        batch_op.create_index("ix_everypay_payout_channel_id", ["channel_id"], unique=False)
    with op.batch_alter_table("payment_attempt", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("in_bank_at", shared.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("payout_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_payment_attempt_payout_id", "everypay_payout", ["payout_id"], ["id"]
        )
        batch_op.create_index("ix_payment_attempt_payout_id", ["payout_id"], unique=False)
    with op.batch_alter_table("payment_channel", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payout_fee_percent", _TEXT(length=8), nullable=True))
        batch_op.add_column(sa.Column("payout_fee_fixed_minor", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("payment_channel", schema=None) as batch_op:
        batch_op.drop_column("payout_fee_fixed_minor")
        batch_op.drop_column("payout_fee_percent")
    with op.batch_alter_table("payment_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_attempt_payout_id")
        batch_op.drop_constraint("fk_payment_attempt_payout_id", type_="foreignkey")
        batch_op.drop_column("payout_id")
        batch_op.drop_column("in_bank_at")
    with op.batch_alter_table("everypay_payout", schema=None) as batch_op:
        batch_op.drop_index("ix_everypay_payout_channel_id")
        batch_op.drop_index("ix_everypay_payout_bank_account_id")
    op.drop_table("everypay_payout")
