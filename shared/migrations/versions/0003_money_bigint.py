"""money columns are BIGINT

PostgreSQL's ``integer`` ends at 2 147 483 647 minor units (21 474 836.47 EUR): a larger
invoice failed to save and a larger payment answer could not be recorded. SQLite stores
64-bit integers whatever the declared type; its tables are rebuilt only so that the
declared type matches the models.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY_COLUMNS = {
    "invoice": ("subtotal_minor", "vat_minor", "total_minor", "paid_minor", "open_minor"),
    "invoice_line": ("unit_price_minor", "net_minor", "vat_minor", "gross_minor"),
    "payment_attempt": ("initial_amount_minor", "standing_amount_minor", "booked_minor"),
    "review_item": ("amount_minor",),
}
NULLABLE = {("review_item", "amount_minor")}


def _alter(old: sa.types.TypeEngine, new: sa.types.TypeEngine) -> None:
    for table, columns in MONEY_COLUMNS.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in columns:
                batch_op.alter_column(
                    column,
                    existing_type=old,
                    type_=new,
                    existing_nullable=(table, column) in NULLABLE,
                )


def upgrade() -> None:
    _alter(sa.Integer(), sa.BigInteger())


def downgrade() -> None:
    # Fails on PostgreSQL if an amount no longer fits 32 bits: nothing is cut silently.
    _alter(sa.BigInteger(), sa.Integer())
