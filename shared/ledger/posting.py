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

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cache

from sqlalchemy import Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from shared.audit import audit_row, record_audits
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
) -> int | None:
    """Posts one movement on the (locked) ``invoice`` and returns the new entry's id;
    ``None`` if ``key`` was posted before.

    ``amount_minor`` is what the movement adds to its kind's total: a payment received is
    positive, a payment taken back (reversal, unbooking) negative."""
    if invoice.status not in POSTABLE_STATUSES:
        raise ValueError(f"invoice {invoice.number or invoice.id} is {invoice.status}")
    if amount_minor == 0 or abs(amount_minor) > MAX_AMOUNT_MINOR:
        raise ValueError(f"ledger amount out of range: {amount_minor}")
    entry_id = session.execute(
        _insert_entry(session.get_bind().dialect.name),
        {
            "entry_key": key[:160],
            "invoice_id": invoice.id,
            "customer_id": invoice.customer_id,
            "kind": kind,
            "source": source,
            "amount_minor": amount_minor,
            "currency": invoice.currency,
            "value_date": value_date or utcnow().date(),
            "payment_attempt_id": attempt.id if attempt else None,
            "received_payment_id": received_payment_id,
            "reverses_entry_id": reverses_entry_id,
            "credit_note_id": credit_note_id,
            "reference": reference[:140],
            "note": note[:500],
            "actor": actor[:64],
            "booked_at": utcnow(),
        },
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
    record_audits(
        session,
        [
            audit_row(
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
                at=utcnow(),
            )
        ],
    )
    return entry_id


@cache
def _insert_entry(dialect: str) -> Insert:
    # Built once: on the booking path, building the statement cost more CPU than running it.
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = LedgerEntry.__table__
    return insert(table).on_conflict_do_nothing(index_elements=["entry_key"]).returning(table.c.id)


@dataclass
class StagedEntry:
    """A movement ``stage_entry`` has put on its invoice's totals, to be written by
    ``write_staged``; ``key`` and ``received_payment_id`` may be filled in between (a
    payment's id is known only once it is inserted)."""

    invoice: Invoice
    kind: LedgerEntryKind
    source: LedgerSource
    amount_minor: int
    value_date: date
    from_status: str
    to_status: str
    open_minor: int  # the invoice's open balance right after this movement
    key: str = ""
    received_payment_id: int | None = None
    reference: str = ""
    note: str = ""


def stage_entry(
    invoice: Invoice,
    *,
    kind: LedgerEntryKind,
    source: LedgerSource,
    amount_minor: int,
    value_date: date,
    reference: str = "",
    note: str = "",
) -> StagedEntry:
    """``post_entry`` for many movements at once, first half: checks the movement and moves
    the (locked) invoice's totals in memory, so what is decided next sees them.

    Same invariants as ``post_entry``, held at commit: the caller holds the invoice's row
    lock; ``write_staged`` must run in the same transaction for every staged entry (the
    totals change together with their entries or, when anything fails, the transaction
    rolls both back); each entry keeps its unique ``entry_key``, inserted with ON CONFLICT
    DO NOTHING, and a key found posted before is refused (``LedgerConflict``) so the
    caller's transaction rolls back instead of moving a total twice. Only for movements
    whose keys are new by construction (a payment inserted in the same transaction)."""
    if invoice.status not in POSTABLE_STATUSES:
        raise ValueError(f"invoice {invoice.number or invoice.id} is {invoice.status}")
    if amount_minor == 0 or abs(amount_minor) > MAX_AMOUNT_MINOR:
        raise ValueError(f"ledger amount out of range: {amount_minor}")
    before = invoice.status
    _move_totals(invoice, kind=kind, amount_minor=amount_minor)
    return StagedEntry(
        invoice=invoice,
        kind=kind,
        source=source,
        amount_minor=amount_minor,
        value_date=value_date,
        from_status=before,
        to_status=invoice.status,
        open_minor=invoice.open_minor,
        reference=reference[:140],
        note=note[:500],
    )


class LedgerConflict(RuntimeError):
    """A staged entry's key was posted before: the caller's transaction must roll back."""


def write_staged(session: Session, *, actor: str, staged: Sequence[StagedEntry]) -> None:
    """``post_entry`` for many movements at once, second half: inserts the staged entries
    in one statement (ON CONFLICT DO NOTHING on ``entry_key``) with their audit rows; the
    invoices' new totals are written with the session's flush."""
    if not staged:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    table = LedgerEntry.__table__
    now = utcnow()
    rows = [
        {
            "entry_key": entry.key[:160],
            "invoice_id": entry.invoice.id,
            "customer_id": entry.invoice.customer_id,
            "kind": entry.kind,
            "source": entry.source,
            "amount_minor": entry.amount_minor,
            "currency": entry.invoice.currency,
            "value_date": entry.value_date,
            "payment_attempt_id": None,
            "received_payment_id": entry.received_payment_id,
            "reverses_entry_id": None,
            "credit_note_id": None,
            "reference": entry.reference,
            "note": entry.note,
            "actor": actor[:64],
            "booked_at": now,
        }
        for entry in staged
    ]
    inserted = dict(
        session.execute(
            insert(table)
            .on_conflict_do_nothing(index_elements=["entry_key"])
            .returning(table.c.entry_key, table.c.id),
            rows,
        ).all()
    )
    if len(inserted) != len(rows):
        raise LedgerConflict("a staged ledger entry was posted before")
    for entry in staged:
        session.add(entry.invoice)
    record_audits(
        session,
        [
            audit_row(
                actor=actor,
                action="invoice.ledger",
                entity_type="invoice",
                entity_id=entry.invoice.id,
                details={
                    "number": entry.invoice.number,
                    "entry_id": inserted[entry.key[:160]],
                    "kind": entry.kind,
                    "source": entry.source,
                    "amount_minor": entry.amount_minor,
                    "currency": entry.invoice.currency,
                    "from_status": entry.from_status,
                    "to_status": entry.to_status,
                    "open_minor": entry.open_minor,
                    "reference": entry.reference,
                },
                at=now,
            )
            for entry in staged
        ],
    )


def status_for_balance(invoice: Invoice) -> str:
    """The stored status the invoice's totals imply (overdue is derived when shown)."""
    if invoice.open_minor <= 0:
        if invoice.total_minor > 0 and invoice.credited_minor >= invoice.total_minor:
            return InvoiceStatus.CREDITED
        return InvoiceStatus.PAID
    # "Partly paid" needs money kept: a payment that all went back (chargeback, refund)
    # leaves the invoice as unpaid as before, and a credit note alone lowers what is owed
    # without anyone having paid.
    if invoice.paid_minor > invoice.returned_minor:
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
