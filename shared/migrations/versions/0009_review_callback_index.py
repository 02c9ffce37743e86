"""review items are found by their callback

Retention deletes finished callbacks that no review points to; without an index on
review_item.callback_event_id every deleted callback scanned the whole review table (and
PostgreSQL's foreign-key check did the same on each delete).

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 07:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("review_item", schema=None) as batch_op:
        batch_op.create_index(
            "ix_review_item_callback_event_id", ["callback_event_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("review_item", schema=None) as batch_op:
        batch_op.drop_index("ix_review_item_callback_event_id")
