"""invoices remember when their pay link was opened, for the lost-payment watch

A customer who opened the pay link and paid, but whose every callback was lost, leaves an
open invoice behind. The watch looks at invoices whose pay link was opened a while ago
with no payment known since; this column (with its index) tells it which ones, without
reading every open invoice. Nullable: nothing is watched for links opened before.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.models

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pay_link_opened_at", shared.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_invoice_pay_link_opened", ["pay_link_opened_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.drop_index("ix_invoice_pay_link_opened")
        batch_op.drop_column("pay_link_opened_at")
