"""Settings → Audit log: who did what, when, with what outcome; newest first."""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import Row, Select, select

from shared.audit import action_label
from shared.company import to_local
from shared.exports import Column, Table
from shared.models import AuditLog
from shared.text import search_text
from shared.views.common import Window, count, local_days, page, stream

AUDIT_COLUMNS = (
    Column("at", "Time", "datetime"),
    Column("actor", "Who"),
    Column("action", "Action"),
    Column("entity", "Entity"),
    Column("outcome", "Outcome"),
    Column("details", "Details"),
)


class AuditRow(NamedTuple):
    at: datetime | None
    actor: str
    action: str
    entity: str
    outcome: str
    details: str


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""  # one action code, e.g. "invoice.issue"
    outcome: str = ""
    date_from: date | None = None
    date_to: date | None = None


def _audit_conditions(flt: AuditFilter, *, tz: str) -> list:
    conditions: list = []
    actor = search_text(flt.actor)
    if actor:
        conditions.append(AuditLog.actor == actor.lower())
    action = search_text(flt.action)
    if action:
        conditions.append(AuditLog.action == action)
    if flt.outcome:
        conditions.append(AuditLog.outcome == flt.outcome)
    conditions += local_days(AuditLog.at, flt.date_from, flt.date_to, tz)
    return conditions


def _audit_select(flt: AuditFilter, *, tz: str) -> Select:
    return (
        select(
            AuditLog.id,
            AuditLog.at,
            AuditLog.actor,
            AuditLog.action,
            AuditLog.entity_type,
            AuditLog.entity_id,
            AuditLog.outcome,
            AuditLog.details,
        )
        .where(*_audit_conditions(flt, tz=tz))
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
    )


def _audit_row(row: Row, tz: str) -> AuditRow:
    (_, at, actor, action, entity_type, entity_id, outcome, details) = row
    return AuditRow(
        at=to_local(at, tz),
        actor=actor,
        action=action_label(action),
        entity=f"{entity_type} {entity_id}".strip(),
        outcome=outcome,
        details=json.dumps(details, ensure_ascii=False, sort_keys=True) if details else "",
    )


def audit_page(flt: AuditFilter, *, tz: str, offset: int = 0, limit: int = 50) -> Table:
    def query(session, _dialect: str, window: Window):
        conditions = _audit_conditions(flt, tz=tz)
        stmt = _audit_select(flt, tz=tz)
        return count(session, AuditLog, conditions), window.apply(stmt)

    return page(AUDIT_COLUMNS, query, lambda row: _audit_row(row, tz), offset=offset, limit=limit)


def audit_rows(flt: AuditFilter, *, tz: str) -> Iterator[AuditRow]:
    stmt = _audit_select(flt, tz=tz)
    return stream(stmt, lambda row: _audit_row(row, tz))
