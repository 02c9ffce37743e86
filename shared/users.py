"""Local users, roles and logins with lockout after repeated failures."""

import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import update as sa_update
from sqlmodel import Session, select

from shared.audit import SYSTEM_ACTOR, record_audit
from shared.config import get_settings
from shared.errors import ValidationError
from shared.i18n import LANGUAGES
from shared.login_sessions import end_user_sessions
from shared.models import Role, User, utcnow
from shared.security import hash_password, verify_password
from shared.text import clean_single_line

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8
# Verifying against a real hash for unknown users keeps the answer time the same, so the
# login form does not tell which usernames exist. A stored hash, not one made at import:
# making it costs as much as a login (~0.1–0.7 s), paid by every process start and by the
# dashboard's first visitor. Its cost parameters must be the hasher's own (a test checks).
# The hash of a throwaway password: it opens nothing.
DUMMY_PASSWORD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$g4SwK/zLzUw/hlmslRU3CA$cZKpB5jeHhwmYbzSEsypluN+1Vb2dT164HmZYe/M1rw"  # noqa: E501, S105

# What each role may do; pages and actions check these on the server side.
PERMISSIONS: dict[str, frozenset[str]] = {
    Role.ADMIN: frozenset({"view", "edit", "setup", "review", "users", "audit", "export"}),
    Role.FINANCE: frozenset({"view", "edit", "setup", "review", "export"}),
    Role.MANAGER: frozenset({"view", "export"}),
}


# Callers that act on their own, not for a signed-in person: the callback worker and the
# reconciler ("system", also reminders), the command line ("cli"), demo seeding ("demo").
# They may do anything.
SYSTEM_ACTORS = frozenset({SYSTEM_ACTOR, "cli", "demo"})
# No account may be created under a system actor's name (an account found under one is
# judged by its role all the same).
RESERVED_USERNAMES = SYSTEM_ACTORS


class PermissionDenied(ValidationError):
    """The actor may not do this. A ValidationError, so every page shows it as a message."""


def can(role: str | None, permission: str) -> bool:
    return permission in PERMISSIONS.get(role or "", frozenset())


def require_permission(session: Session, *, actor: str, permission: str) -> None:
    """Refuses unless ``actor`` is an active user whose role holds ``permission``, or one
    of the system actors; the second line behind the pages' own checks.

    A user account is always judged by its role, whatever its name, so a person can never
    pass as a system actor.
    """
    user = session.exec(select(User).where(User.username == actor)).first()
    if user is None and actor in SYSTEM_ACTORS:
        return
    if user is not None and user.active and can(user.role, permission):
        return
    logger.warning("refused %r to %r (role %s)", permission, actor, user.role if user else None)
    raise PermissionDenied("Your role does not allow this action.")


def create_user(
    session: Session,
    *,
    actor: str,
    username: str,
    password: str,
    role: str,
    full_name: str = "",
) -> User:
    require_permission(session, actor=actor, permission="users")
    username = username.strip().lower()
    if not re.fullmatch(r"[a-z0-9._-]{3,64}", username):
        raise ValidationError(
            "Username: 3–64 characters, letters, digits, dot, dash or underscore.",
            field="username",
        )
    if username in RESERVED_USERNAMES:
        raise ValidationError(
            "{username} is reserved for the system.", username=username, field="username"
        )
    if role not in {r.value for r in Role}:
        raise ValidationError("Role must be admin, finance or manager.", field="role")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            "Password must have at least {min_length} characters.",
            min_length=MIN_PASSWORD_LENGTH,
            field="password",
        )
    full_name = clean_single_line(full_name, field="full_name", label="Full name", max_length=200)
    if session.exec(select(User).where(User.username == username)).first():
        raise ValidationError(
            "User {username} already exists.", username=username, field="username"
        )
    user = User(
        username=username, password_hash=hash_password(password), role=role, full_name=full_name
    )
    session.add(user)
    session.flush()
    record_audit(
        session,
        actor=actor,
        action="user.create",
        entity_type="user",
        entity_id=user.id,
        details={"username": username, "role": role},
    )
    return user


def set_password(session: Session, *, actor: str, username: str, password: str) -> User:
    require_permission(session, actor=actor, permission="users")
    user = session.exec(select(User).where(User.username == username.strip().lower())).first()
    if user is None:
        raise ValidationError("No user {username}.", username=username, field="username")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            "Password must have at least {min_length} characters.",
            min_length=MIN_PASSWORD_LENGTH,
            field="password",
        )
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    # Whoever knew the old password is signed out with it, in every browser.
    end_user_sessions(session, user_id=user.id)
    record_audit(
        session, actor=actor, action="user.set_password", entity_type="user", entity_id=user.id
    )
    return user


@dataclass(frozen=True)
class LoginResult:
    ok: bool
    # English with ``{name}`` places for ``message_values`` (the login page translates it).
    message: str
    user_id: int | None = None
    username: str | None = None
    role: str | None = None
    message_values: dict[str, object] = field(default_factory=dict)


def authenticate(session: Session, *, username: str, password: str) -> LoginResult:
    settings = get_settings()
    username = username.strip().lower()
    # Locked until the caller's transaction ends: parallel attempts on one account take
    # turns, each reading the count the one before it left, so no more than
    # ``login_max_failures`` passwords are ever checked before the lockout holds.
    user = session.exec(
        select(User)
        .where(User.username == username)
        .with_for_update(key_share=True)
        .execution_options(populate_existing=True)
    ).first()
    now = utcnow()
    if user is None or not user.active:
        verify_password(DUMMY_PASSWORD_HASH, password)
        record_audit(
            session,
            actor=username or "?",
            action="login",
            outcome="failed",
            details={"reason": "unknown or inactive user"},
        )
        return LoginResult(False, "Wrong username or password.")
    if user.locked_until and user.locked_until > now:
        record_audit(session, actor=username, action="login", outcome="locked")
        minutes = max(1, int((user.locked_until - now).total_seconds() // 60) + 1)
        return LoginResult(
            False,
            "Too many failed attempts. Try again in {minutes} minute(s).",
            message_values={"minutes": minutes},
        )
    if not verify_password(user.password_hash, password):
        user.failed_logins += 1
        if user.failed_logins >= settings.login_max_failures:
            user.locked_until = now + timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins = 0
        session.add(user)
        record_audit(
            session,
            actor=username,
            action="login",
            outcome="failed",
            details={"reason": "wrong password"},
        )
        return LoginResult(False, "Wrong username or password.")
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    session.add(user)
    record_audit(session, actor=username, action="login", entity_type="user", entity_id=user.id)
    return LoginResult(True, "Welcome.", user_id=user.id, username=user.username, role=user.role)


def set_user_language(session: Session, *, user_id: int, language: str | None) -> None:
    """The dashboard language a user chose for themselves (None: the company's). Anyone
    signed in may set their own; one UPDATE, so two tabs choosing at once cannot clash."""
    if language is not None and language not in LANGUAGES:
        raise ValidationError("Unknown language {code}.", field="language", code=language)
    session.execute(sa_update(User).where(User.id == user_id).values(language=language))
