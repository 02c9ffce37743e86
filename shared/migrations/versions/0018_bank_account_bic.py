"""bank accounts carry their BIC, printed with the IBAN and put into the SEPA QR code

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("bank_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "bic",
                sqlmodel.sql.sqltypes.AutoString(length=11),
                nullable=False,
                server_default="",
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("bank_account", schema=None) as batch_op:
        batch_op.drop_column("bic")
