"""The append-only audit log. Callers pass descriptions, never secret values."""

from datetime import datetime
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


def audit_row(
    *,
    actor: str,
    action: str,
    entity_type: str = "",
    entity_id: object = "",
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
    at: datetime,
) -> dict[str, Any]:
    """One audit entry as ``record_audits`` inserts it (the same fields ``record_audit``
    fills)."""
    return {
        "at": at,
        "actor": actor or SYSTEM_ACTOR,
        "action": action,
        "entity_type": entity_type,
        "entity_id": "" if entity_id is None else str(entity_id),
        "outcome": outcome,
        "details": details or {},
    }


def record_audits(session: Session, rows: list[dict[str, Any]]) -> None:
    """Many audit entries in one INSERT (a bulk action writes one per row it touched)."""
    if rows:
        session.execute(AuditLog.__table__.insert(), rows)
