"""Actions on the exceptions queue. Each one is audited with who did it and why."""

from sqlalchemy import update
from sqlmodel import Session, col, select

from shared.audit import record_audit
from shared.channels import ValidationError
from shared.db import read_session, write_session
from shared.invoicing import OPEN_STATUSES, book_payment, lock_invoice
from shared.models import (
    Invoice,
    PaymentAttempt,
    PaymentState,
    ReviewItem,
    ReviewKind,
    ReviewStatus,
    utcnow,
)
from shared.money import format_money
from shared.text import clean_multiline
from shared.users import require_permission

# A settled payment for less than the invoice asked: booking it as a partial payment is
# a fitting fix. Other kinds (overpayment, refunds, currency mismatch) need a person's
# decision outside the app, recorded with a comment.
PARTIAL_PAYMENT_KINDS = (ReviewKind.AMOUNT_MISMATCH, ReviewKind.PAID_NOT_BOOKED)

KIND_LABELS = {
    ReviewKind.AMOUNT_MISMATCH: "Amount mismatch",
    ReviewKind.CURRENCY_MISMATCH: "Currency mismatch",
    ReviewKind.OVERPAYMENT: "Overpayment",
    ReviewKind.CHARGEBACK: "Chargeback",
    ReviewKind.REFUND: "Refund",
    ReviewKind.STUCK_PENDING: "Stuck pending",
    ReviewKind.UNVERIFIED_CALLBACK: "Callback not verified",
    ReviewKind.NOT_OURS: "Not our payment",
    ReviewKind.PAID_NOT_BOOKED: "Paid at EveryPay, not in the books",
    ReviewKind.LOST_PAYMENT: "Lost payment?",
}


def _open_item(session: Session, review_id: int) -> ReviewItem:
    item = session.get(ReviewItem, review_id)
    if item is None:
        raise ValidationError("That exception does not exist.")
    if item.status != ReviewStatus.OPEN:
        raise ValidationError("That exception is already resolved.")
    return item


def _resolve(session: Session, item: ReviewItem, *, actor: str, resolution: str) -> None:
    """Closes the item only if it is still open: of two people acting on it at once, the
    second is told, and its transaction (which may have booked money) rolls back."""
    closed = session.exec(
        update(ReviewItem)
        .where(col(ReviewItem.id) == item.id, col(ReviewItem.status) == ReviewStatus.OPEN)
        .values(
            status=ReviewStatus.RESOLVED,
            resolution=resolution[:1000],
            resolved_by=actor,
            resolved_at=utcnow(),
        )
    )
    if closed.rowcount != 1:
        raise ValidationError("That exception is already resolved.")


def _bookable(
    session: Session, item: ReviewItem, *, lock: bool = False
) -> tuple[PaymentAttempt, Invoice]:
    """The settled, unbooked payment and the open invoice it fits into, or why not."""
    if item.status != ReviewStatus.OPEN or item.kind not in PARTIAL_PAYMENT_KINDS:
        raise ValidationError("This exception cannot be accepted as a partial payment.")
    attempt = session.get(PaymentAttempt, item.payment_attempt_id or 0)
    if attempt is None or attempt.invoice_id is None:
        raise ValidationError("The payment is not linked to an invoice.")
    if lock:
        # Invoice before attempt, the booking path's order; the attempt is read again
        # under its lock, so a refund applied meanwhile is seen, not a stale amount.
        invoice = lock_invoice(session, invoice_id=attempt.invoice_id)
        attempt = session.exec(
            select(PaymentAttempt)
            .where(col(PaymentAttempt.id) == attempt.id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        ).one()
    else:
        invoice = session.get(Invoice, attempt.invoice_id)
    if attempt.state != PaymentState.SETTLED:
        raise ValidationError(f"The payment is {attempt.state}, not settled: nothing to book.")
    if attempt.booked_minor:
        raise ValidationError("This payment is already booked on the invoice.")
    if invoice is None or invoice.status not in OPEN_STATUSES:
        raise ValidationError("The invoice is not open: the payment cannot be booked on it.")
    if attempt.currency != invoice.currency:
        raise ValidationError(
            f"The payment is in {attempt.currency}, the invoice in {invoice.currency}: "
            "resolve it with a comment instead."
        )
    amount = attempt.standing_amount_minor
    if amount <= 0:
        raise ValidationError("The payment has no amount left to book.")
    if amount > invoice.open_minor:
        raise ValidationError(
            f"The payment ({format_money(amount, attempt.currency)}) is more than the open "
            f"balance ({format_money(invoice.open_minor, invoice.currency)})."
        )
    return attempt, invoice


def can_accept_partial(session: Session, item: ReviewItem) -> bool:
    try:
        _bookable(session, item)
    except ValidationError:
        return False
    return True


def can_reconcile(item: ReviewItem) -> bool:
    return item.status == ReviewStatus.OPEN and item.payment_attempt_id is not None


def mark_resolved(session: Session, *, actor: str, review_id: int, comment: str) -> ReviewItem:
    require_permission(session, actor=actor, permission="review")
    comment = clean_multiline(comment, field="comment", label="Comment", max_length=1000)
    if not comment:
        raise ValidationError("Write what was done, so others can follow it.", field="comment")
    item = _open_item(session, review_id)
    _resolve(session, item, actor=actor, resolution=comment)
    record_audit(
        session,
        actor=actor,
        action="review.resolve",
        entity_type="review_item",
        entity_id=item.id,
        details={"kind": item.kind, "comment": comment[:200]},
    )
    return item


def accept_partial_payment(
    session: Session, *, actor: str, review_id: int, comment: str = ""
) -> ReviewItem:
    """Books a settled attempt's standing amount on its invoice and closes the item.

    The attempt is claimed with a conditional update on ``booked_minor = 0`` so that a
    callback worker booking the same payment at the same moment cannot book it twice.
    """
    require_permission(session, actor=actor, permission="review")
    item = _open_item(session, review_id)
    attempt, invoice = _bookable(session, item, lock=True)
    amount = attempt.standing_amount_minor
    claimed = session.exec(
        update(PaymentAttempt)
        .where(col(PaymentAttempt.id) == attempt.id, col(PaymentAttempt.booked_minor) == 0)
        .values(booked_minor=amount, updated_at=utcnow())
    )
    if claimed.rowcount != 1:
        raise ValidationError("This payment is already booked on the invoice.")
    book_payment(invoice, amount_minor=amount)
    session.add(invoice)
    resolution = f"Accepted as partial payment of {format_money(amount, attempt.currency)}."
    if comment.strip():
        resolution += f" {comment.strip()}"
    _resolve(session, item, actor=actor, resolution=resolution)
    record_audit(
        session,
        actor=actor,
        action="review.accept_partial",
        entity_type="review_item",
        entity_id=item.id,
        details={
            "invoice": invoice.number,
            "amount_minor": amount,
            "currency": attempt.currency,
            "open_minor_after": invoice.open_minor,
        },
    )
    return item


def reconcile_review_item(*, actor: str, review_id: int) -> str:
    """Asks EveryPay again about the item's payment, through the reconciler."""
    with read_session() as session:
        require_permission(session, actor=actor, permission="review")
        item = _open_item(session, review_id)
        if not can_reconcile(item):
            raise ValidationError("This exception has no payment to ask EveryPay about.")
        attempt_id = item.payment_attempt_id
    # Imported here: the reconciler pulls in the HTTP client and the processing rules,
    # which the rest of this module does not need.
    from shared.callbacks.reconciler import reconcile_attempt

    message = reconcile_attempt(attempt_id=attempt_id, actor=actor)
    with write_session() as session:
        record_audit(
            session,
            actor=actor,
            action="review.reconcile",
            entity_type="review_item",
            entity_id=review_id,
            details={"attempt_id": attempt_id, "result": message[:200]},
        )
    return message
