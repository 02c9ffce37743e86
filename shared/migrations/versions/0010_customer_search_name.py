"""customers are searched by their casefolded name

SQLite's LIKE folds ASCII only, so "ēdnīca" did not find "SIA Jūrmalas Ēdnīca & Co";
PostgreSQL's ILIKE depends on the database's ctype. customer.search_name holds the name
casefolded in Python (shared.text.search_key), the same on both backends; existing rows are
filled here with that same function.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 08:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from shared.text import search_key

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("search_name", sa.String(length=600), nullable=False, server_default="")
        )
    customer = sa.table(
        "customer", sa.column("id", sa.Integer), sa.column("name"), sa.column("search_name")
    )
    connection = op.get_bind()
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(customer.c.id, customer.c.name)
            .where(customer.c.id > last_id)
            .order_by(customer.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        connection.execute(
            customer.update()
            .where(customer.c.id == sa.bindparam("row_id"))
            .values(search_name=sa.bindparam("folded")),
            [{"row_id": row.id, "folded": search_key(row.name)} for row in rows],
        )
        last_id = rows[-1].id
    # The model has no server default: every ORM write fills the column itself.
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.alter_column("search_name", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_column("search_name")
