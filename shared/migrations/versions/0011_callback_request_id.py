"""callbacks keep the request id they were received under

The callback service logs each callback under a request id (the sender's X-Request-ID or
a new one); stored with the row, it lets the worker process's lines about the callback
carry the same id. Nullable: callbacks stored before have none.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("callback_event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("request_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("callback_event", schema=None) as batch_op:
        batch_op.drop_column("request_id")
