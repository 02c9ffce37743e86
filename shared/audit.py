"""The append-only audit log. Callers pass descriptions, never secret values."""

from typing import Any

from sqlmodel import Session

from shared.models import AuditLog

SYSTEM_ACTOR = "system"


def record_audit(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_type: str = "",
    entity_id: object = "",
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
) -> AuditLog:
    entry = AuditLog(
        actor=actor or SYSTEM_ACTOR,
        action=action,
        entity_type=entity_type,
        entity_id="" if entity_id is None else str(entity_id),
        outcome=outcome,
        details=details or {},
    )
    session.add(entry)
    return entry
