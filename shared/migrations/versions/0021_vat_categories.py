"""VAT category and exemption on invoice and credit-note lines

Existing lines become S above 0 % and Z at 0 %, which is how they were read before.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("invoice_line", "credit_note_line")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column(
                    "vat_category",
                    sqlmodel.sql.sqltypes.AutoString(length=2),
                    nullable=False,
                    server_default="S",
                )
            )
            batch_op.add_column(
                sa.Column(
                    "vat_exemption_reason",
                    sqlmodel.sql.sqltypes.AutoString(length=300),
                    nullable=False,
                    server_default="",
                )
            )
            batch_op.add_column(
                sa.Column(
                    "vat_exemption_code",
                    sqlmodel.sql.sqltypes.AutoString(length=30),
                    nullable=False,
                    server_default="",
                )
            )
        lines = sa.table(table, sa.column("vat_category"), sa.column("vat_rate"))
        op.execute(
            lines.update()
            .where(sa.cast(lines.c.vat_rate, sa.Numeric) == 0)
            .values(vat_category="Z")
        )


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("vat_exemption_code")
            batch_op.drop_column("vat_exemption_reason")
            batch_op.drop_column("vat_category")
