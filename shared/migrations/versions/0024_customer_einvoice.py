"""customers carry their Peppol participant id and default sending method; e-mails record
whether they carried the e-invoice XML

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _text(name: str, length: int, default: str) -> sa.Column:
    return sa.Column(
        name,
        sqlmodel.sql.sqltypes.AutoString(length=length),
        nullable=False,
        server_default=default,
    )


def upgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(_text("peppol_scheme", 4, ""))
        batch_op.add_column(_text("peppol_id", 50, ""))
        batch_op.add_column(_text("sending_method", 16, "email"))
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("einvoice_attached", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("message_log", schema=None) as batch_op:
        batch_op.drop_column("einvoice_attached")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_column("sending_method")
        batch_op.drop_column("peppol_id")
        batch_op.drop_column("peppol_scheme")
