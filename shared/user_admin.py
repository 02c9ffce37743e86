"""What an admin does to other users beyond creating them: switching them off and on."""

from sqlalchemy import func
from sqlmodel import Session, select

from shared.audit import record_audit
from shared.errors import ValidationError
from shared.login_sessions import end_user_sessions
from shared.models import Role, User
from shared.users import require_permission


def set_user_active(session: Session, *, actor: str, user_id: int, active: bool) -> User:
    require_permission(session, actor=actor, permission="users")
    user = session.get(User, user_id)
    if user is None:
        raise ValidationError("That user does not exist.")
    if not active:
        if user.username == actor:
            raise ValidationError("You cannot deactivate yourself.")
        if user.role == Role.ADMIN:
            admins = session.exec(
                select(func.count())
                .select_from(User)
                .where(User.role == Role.ADMIN, User.active == True)  # noqa: E712
            ).one()
            if admins <= 1:
                raise ValidationError("The last active admin cannot be deactivated.")
    user.active = active
    session.add(user)
    if not active:
        end_user_sessions(session, user_id=user.id)
    record_audit(
        session,
        actor=actor,
        action="user.activate" if active else "user.deactivate",
        entity_type="user",
        entity_id=user.id,
        details={"username": user.username},
    )
    return user
