"""what a Latvian invoice carries: supply date, customers' payment terms, amount in words

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(sa.Column("supply_date", sa.Date(), nullable=True))
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("payment_terms_days", sa.Integer(), nullable=False, server_default="14")
        )
        batch_op.create_index(
            "ix_customer_registration_number", ["registration_number"], unique=False
        )
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("amount_in_words", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("company", schema=None) as batch_op:
        batch_op.drop_column("amount_in_words")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_registration_number")
        batch_op.drop_column("payment_terms_days")
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_column("supply_date")
