"""Settings → Users: everyone who can sign in, and whether they can now."""

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select

from shared.company import to_local
from shared.db import read_session
from shared.exports import Column, Table
from shared.models import User

USER_COLUMNS = (
    Column("username", "Username"),
    Column("full_name", "Full name"),
    Column("role", "Role"),
    Column("active", "Active"),
    Column("last_login", "Last login", "datetime"),
    Column("locked_until", "Locked until", "datetime"),
)


class UserRow(NamedTuple):
    username: str
    full_name: str
    role: str
    active: str  # "yes" or "no", as shown and exported
    last_login: datetime | None
    locked_until: datetime | None


def user_table(*, tz: str) -> Table:
    with read_session() as session:
        rows = session.execute(
            select(
                User.id,
                User.username,
                User.full_name,
                User.role,
                User.active,
                User.last_login_at,
                User.locked_until,
            ).order_by(User.username)
        ).all()
    return Table(
        USER_COLUMNS,
        tuple(
            UserRow(
                username=r.username,
                full_name=r.full_name,
                role=r.role,
                active="yes" if r.active else "no",
                last_login=to_local(r.last_login_at, tz),
                locked_until=to_local(r.locked_until, tz),
            )
            for r in rows
        ),
        total=len(rows),
        ids=tuple(r.id for r in rows),
    )
