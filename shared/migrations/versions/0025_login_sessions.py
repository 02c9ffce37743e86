"""dashboard sign-ins kept server-side, so a reload or a new tab stays signed in

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.models

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    op.create_table(
        "login_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", _TEXT(length=64), nullable=True),
        sa.Column("ticket_hash", _TEXT(length=64), nullable=True),
        sa.Column("created_at", shared.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", shared.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", shared.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
        sa.UniqueConstraint("ticket_hash"),
    )
    with op.batch_alter_table("login_session", schema=None) as batch_op:
        batch_op.create_index("ix_login_session_user_id", ["user_id"], unique=False)
        batch_op.create_index("ix_login_session_expires_at", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_table("login_session")
