"""Dashboard sign-ins that survive a reload, a new tab and a pasted link.

A sign-in is a ``LoginSession`` row; the browser holds a cookie naming it. The cookie is
HttpOnly (no script on the page can read it) and SameSite=Strict (another site cannot make
the browser use it), and it is signed under a key derived from the secret key file, on top
of the random token whose SHA-256 the row keeps: neither a copied database nor a made-up
cookie signs anyone in.

Streamlit runs page scripts over a websocket and cannot set a cookie, so the login form
hands the browser a one-time ticket, which the signed-in page posts to ``/session/start``
in the background (see dashboard/session_routes.py) in exchange for the cookie. Every
script run reads the cookie through ``st.context.cookies`` and checks the row here:
deleted on logout, on a password change and on deactivation, so those end every tab at its
next click.
"""

import base64
import hashlib
import hmac
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlmodel import Session, select

from shared.config import get_settings
from shared.models import LoginSession, User
from shared.security import new_token, signing_keys, token_hash

COOKIE_NAME = "linkpay_session"
# The signed-in page posts the ticket at once; a ticket older than this is void.
TICKET_SECONDS = 60
# A user's clicks extend the session; writing that down once a minute is precise enough
# for a timeout counted in minutes and keeps writes off most clicks.
TOUCH_EVERY_SECONDS = 60


@dataclass(frozen=True)
class StartedSession:
    session_id: int
    ticket: str


@dataclass(frozen=True)
class SessionCheck:
    """A session as one script run sees it: whose, and since when; or why it ended."""

    user_id: int | None = None
    username: str = ""
    role: str = ""
    created_at: datetime | None = None
    last_seen_at: datetime | None = None
    # The dashboard language the user chose (None: the company's).
    language: str | None = None
    # Why it ended: English with ``{name}`` places for ``ending_values`` (shown translated).
    ending: str = ""
    ending_values: dict[str, object] = field(default_factory=dict)

    @property
    def ended(self) -> str:
        """Why the session ended, in English; "" while it holds."""
        return self.ending.format(**self.ending_values)


def at_time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def start_session(session: Session, *, user_id: int, now: datetime) -> StartedSession:
    """A new sign-in of ``user_id`` and the one-time ticket its browser exchanges for the
    cookie. Sessions that ended unnoticed (idle or past their lifetime) are swept here."""
    settings = get_settings()
    session.exec(
        delete(LoginSession).where(
            or_(
                LoginSession.expires_at < now,
                LoginSession.last_seen_at
                < now - timedelta(minutes=settings.session_timeout_minutes),
            )
        )
    )
    ticket = new_token(32)
    row = LoginSession(
        user_id=user_id,
        ticket_hash=token_hash(ticket),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_max_hours),
    )
    session.add(row)
    session.flush()
    assert row.id is not None
    return StartedSession(session_id=row.id, ticket=ticket)


def redeem_ticket(session: Session, *, ticket: str, now: datetime) -> str | None:
    """The signed cookie value for a fresh ticket, once; None for a used, old or unknown one.

    A conditional UPDATE: two requests with one ticket cannot both get a cookie."""
    token = new_token(32)
    result = session.exec(
        update(LoginSession)
        .where(
            LoginSession.ticket_hash == token_hash(ticket),
            LoginSession.token_hash.is_(None),
            LoginSession.created_at >= now - timedelta(seconds=TICKET_SECONDS),
        )
        .values(ticket_hash=None, token_hash=token_hash(token))
        .returning(LoginSession.id)
    ).first()
    if result is None:
        return None
    return _sign(f"{result[0]}.{token}")


def session_of_cookie(session: Session, *, cookie: str) -> int | None:
    """The session a cookie names, if its signature and token are right."""
    parts = cookie.split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    payload = f"{parts[0]}.{parts[1]}"
    if not any(hmac.compare_digest(parts[2], _signature(key, payload)) for key in _keys()):
        return None
    found = session.exec(
        select(LoginSession.id).where(
            LoginSession.id == int(parts[0]), LoginSession.token_hash == token_hash(parts[1])
        )
    ).first()
    return found


def check_session(
    session: Session, *, session_id: int, now: datetime, active_at: datetime | None = None
) -> SessionCheck:
    """Who holds ``session_id`` now, or why it has ended (``ended``); ending it is the
    caller's (``end_session``), after saying why. ``active_at``: the user's last click this
    caller saw, perhaps after the row was last touched."""
    settings = get_settings()
    found = session.exec(
        select(LoginSession, User)
        .join(User, User.id == LoginSession.user_id)
        .where(LoginSession.id == session_id)
    ).first()
    if found is None:
        return SessionCheck(ending="Your session has ended. Please log in again.")
    row, user = found
    last_seen = max(row.last_seen_at, active_at) if active_at else row.last_seen_at
    holder = SessionCheck(
        user_id=user.id,
        username=user.username,
        role=user.role,
        language=user.language,
        created_at=row.created_at,
        last_seen_at=last_seen,
    )
    if now - row.created_at > timedelta(hours=settings.session_max_hours):
        return replace(
            holder,
            ending="Your session ended {hours} h after you logged in. Please log in again.",
            ending_values={"hours": settings.session_max_hours},
        )
    if now - last_seen > timedelta(minutes=settings.session_timeout_minutes):
        return replace(
            holder,
            ending="Your session ended after {minutes} minutes of inactivity.",
            ending_values={"minutes": settings.session_timeout_minutes},
        )
    if not user.active:
        return replace(holder, ending="Your account is no longer active.")
    return holder


def touch_session(session: Session, *, session_id: int, now: datetime) -> None:
    """The user was active at ``now``. Never moves the time back (tabs race)."""
    session.exec(
        update(LoginSession)
        .where(LoginSession.id == session_id, LoginSession.last_seen_at < now)
        .values(last_seen_at=now)
    )


def end_session(session: Session, *, session_id: int) -> None:
    session.exec(delete(LoginSession).where(LoginSession.id == session_id))


def end_user_sessions(session: Session, *, user_id: int) -> None:
    """Signs ``user_id`` out everywhere: after a password change or deactivation."""
    session.exec(delete(LoginSession).where(LoginSession.user_id == user_id))


# --- Signing -------------------------------------------------------------------------------


def _signature(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def _sign(payload: str) -> str:
    return f"{payload}.{_signature(_keys()[0], payload)}"


def _keys() -> tuple[bytes, ...]:
    """Signing keys derived from the secret key file's keys, current first: a key rotation
    keeps existing sign-ins valid until the old key is dropped."""
    return signing_keys(b"linkpay-desk dashboard session cookie")
