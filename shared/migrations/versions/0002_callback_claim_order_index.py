"""callback claim index carries the id tie-breaker

The worker claims the oldest due callback with ORDER BY next_attempt_at, id LIMIT 1. With
only (status, next_attempt_at) in the index, PostgreSQL sorted every due row for the id
tie-break: during a backlog of thousands, a sort per claim. With id in the index the
claim reads one entry. (SQLite's indexes end with the rowid already.)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 07:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("callback_event", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_status_next")
        batch_op.create_index(
            "ix_callback_status_next", ["status", "next_attempt_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("callback_event", schema=None) as batch_op:
        batch_op.drop_index("ix_callback_status_next")
        batch_op.create_index(
            "ix_callback_status_next", ["status", "next_attempt_at"], unique=False
        )
