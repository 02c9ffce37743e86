"""customer country: the registration-number check and the e-invoice's buyer country

Existing customers get the country their VAT number names (Greece writes EL, Northern
Ireland XI), which is what the app inferred until now; the others are Latvian.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-01 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("country", sa.String(length=2), nullable=False, server_default="LV")
        )
    op.execute(
        """
        UPDATE customer SET country = CASE upper(substr(vat_number, 1, 2))
            WHEN 'EL' THEN 'GR'
            WHEN 'XI' THEN 'GB'
            ELSE upper(substr(vat_number, 1, 2)) END
        WHERE upper(substr(vat_number, 1, 1)) BETWEEN 'A' AND 'Z'
          AND upper(substr(vat_number, 2, 1)) BETWEEN 'A' AND 'Z'
        """
    )


def downgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_column("country")
