"""The one place an invoice's balance moves: ``post_entry``.

Every way money arrives, goes back or stops being owed ends here, in the caller's write
transaction: LinkPay payments (callbacks, reconciler, the exceptions queue's "accept"),
payments finance records by hand, bank-statement lines, credit notes, refunds and
chargebacks, customer credit moved between invoices. Invariants:

- the caller holds the invoice's row lock (``invoicing.lock_invoice``, or the booking
  path's own lock in the same order: invoice before attempt), so the totals read here are
  the row's current ones and no other writer moves them until commit;
- one ``LedgerEntry`` per movement, never updated or deleted; its ``entry_key`` is unique
  and inserted with ON CONFLICT DO NOTHING, so the same movement reported twice (a
  duplicate callback, a worker racing the reconciler, a double-clicked button) posts once:
  the second caller gets ``None`` and must not tell the user anything moved;
- the invoice's totals change only here and always together with an entry, so for every
  invoice ``paid/credited/returned_minor`` are the sums of its entries by kind and
  ``open_minor = total - paid - credited + returned``;
- a LinkPay attempt's ``booked_minor`` (what it has in the invoice now) changes only here,
  by the signed effect of the attempt's own entries.
"""

from datetime import date

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col

from shared.audit import record_audit
from shared.models import (
    Invoice,
    InvoiceStatus,
    LedgerEntry,
    LedgerEntryKind,
    LedgerSource,
    PaymentAttempt,
    utcnow,
)
from shared.money import MAX_AMOUNT_MINOR
from shared.states import INVOICE_STATUSES, Group, in_group

# Statuses whose balance the ledger moves: open and paid ones. Drafts have no number yet
# and cancelled invoices were closed with nothing on them.
POSTABLE_STATUSES = frozenset(in_group(INVOICE_STATUSES, Group.OPEN)) | frozenset(
    in_group(INVOICE_STATUSES, Group.PAID)
)


def post_entry(
    session: Session,
    *,
    invoice: Invoice,
    kind: LedgerEntryKind,
    source: LedgerSource,
    amount_minor: int,
    key: str,
    actor: str,
    value_date: date | None = None,
    attempt: PaymentAttempt | None = None,
    received_payment_id: int | None = None,
    reverses_entry_id: int | None = None,
    credit_note_id: int | None = None,
    reference: str = "",
    note: str = "",
) -> LedgerEntry | None:
    """Posts one movement on the (locked) ``invoice``; ``None`` if ``key`` was posted before.

    ``amount_minor`` is what the movement adds to its kind's total: a payment received is
    positive, a payment taken back (reversal, unbooking) negative."""
    if invoice.status not in POSTABLE_STATUSES:
        raise ValueError(f"invoice {invoice.number or invoice.id} is {invoice.status}")
    if amount_minor == 0 or abs(amount_minor) > MAX_AMOUNT_MINOR:
        raise ValueError(f"ledger amount out of range: {amount_minor}")
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    entry_id = session.exec(
        insert(LedgerEntry)
        .values(
            entry_key=key[:160],
            invoice_id=invoice.id,
            customer_id=invoice.customer_id,
            kind=kind,
            source=source,
            amount_minor=amount_minor,
            currency=invoice.currency,
            value_date=value_date or utcnow().date(),
            payment_attempt_id=attempt.id if attempt else None,
            received_payment_id=received_payment_id,
            reverses_entry_id=reverses_entry_id,
            credit_note_id=credit_note_id,
            reference=reference[:140],
            note=note[:500],
            actor=actor[:64],
            booked_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["entry_key"])
        .returning(col(LedgerEntry.id))
    ).scalar_one_or_none()
    if entry_id is None:
        return None
    before = invoice.status
    _move_totals(invoice, kind=kind, amount_minor=amount_minor)
    if attempt is not None:
        back = kind == LedgerEntryKind.MONEY_BACK
        attempt.booked_minor += -amount_minor if back else amount_minor
        attempt.updated_at = utcnow()
        session.add(attempt)
        if kind == LedgerEntryKind.PAYMENT and amount_minor > 0:
            # The next pay link's order reference gets "-N": EveryPay takes one settled
            # payment per order reference.
            invoice.settled_payments += 1
    session.add(invoice)
    record_audit(
        session,
        actor=actor,
        action="invoice.ledger",
        entity_type="invoice",
        entity_id=invoice.id,
        details={
            "number": invoice.number,
            "entry_id": entry_id,
            "kind": kind,
            "source": source,
            "amount_minor": amount_minor,
            "currency": invoice.currency,
            "from_status": before,
            "to_status": invoice.status,
            "open_minor": invoice.open_minor,
            "reference": reference[:140],
        },
    )
    return session.get(LedgerEntry, entry_id)


def status_for_balance(invoice: Invoice) -> str:
    """The stored status the invoice's totals imply (overdue is derived when shown)."""
    if invoice.open_minor <= 0:
        if invoice.total_minor > 0 and invoice.credited_minor >= invoice.total_minor:
            return InvoiceStatus.CREDITED
        return InvoiceStatus.PAID
    # Judged on what is still owed, not on the paid total: a payment that all went back
    # (chargeback) leaves the invoice as unpaid as before.
    if invoice.open_minor < invoice.total_minor:
        return InvoiceStatus.PARTIALLY_PAID
    return InvoiceStatus.SENT if invoice.sent_at else InvoiceStatus.ISSUED


def _move_totals(invoice: Invoice, *, kind: LedgerEntryKind, amount_minor: int) -> None:
    if kind == LedgerEntryKind.PAYMENT:
        invoice.paid_minor += amount_minor
    elif kind == LedgerEntryKind.CREDIT_NOTE:
        invoice.credited_minor += amount_minor
    else:
        invoice.returned_minor += amount_minor
    invoice.open_minor = (
        invoice.total_minor - invoice.paid_minor - invoice.credited_minor + invoice.returned_minor
    )
    invoice.status = status_for_balance(invoice)
    if invoice.status == InvoiceStatus.PAID:
        invoice.paid_at = invoice.paid_at or utcnow()
    else:
        invoice.paid_at = None
    invoice.updated_at = utcnow()
