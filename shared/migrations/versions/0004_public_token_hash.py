"""invoice public tokens stored as SHA-256 and ciphertext, no longer in plain text

The token in a customer's link /i/{token} opens the invoice, its PDF and its pay link:
whoever reads the database must not get working links from it. Each existing token is
hashed (for the lookup) and encrypted under the secret key file (so e-mails, reminders and
"copy link" can still print it); the plain column goes.

The key is the application's own: this migration runs inside ``linkpay-desk init-db`` (or
any ``upgrade_to_head``) with the same settings as the services, so
``shared.security.encrypt_secret`` finds the key file through ``LINKPAY_SECRET_KEY_FILE`` /
``LINKPAY_DATA_DIR``, and creates it if this is the first secret ever stored.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 07:00:00
"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from shared.security import decrypt_secret, encrypt_secret, token_hash

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 1000
_invoice = sa.table(
    "invoice",
    sa.column("id", sa.Integer),
    sa.column("public_token", sa.String),
    sa.column("public_token_hash", sa.String),
    sa.column("public_token_encrypted", sa.Text),
)


def _rewrite(source: str, targets: tuple[str, ...], convert: Callable[[str], tuple]) -> None:
    """Fills ``targets`` from ``source`` row by row, in batches: a million invoices must
    not be held in memory at once."""
    connection = op.get_bind()
    last_id = 0
    while True:
        rows = connection.execute(
            sa.select(_invoice.c.id, _invoice.c[source])
            .where(_invoice.c.id > last_id)
            .order_by(_invoice.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            _invoice.update()
            .where(_invoice.c.id == sa.bindparam("row_id"))
            .values({name: sa.bindparam(f"new_{name}") for name in targets}),
            [
                {
                    "row_id": row_id,
                    **dict(zip((f"new_{n}" for n in targets), convert(value), strict=True)),
                }
                for row_id, value in rows
            ],
        )
        last_id = rows[-1][0]


def upgrade() -> None:
    connection = op.get_bind()
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Zero freed pages and cells: without it the old tokens stay readable in the
        # file's free space after the column is gone.
        secure_delete = connection.exec_driver_sql("PRAGMA secure_delete").scalar()
        connection.exec_driver_sql("PRAGMA secure_delete = ON")
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "public_token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True
            )
        )
        batch_op.add_column(sa.Column("public_token_encrypted", sa.Text(), nullable=True))
    _rewrite(
        "public_token",
        ("public_token_hash", "public_token_encrypted"),
        lambda token: (token_hash(token), encrypt_secret(token)),
    )
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.alter_column("public_token_hash", nullable=False)
        batch_op.alter_column("public_token_encrypted", nullable=False)
        batch_op.create_unique_constraint("uq_invoice_public_token_hash", ["public_token_hash"])
        batch_op.drop_column("public_token")
    if sqlite:
        connection.exec_driver_sql(f"PRAGMA secure_delete = {int(secure_delete)}")
    else:
        # PostgreSQL only marks a dropped column as gone and keeps every row version the
        # update replaced: rewriting the table (allowed in a transaction, unlike VACUUM
        # FULL) leaves the live rows alone on disk, without the tokens.
        op.execute("CLUSTER invoice USING invoice_pkey")
        op.execute("ALTER TABLE invoice SET WITHOUT CLUSTER")


def downgrade() -> None:
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("public_token", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
    _rewrite(
        "public_token_encrypted",
        ("public_token",),
        lambda ciphertext: (decrypt_secret(ciphertext),),
    )
    with op.batch_alter_table("invoice", schema=None) as batch_op:
        batch_op.alter_column("public_token", nullable=False)
        batch_op.create_unique_constraint("uq_invoice_public_token", ["public_token"])
        batch_op.drop_constraint("uq_invoice_public_token_hash", type_="unique")
        batch_op.drop_column("public_token_hash")
        batch_op.drop_column("public_token_encrypted")
