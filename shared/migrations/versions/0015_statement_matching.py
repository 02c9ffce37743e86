"""bank-statement transactions remember how they were matched to invoices

Each transaction gets its match state (new, booked automatically or by hand, suggested,
unmatched, not a customer payment, EveryPay payout, outgoing), the reason shown with it,
the suggestion (customer and invoice shares) and the received payment its booking made.
Transactions imported before start as "new", so the next matching run looks at them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.models

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("bank_statement_transaction", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("match_state", _TEXT(length=16), nullable=False, server_default="new")
        )
        batch_op.add_column(
            sa.Column("match_reason", _TEXT(length=500), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("match_customer_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("match_allocations", sa.JSON(), nullable=False, server_default="[]")
        )
        batch_op.add_column(sa.Column("received_payment_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("matched_by", _TEXT(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("matched_at", shared.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key(
            "fk_bank_transaction_match_customer", "customer", ["match_customer_id"], ["id"]
        )
        batch_op.create_foreign_key(
            "fk_bank_transaction_received_payment",
            "received_payment",
            ["received_payment_id"],
            ["id"],
        )
        batch_op.create_index(
            "ix_bank_transaction_match_state", ["match_state", "id"], unique=False
        )
        batch_op.create_index(
            "ix_bank_statement_transaction_received_payment_id",
            ["received_payment_id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("bank_statement_transaction", schema=None) as batch_op:
        batch_op.drop_index("ix_bank_statement_transaction_received_payment_id")
        batch_op.drop_index("ix_bank_transaction_match_state")
        batch_op.drop_constraint("fk_bank_transaction_received_payment", type_="foreignkey")
        batch_op.drop_constraint("fk_bank_transaction_match_customer", type_="foreignkey")
        for column in (
            "matched_at",
            "matched_by",
            "received_payment_id",
            "match_allocations",
            "match_customer_id",
            "match_reason",
            "match_state",
        ):
            batch_op.drop_column(column)
