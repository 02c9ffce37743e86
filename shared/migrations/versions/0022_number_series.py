"""number series per document type: prefix, yearly reset, digits, default, active

Seeds today's two series, "INV" (invoices) and "KR" (credit notes), both with a yearly
reset and four digits, so the counters already in invoice_number_sequence (keyed by the
prefix and year) continue without a gap or a clash. Credit notes record their series.

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import shared.models

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    series = op.create_table(
        "number_series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_type", _TEXT(length=20), nullable=False),
        sa.Column("prefix", _TEXT(length=20), nullable=False),
        sa.Column("yearly_reset", sa.Boolean(), nullable=False),
        sa.Column("digits", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", shared.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prefix"),
    )
    op.create_index(
        "uq_number_series_default",
        "number_series",
        ["document_type"],
        unique=True,
        sqlite_where=sa.text("is_default"),
        postgresql_where=sa.text("is_default"),
    )
    now = shared.models.utcnow()
    op.bulk_insert(
        series,
        [
            {
                "document_type": document_type,
                "prefix": prefix,
                "yearly_reset": True,
                "digits": 4,
                "is_default": True,
                "active": True,
                "created_at": now,
            }
            for document_type, prefix in (("invoice", "INV"), ("credit_note", "KR"))
        ],
    )
    with op.batch_alter_table("credit_note", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("series", _TEXT(length=20), nullable=False, server_default="KR")
        )


def downgrade() -> None:
    with op.batch_alter_table("credit_note", schema=None) as batch_op:
        batch_op.drop_column("series")
    op.drop_index("uq_number_series_default", table_name="number_series")
    op.drop_table("number_series")
