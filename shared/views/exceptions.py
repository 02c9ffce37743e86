"""Payments → Exceptions: the review queue, newest first, and what can be done with an item."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import Row, Select, select

from shared.company import to_local
from shared.db import read_session
from shared.exports import Column, Table
from shared.models import Invoice, ReviewItem
from shared.review import can_accept_partial, can_reconcile
from shared.states import REVIEW_KIND_LABELS, REVIEW_STATUS_LABELS
from shared.views.common import Window, count, label, money, page, stream

REVIEW_COLUMNS = (
    Column("created", "Created", "datetime"),
    Column("kind", "Kind"),
    Column("reason", "Reason"),
    Column("invoice", "Invoice"),
    Column("amount", "Amount", "money"),
    Column("currency", "Currency"),
    Column("status", "Status"),
    Column("resolution", "Resolution"),
    Column("resolved_by", "Resolved by"),
)


class ReviewRow(NamedTuple):
    created: datetime | None
    kind: str
    reason: str
    invoice: str
    amount: Decimal | None
    currency: str
    status: str
    resolution: str
    resolved_by: str


@dataclass(frozen=True)
class ReviewFilter:
    statuses: tuple[str, ...] = ("open",)
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReviewInfo:
    id: int
    kind: str
    status: str
    reason: str
    invoice_id: int | None
    payment_attempt_id: int | None
    can_accept_partial: bool
    can_reconcile: bool


def _review_row(row: Row, tz: str) -> ReviewRow:
    return ReviewRow(
        created=to_local(row.created_at, tz),
        kind=label(REVIEW_KIND_LABELS, row.kind),
        reason=row.reason,
        invoice=row.number or "",
        amount=money(row.amount_minor, row.currency),
        currency=row.currency or "",
        status=label(REVIEW_STATUS_LABELS, row.status),
        resolution=row.resolution,
        resolved_by=row.resolved_by or "",
    )


def _review_conditions(flt: ReviewFilter) -> list:
    conditions: list = []
    if flt.statuses:
        conditions.append(ReviewItem.status.in_(flt.statuses))
    if flt.kinds:
        conditions.append(ReviewItem.kind.in_(flt.kinds))
    return conditions


def _review_select(conditions: list) -> Select:
    return (
        select(
            ReviewItem.id,
            ReviewItem.created_at,
            ReviewItem.kind,
            ReviewItem.reason,
            Invoice.number,
            ReviewItem.amount_minor,
            ReviewItem.currency,
            ReviewItem.status,
            ReviewItem.resolution,
            ReviewItem.resolved_by,
        )
        .outerjoin(Invoice, Invoice.id == ReviewItem.invoice_id)
        .where(*conditions)
        .order_by(ReviewItem.id.desc())
    )


def review_page(flt: ReviewFilter, *, tz: str, offset: int = 0, limit: int = 50) -> Table:
    conditions = _review_conditions(flt)

    def query(session, dialect: str, window: Window):
        return count(session, ReviewItem, conditions), window.apply(_review_select(conditions))

    return page(REVIEW_COLUMNS, query, lambda row: _review_row(row, tz), offset=offset, limit=limit)


def review_rows(flt: ReviewFilter, *, tz: str) -> Iterator[ReviewRow]:
    """Every row ``review_page`` pages through, in its order, for an export."""
    return stream(_review_select(_review_conditions(flt)), lambda row: _review_row(row, tz))


def review_info(review_id: int) -> ReviewInfo | None:
    with read_session() as session:
        item = session.get(ReviewItem, review_id)
        if item is None:
            return None
        return ReviewInfo(
            id=item.id,
            kind=item.kind,
            status=item.status,
            reason=item.reason,
            invoice_id=item.invoice_id,
            payment_attempt_id=item.payment_attempt_id,
            can_accept_partial=can_accept_partial(session, item),
            can_reconcile=can_reconcile(item),
        )
