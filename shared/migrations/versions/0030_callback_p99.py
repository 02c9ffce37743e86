"""callback_event: when a worker claimed it and when EveryPay answered about it

With ``received_at`` and ``processed_at`` these tell where a callback's time went
(waiting for a worker, the API call, the booking); both are written by statements that
run anyway (the claim, the close), so intake is unchanged.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-01 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import shared.models

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("callback_event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("claimed_at", shared.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("answered_at", shared.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("callback_event", schema=None) as batch_op:
        batch_op.drop_column("answered_at")
        batch_op.drop_column("claimed_at")
