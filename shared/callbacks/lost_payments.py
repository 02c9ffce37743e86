"""The lost-payment watch: a customer opened the pay link, and no payment is known since.

Usually they did not pay (yet). But a payment whose every callback was lost is not known
to the app at all, and EveryPay's API offers no lookup by order reference, so nothing
else would ever notice it: the invoice would stay open and the reminders would ask the
customer to pay again. So once ``LOST_PAYMENT_AFTER_HOURS`` have passed after an opening
with no payment attempt seen since, the invoice goes on the exceptions queue with the
hint to find the payment by its reference, and its reminders are held until someone
resolves the item.

``Invoice.pay_link_opened_at`` holds the first opening not looked at yet: set by the
public pay route when it is empty, read and moved on (or emptied) by the check, which
runs at the end of every reconciler pass.
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import exists, update
from sqlmodel import Session, col, func, select

from shared.audit import SYSTEM_ACTOR
from shared.callbacks.reviews import open_review
from shared.config import get_settings
from shared.db import read_session, write_session
from shared.invoicing import OPEN_STATUSES, lock_invoice, order_reference
from shared.models import (
    FunnelEvent,
    FunnelStep,
    Invoice,
    PaymentAttempt,
    ReviewItem,
    ReviewKind,
    ReviewStatus,
    utcnow,
)
from shared.money import format_money

log = logging.getLogger(__name__)

# The funnel's detail for an opening of the pay link itself (not of the invoice page).
PAY_LINK_DETAIL = "pay"
# One pass looks at this many invoices at most; the next pass continues.
BATCH = 500


@dataclass
class LostPaymentReport:
    flagged: list[str] = field(default_factory=list)
    resolved: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"Lost-payment check: {len(self.flagged)} invoice(s) put on the exceptions queue, "
            f"{len(self.resolved)} exception(s) closed by a payment seen since."
        ]
        lines += [f"  flagged: {text}" for text in self.flagged]
        lines += [f"  resolved: {text}" for text in self.resolved]
        return "\n".join(lines)


def watch_pay_link_opened(*, invoice_id: int, at: datetime | None = None) -> None:
    """Starts the watch for an opening of the pay link, unless an earlier one is watched.

    A conditional UPDATE (no read first): the public page must not wait for a lock, and
    of several openings the first one counts.
    """
    with write_session() as session:
        session.exec(
            update(Invoice)
            .where(col(Invoice.id) == invoice_id)
            .where(col(Invoice.pay_link_opened_at).is_(None))
            .values(pay_link_opened_at=at or utcnow())
        )


def check_lost_payments(*, now: datetime | None = None) -> LostPaymentReport:
    """Flags invoices whose watched opening is older than the setting and closes items
    whose payment has turned up since; ``now`` lets a test run it on a simulated clock."""
    now = now or utcnow()
    cutoff = now - timedelta(hours=get_settings().lost_payment_after_hours)
    report = LostPaymentReport()
    with read_session() as session:
        due = session.exec(
            select(Invoice.id)
            .where(col(Invoice.pay_link_opened_at) <= cutoff)
            .order_by(col(Invoice.pay_link_opened_at))
            .limit(BATCH)
        ).all()
    for invoice_id in due:
        with write_session() as session:
            flagged = _look_at(session, invoice_id=invoice_id, cutoff=cutoff, now=now)
        if flagged:
            report.flagged.append(flagged)
    report.resolved = _resolve_found(now=now)
    return report


def held_invoice_ids(session: Session, *, invoice_ids: Iterable[int]) -> dict[int, int]:
    """Invoice id → open lost-payment item id, for those of ``invoice_ids`` that have one:
    their reminders are held."""
    ids = list(invoice_ids)
    held: dict[int, int] = {}
    for start in range(0, len(ids), BATCH):
        rows = session.exec(
            select(ReviewItem.invoice_id, ReviewItem.id)
            .where(col(ReviewItem.kind) == ReviewKind.LOST_PAYMENT)
            .where(col(ReviewItem.status) == ReviewStatus.OPEN)
            .where(col(ReviewItem.invoice_id).in_(ids[start : start + BATCH]))
        ).all()
        held |= {invoice_id: review_id for invoice_id, review_id in rows}
    return held


def count_held_invoices() -> int:
    """Invoices whose reminders wait for a person to look at a possibly lost payment."""
    with read_session() as session:
        return session.exec(
            select(func.count(func.distinct(ReviewItem.invoice_id)))
            .where(col(ReviewItem.kind) == ReviewKind.LOST_PAYMENT)
            .where(col(ReviewItem.status) == ReviewStatus.OPEN)
        ).one()


def resolve_lost_payment_reviews(session: Session, *, invoice_id: int, resolution: str) -> int:
    """Closes the invoice's open lost-payment items (its payment was found); how many."""
    result = session.exec(
        update(ReviewItem)
        .where(col(ReviewItem.kind) == ReviewKind.LOST_PAYMENT)
        .where(col(ReviewItem.status) == ReviewStatus.OPEN)
        .where(col(ReviewItem.invoice_id) == invoice_id)
        .values(
            status=ReviewStatus.RESOLVED,
            resolution=resolution[:1000],
            resolved_by=SYSTEM_ACTOR,
            resolved_at=utcnow(),
        )
    )
    return result.rowcount


def _look_at(session: Session, *, invoice_id: int, cutoff: datetime, now: datetime) -> str | None:
    invoice = lock_invoice(session, invoice_id=invoice_id)
    opened = invoice.pay_link_opened_at
    if opened is None or opened > cutoff:
        return None  # another pass got here first
    if invoice.status not in OPEN_STATUSES or invoice.open_minor <= 0:
        invoice.pay_link_opened_at = None
        session.add(invoice)
        return None
    last_attempt = session.exec(
        select(func.max(PaymentAttempt.created_at)).where(
            col(PaymentAttempt.invoice_id) == invoice_id
        )
    ).one()
    if last_attempt is not None and last_attempt >= opened:
        # A payment is known since that opening: watch the first opening after it, if any.
        invoice.pay_link_opened_at = session.exec(
            select(func.min(FunnelEvent.at))
            .where(col(FunnelEvent.invoice_id) == invoice_id)
            .where(col(FunnelEvent.step) == FunnelStep.LINK_OPENED)
            .where(col(FunnelEvent.detail) == PAY_LINK_DETAIL)
            .where(col(FunnelEvent.at) > last_attempt)
        ).one()
        session.add(invoice)
        return None
    invoice.pay_link_opened_at = None
    session.add(invoice)
    already_open = session.exec(
        select(
            exists()
            .where(col(ReviewItem.kind) == ReviewKind.LOST_PAYMENT)
            .where(col(ReviewItem.status) == ReviewStatus.OPEN)
            .where(col(ReviewItem.invoice_id) == invoice_id)
        )
    ).one()
    if already_open:
        return None  # one item per invoice is enough for a person to look
    hours = (now - opened).total_seconds() / 3600
    open_amount = format_money(invoice.open_minor, invoice.currency)
    open_review(
        session,
        kind=ReviewKind.LOST_PAYMENT,
        dedupe_key=f"lost_payment:{invoice_id}:{opened:%Y%m%dT%H%M%S%f}",
        reason=(
            f"The pay link of invoice {invoice.number} ({open_amount} open) was opened "
            f"{opened:%Y-%m-%d %H:%M} UTC, {hours:.0f} hours ago, and no payment is known "
            "since. If the customer paid, every callback about it was lost: ask them for the "
            "payment reference on their receipt, or look it up in the EveryPay portal "
            f"(order reference {order_reference(invoice)}), and use Find payment on this "
            "page. Reminders for this invoice are held until this is resolved."
        ),
        invoice_id=invoice_id,
        channel_id=invoice.channel_id,
        amount_minor=invoice.open_minor,
        currency=invoice.currency,
    )
    log.info("invoice %s: pay link opened %s, no payment known since", invoice.number, opened)
    return f"{invoice.number}: pay link opened {opened:%Y-%m-%d %H:%M} UTC, no payment since"


def _resolve_found(*, now: datetime) -> list[str]:
    """Closes open items whose invoice has a payment attempt since, or is no longer open:
    the payment turned up by a late callback, the customer's return or the reconciler."""
    later_attempt = (
        exists()
        .where(col(PaymentAttempt.invoice_id) == col(ReviewItem.invoice_id))
        .where(col(PaymentAttempt.created_at) > col(ReviewItem.created_at))
    )
    with read_session() as session:
        found = session.exec(
            select(ReviewItem.id, Invoice.number, Invoice.status)
            .join(Invoice, col(Invoice.id) == col(ReviewItem.invoice_id))
            .where(col(ReviewItem.kind) == ReviewKind.LOST_PAYMENT)
            .where(col(ReviewItem.status) == ReviewStatus.OPEN)
            .where(
                col(Invoice.status).not_in(OPEN_STATUSES)
                | (col(Invoice.open_minor) <= 0)
                | later_attempt
            )
        ).all()
    resolved = []
    for review_id, number, status in found:
        resolution = (
            f"Invoice {number} is {status} now; nothing is missing."
            if status not in OPEN_STATUSES
            else f"A payment for invoice {number} is known now; reminders go out again."
        )
        with write_session() as session:
            closed = session.exec(
                update(ReviewItem)
                .where(col(ReviewItem.id) == review_id)
                .where(col(ReviewItem.status) == ReviewStatus.OPEN)
                .values(
                    status=ReviewStatus.RESOLVED,
                    resolution=resolution,
                    resolved_by=SYSTEM_ACTOR,
                    resolved_at=now,
                )
            ).rowcount
        if closed:
            resolved.append(f"{number}: {resolution}")
    return resolved
