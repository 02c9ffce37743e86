"""Actions on the exceptions queue. Each one is audited with who did it and why."""

from dataclasses import dataclass

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from shared.audit import record_audit
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.i18n import language_for, text
from shared.invoicing import lock_invoice
from shared.ledger.credit_notes import (
    CREDITABLE_STATUSES,
    credit_amount,
    credit_notes_of,
    creditable_minor,
)
from shared.ledger.linkpay import book_linkpay_payment
from shared.models import (
    CreditNote,
    Customer,
    Invoice,
    LedgerEntry,
    LedgerEntryKind,
    LedgerSource,
    PaymentAttempt,
    PaymentState,
    ReviewItem,
    ReviewKind,
    ReviewStatus,
    utcnow,
)
from shared.money import format_money
from shared.states import OPEN_STATUSES
from shared.text import clean_multiline
from shared.users import require_permission

# A settled payment for less than the invoice asked: booking it as a partial payment is
# a fitting fix. Refunds and chargebacks have their own (MONEY_BACK_KINDS below); other
# kinds (overpayment, currency mismatch) need a person's decision outside the app,
# recorded with a comment.
PARTIAL_PAYMENT_KINDS = (ReviewKind.AMOUNT_MISMATCH, ReviewKind.PAID_NOT_BOOKED)


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
        raise ValidationError(
            "The payment is {state}, not settled: nothing to book.", state=attempt.state
        )
    if attempt.booked_minor:
        raise ValidationError("This payment is already booked on the invoice.")
    if invoice is None or invoice.status not in OPEN_STATUSES:
        raise ValidationError("The invoice is not open: the payment cannot be booked on it.")
    if attempt.currency != invoice.currency:
        raise ValidationError(
            "The payment is in {payment_currency}, the invoice in {currency}: resolve it with a "
            "comment instead.",
            payment_currency=attempt.currency,
            currency=invoice.currency,
        )
    amount = attempt.standing_amount_minor
    if amount <= 0:
        raise ValidationError("The payment has no amount left to book.")
    if amount > invoice.open_minor:
        raise ValidationError(
            "The payment ({amount}) is more than the open balance ({open_balance}).",
            amount=format_money(amount, attempt.currency),
            open_balance=format_money(invoice.open_minor, invoice.currency),
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

    Through the ledger's one booking key for the attempt, so a callback worker booking
    the same payment at the same moment cannot book it twice.
    """
    require_permission(session, actor=actor, permission="review")
    item = _open_item(session, review_id)
    attempt, invoice = _bookable(session, item, lock=True)
    amount = attempt.standing_amount_minor
    if not book_linkpay_payment(
        session, attempt=attempt, invoice=invoice, amount=amount, actor=actor
    ):
        raise ValidationError("This payment is already booked on the invoice.")
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


# Money that went back to the payer (refund, chargeback): a credit note for it settles the
# invoice again; "the customer still owes it" leaves it open and lets reminders resume.
MONEY_BACK_KINDS = (ReviewKind.REFUND, ReviewKind.CHARGEBACK)
_MONEY_BACK_SOURCES = {
    ReviewKind.REFUND: LedgerSource.REFUND,
    ReviewKind.CHARGEBACK: LedgerSource.CHARGEBACK,
}
_CREDIT_LINE_KEYS = {ReviewKind.REFUND: "line_refund", ReviewKind.CHARGEBACK: "line_chargeback"}


@dataclass(frozen=True)
class MoneyBackOptions:
    """What the exceptions page offers for an open refund or chargeback item."""

    review_id: int
    kind: str
    amount: str
    can_credit: bool
    why_not: str
    credit_notes: tuple[tuple[int, str], ...]  # (id, "number · total") of the invoice


def money_back_options(*, review_id: int) -> MoneyBackOptions | None:
    with read_session() as session:
        item = session.get(ReviewItem, review_id)
        if item is None or item.status != ReviewStatus.OPEN or item.kind not in MONEY_BACK_KINDS:
            return None
        try:
            _money_back(session, item)
            why_not = ""
        except ValidationError as error:
            why_not = str(error)
        notes = credit_notes_of(session, invoice_id=item.invoice_id) if item.invoice_id else []
        return MoneyBackOptions(
            review_id=item.id,
            kind=item.kind,
            amount=format_money(item.amount_minor or 0, item.currency or "EUR"),
            can_credit=not why_not,
            why_not=why_not,
            credit_notes=tuple(
                (note.id, f"{note.number} · {format_money(note.total_minor, note.currency)}")
                for note in notes
            ),
        )


def _money_back(session: Session, item: ReviewItem) -> tuple[PaymentAttempt, Invoice]:
    """The payment and invoice of a refund or chargeback whose money went back on the
    ledger, and which a credit note of the item's amount still fits, or why not."""
    if item.kind not in MONEY_BACK_KINDS:
        raise ValidationError("This exception is not a refund or chargeback.")
    attempt = session.get(PaymentAttempt, item.payment_attempt_id or 0)
    invoice = session.get(Invoice, item.invoice_id or 0)
    if attempt is None or invoice is None:
        raise ValidationError("The payment is not linked to an invoice.")
    returned = session.exec(
        select(func.coalesce(func.sum(LedgerEntry.amount_minor), 0)).where(
            LedgerEntry.payment_attempt_id == attempt.id,
            LedgerEntry.kind == LedgerEntryKind.MONEY_BACK,
            LedgerEntry.source == _MONEY_BACK_SOURCES[item.kind],
        )
    ).one()
    amount = item.amount_minor or 0
    if amount <= 0 or returned < amount:
        raise ValidationError(
            "None of this payment went back on the invoice's balance: no credit note is "
            "needed; mark it resolved."
        )
    if invoice.status not in CREDITABLE_STATUSES or amount > creditable_minor(invoice):
        raise ValidationError(
            "Invoice {number} has less than {amount} left to credit; issue a credit note from the "
            "invoice page instead.",
            number=invoice.number,
            amount=format_money(amount, invoice.currency),
        )
    return attempt, invoice


def credit_money_back(
    session: Session, *, actor: str, review_id: int, comment: str = ""
) -> CreditNote:
    """One credit note for the amount that went back (a single line "Refund of payment
    <ref>", split over the invoice's VAT rates as ``credit_amount`` does), and the item
    resolved: the invoice's open balance is back where it was before the refund."""
    require_permission(session, actor=actor, permission="review")
    item = _open_item(session, review_id)
    attempt, invoice = _money_back(session, item)
    customer = session.get(Customer, invoice.customer_id)
    language = language_for(customer.language if customer else None)
    reference = attempt.payment_reference
    what = "Refund" if item.kind == ReviewKind.REFUND else "Chargeback"
    note = credit_amount(
        session,
        actor=actor,
        invoice_id=invoice.id,
        reason=f"{what} of payment {reference} at EveryPay",
        amount_minor=item.amount_minor or 0,
        description=text(language, _CREDIT_LINE_KEYS[item.kind], reference=reference),
    )
    resolution = (
        f"Credit note {note.number} issued for {format_money(note.total_minor, note.currency)}."
    )
    _resolve(session, item, actor=actor, resolution=_with_comment(resolution, comment))
    record_audit(
        session,
        actor=actor,
        action="review.credit_note",
        entity_type="review_item",
        entity_id=item.id,
        details={"kind": item.kind, "credit_note": note.number, "total_minor": note.total_minor},
    )
    return note


def link_credit_note(
    session: Session, *, actor: str, review_id: int, credit_note_id: int, comment: str = ""
) -> ReviewItem:
    """Resolves a refund with a credit note issued already (by hand, from the invoice)."""
    require_permission(session, actor=actor, permission="review")
    item = _open_item(session, review_id)
    if item.kind != ReviewKind.REFUND:
        raise ValidationError("Only a refund is resolved by linking a credit note.")
    note = session.get(CreditNote, credit_note_id)
    if note is None or note.invoice_id != item.invoice_id:
        raise ValidationError("Choose a credit note of this invoice.", field="credit_note")
    resolution = f"Refund covered by credit note {note.number}."
    _resolve(session, item, actor=actor, resolution=_with_comment(resolution, comment))
    record_audit(
        session,
        actor=actor,
        action="review.link_credit_note",
        entity_type="review_item",
        entity_id=item.id,
        details={"credit_note": note.number},
    )
    return item


def dispute_chargeback(session: Session, *, actor: str, review_id: int, comment: str) -> ReviewItem:
    """Finance contests the chargeback: the customer still owes the money, so the invoice
    stays open for it and reminders resume."""
    require_permission(session, actor=actor, permission="review")
    comment = clean_multiline(comment, field="comment", label="Comment", max_length=1000)
    if not comment:
        raise ValidationError("Write why the customer still owes it.", field="comment")
    item = _open_item(session, review_id)
    if item.kind != ReviewKind.CHARGEBACK:
        raise ValidationError("This exception is not a chargeback.")
    amount = format_money(item.amount_minor or 0, item.currency or "EUR")
    _resolve(
        session,
        item,
        actor=actor,
        resolution=f"Disputed: the customer still owes {amount}. {comment}",
    )
    record_audit(
        session,
        actor=actor,
        action="review.dispute_chargeback",
        entity_type="review_item",
        entity_id=item.id,
        details={"comment": comment[:200]},
    )
    return item


def _with_comment(resolution: str, comment: str) -> str:
    return f"{resolution} {comment.strip()}" if comment.strip() else resolution


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
