"""Applies one authenticated EveryPay answer about a payment to its invoice.

The callback worker, the reconciler and the dashboard's buttons all end here, inside one
short write transaction, so whatever the path and however many times an answer arrives,
the rules below are applied the same way:

- the payment must be this channel's (API username) and for one of its invoices
  (order reference = invoice number, or number plus a "-N" partial-payment suffix);
- one ``PaymentAttempt`` per ``payment_reference``, its history in ``PaymentStateChange``;
- ``booked_minor`` records what the attempt has in its invoice; money moves only through
  ``shared.ledger.posting.post_entry`` (the one place balances move), whose unique entry
  key per movement ("booked", then each step back) makes a duplicate or a concurrent
  worker post nothing;
- less than the open balance is not booked silently (amount-mismatch review); more is
  booked and the surplus is the customer's credit; a refund or chargeback is money going
  back, posted as such, so the invoice's history keeps both movements;
- an answer older than the one already applied is ignored, and an attempt only ever moves
  its own money, so another attempt's failure never unpays an invoice.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Select, bindparam, func, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from shared.audit import SYSTEM_ACTOR
from shared.callbacks.reviews import daily_review_key, open_review
from shared.invoicing import invoice_number_candidates
from shared.ledger.linkpay import book_linkpay_payment
from shared.ledger.posting import POSTABLE_STATUSES, post_entry
from shared.linkpay.client import PaymentStatus
from shared.models import (
    Invoice,
    InvoiceStatus,
    LedgerEntryKind,
    LedgerSource,
    PaymentAttempt,
    PaymentChannel,
    PaymentState,
    PaymentStateChange,
    ReviewItem,
    ReviewKind,
    ReviewStatus,
    utcnow,
)
from shared.money import format_money, to_minor
from shared.states import PENDING_PAYMENT_STATES, UNSUCCESSFUL_PAYMENT_STATES, payment_group

# EveryPay abandons an unfinished 3-D Secure window after about 15 minutes; an attempt
# still not final after an hour will not finish by itself.
STUCK_AFTER = timedelta(hours=1)


@dataclass(frozen=True)
class Applied:
    ours: bool
    outcome: str
    attempt_id: int | None = None
    invoice_id: int | None = None
    changed: bool = False
    money_moved: bool = False  # this answer booked or took back money on the invoice


def apply_payment_status(
    session: Session,
    *,
    channel_id: int,
    asked_reference: str,
    answer: PaymentStatus,
    asked_at: datetime,
    source: str,
) -> Applied:
    """Applies ``answer`` (fetched at ``asked_at``) in the caller's write transaction."""
    # No flush until the caller's commit (or savepoint): every row changed here is then
    # written once, and nothing read below depends on what is still unflushed.
    with session.no_autoflush:
        return _apply(
            session,
            channel_id=channel_id,
            asked_reference=asked_reference,
            answer=answer,
            asked_at=asked_at,
            source=source,
        )


@dataclass(frozen=True)
class _Channel:
    """What the guard needs of the channel, read without building its ORM object."""

    id: int
    api_username: str
    currency: str
    first_settled_at: datetime | None


_CHANNEL = select(
    PaymentChannel.id,
    PaymentChannel.api_username,
    PaymentChannel.currency,
    PaymentChannel.first_settled_at,
).where(col(PaymentChannel.id) == bindparam("channel_id"))


def _read_channel(session: Session, *, channel_id: int) -> _Channel | None:
    """Read once per session: the worker applies a batch of answers in one transaction,
    nearly all for the same channel. Never updated here, so a savepoint rolled back
    cannot leave it wrong; a repeated first-settled UPDATE then changes no row."""
    key = ("linkpay_channel", channel_id)
    if key not in session.info:
        row = session.execute(_CHANNEL, {"channel_id": channel_id}).first()
        session.info[key] = None if row is None else _Channel(*row)
    return session.info[key]


def _apply(
    session: Session,
    *,
    channel_id: int,
    asked_reference: str,
    answer: PaymentStatus,
    asked_at: datetime,
    source: str,
) -> Applied:
    channel = _read_channel(session, channel_id=channel_id)
    if channel is None:
        return Applied(ours=False, outcome="not ours: the channel no longer exists")
    # Invoice first (locked as it is matched), then attempt: every path that books
    # (including the exceptions queue's "accept") takes the locks in this order, so
    # PostgreSQL never sees a lock cycle.
    invoice, problem = _match_invoice(
        session, channel=channel, asked_reference=asked_reference, answer=answer
    )
    if invoice is None:
        _flag_not_ours(session, channel_id=channel_id, answer=answer, problem=problem)
        return Applied(ours=False, outcome=f"not ours: {problem}")
    invoice_id = invoice.id
    attempt, created = _lock_attempt(
        session, channel_id=channel_id, invoice_id=invoice_id, answer=answer
    )
    if attempt.channel_id != channel_id or attempt.invoice_id not in (None, invoice_id):
        problem = "this payment reference is already recorded for another channel or invoice"
        _flag_not_ours(session, channel_id=channel_id, answer=answer, problem=problem)
        return Applied(ours=False, outcome=f"not ours: {problem}")
    if not created and attempt.last_checked_at and asked_at < attempt.last_checked_at:
        return Applied(
            ours=True,
            outcome=f"{attempt.state}: a newer answer from EveryPay was already applied",
            attempt_id=attempt.id,
            invoice_id=invoice_id,
        )
    state_changed = _record_answer(
        session, attempt=attempt, answer=answer, asked_at=asked_at, created=created, source=source
    )
    money = _move_money(
        session, attempt=attempt, created=created, invoice=invoice, channel=channel, answer=answer
    )
    _flag_for_review(
        session,
        attempt=attempt,
        invoice=invoice,
        answer=answer,
        now=asked_at,
        returned=money.returned,
    )
    # Set once and never cleared, so a channel read as settled before needs no write.
    if answer.payment_state == PaymentState.SETTLED and channel.first_settled_at is None:
        session.exec(
            update(PaymentChannel)
            .where(col(PaymentChannel.id) == channel_id)
            .where(col(PaymentChannel.first_settled_at).is_(None))
            .values(first_settled_at=utcnow())
        )
    amount = format_money(attempt.standing_amount_minor, attempt.currency)
    outcome = f"{invoice.number}: payment {answer.payment_state} ({amount}); {money.text}"
    return Applied(
        ours=True,
        outcome=outcome,
        attempt_id=attempt.id,
        invoice_id=invoice.id,
        changed=state_changed or money.moved,
        money_moved=money.moved,
    )


def recheck_at(*, attempt: PaymentAttempt, now: datetime) -> datetime:
    """When the reconciler should ask again about a non-final attempt: often while the
    payer may still be finishing, rarely once it has been sitting for a while."""
    age = now - (attempt.gateway_created_at or attempt.created_at)
    if age < timedelta(minutes=15):
        delay = timedelta(seconds=30)
    elif age < timedelta(hours=2):
        delay = timedelta(minutes=5)
    elif age < timedelta(days=3):
        delay = timedelta(hours=1)
    else:
        delay = timedelta(days=1)
    return now + delay


# The invoice an order reference names, read afresh and locked in the same statement.
# Its candidates are the reference itself and, for a partial payment, the number without
# its suffix: the longer one wins, so an invoice numbered like another's partial payment
# is still matched exactly. Only the row returned is locked (LIMIT applies first).
_LOCK_MATCHING_INVOICE = (
    select(Invoice)
    .where(col(Invoice.number).in_(bindparam("numbers", expanding=True)))
    .where(col(Invoice.channel_id) == bindparam("channel_id"))
    .order_by(func.length(Invoice.number).desc())
    .limit(1)
    .with_for_update(key_share=True)
    .execution_options(populate_existing=True)
)


def _match_invoice(
    session: Session, *, channel: _Channel, asked_reference: str, answer: PaymentStatus
) -> tuple[Invoice | None, str]:
    """The channel's invoice the answer is about, locked until commit, or why none is."""
    if answer.api_username != channel.api_username:
        return None, f"EveryPay says the payment belongs to API user {answer.api_username!r}"
    if answer.payment_reference.lower() != asked_reference.lower():
        return None, "EveryPay answered about a different payment reference"
    reference = answer.order_reference
    invoice = session.exec(
        _LOCK_MATCHING_INVOICE,
        params={"numbers": invoice_number_candidates(reference), "channel_id": channel.id},
    ).first()
    if invoice is None:
        return None, f"order reference {reference!r} is not an invoice of this channel"
    return invoice, ""


def _flag_not_ours(
    session: Session, *, channel_id: int, answer: PaymentStatus, problem: str
) -> None:
    # Anyone who knows a real reference can name it in a forged callback, so these fold
    # into one item per channel and day; the callback log keeps each one (not ours).
    open_review(
        session,
        kind=ReviewKind.NOT_OURS,
        dedupe_key=daily_review_key("not_ours", channel_id=channel_id, day=utcnow().date()),
        reason=(
            f"EveryPay payment {answer.payment_reference} (order {answer.order_reference}) "
            f"reached this channel's Callback URL but is not ours: {problem}. Nothing was "
            "booked; usually another system's payment on the same EveryPay account. Others "
            'the same day are in the callback log as "not ours".'
        ),
        channel_id=channel_id,
    )


def _hold_unknown_state(session: Session, *, attempt: PaymentAttempt, invoice: Invoice) -> None:
    # A state EveryPay added after this code was written may mean paid, failed or taken
    # back: no money moves on it. The attempt is not final, so the reconciler keeps asking
    # until EveryPay reports a state this code knows, which then books as usual.
    open_review(
        session,
        kind=ReviewKind.UNKNOWN_STATE,
        dedupe_key=f"unknown_state:{attempt.payment_reference}:{attempt.state}",
        reason=(
            f"EveryPay reports payment {attempt.payment_reference} for invoice "
            f"{invoice.number} as {attempt.state!r}, a state LinkPay Desk does not know. "
            "Nothing was booked or taken back. LinkPay Desk keeps asking EveryPay and applies "
            "the payment once it reports a state LinkPay Desk knows; check the payment in "
            "the EveryPay portal meanwhile."
        ),
        invoice_id=invoice.id,
        payment_attempt_id=attempt.id,
        channel_id=attempt.channel_id,
        amount_minor=attempt.standing_amount_minor,
        currency=attempt.currency,
    )


def _lock_attempt(
    session: Session, *, channel_id: int, invoice_id: int, answer: PaymentStatus
) -> tuple[PaymentAttempt, bool]:
    """The attempt row for this reference, created if new, locked until commit.

    Insert-if-absent, and only when the row existed SELECT … FOR NO KEY UPDATE: two workers
    racing on a new reference both end up on the same row (the loser's INSERT waits for
    the winner's commit, then does nothing and selects it), and on PostgreSQL they then
    take turns; SQLite's IMMEDIATE transaction already serialises them.
    NO KEY UPDATE (here and on the invoice) because a plain FOR UPDATE also waits for the
    KEY SHARE locks that inserting rows which reference the row take.
    """
    params = {
        "new_payment_reference": answer.payment_reference,
        "new_channel_id": channel_id,
        "new_invoice_id": invoice_id,
        "new_order_reference": answer.order_reference[:120],
        "new_state": answer.payment_state,
    }
    # A new attempt comes back from its INSERT as the ORM object (the common case: one
    # statement); on PostgreSQL the uncommitted row is already this transaction's alone.
    inserted = session.scalars(
        _insert_attempt(session.get_bind().dialect.name),
        params,
        execution_options={"populate_existing": True},
    ).first()
    if inserted is not None:
        return inserted, True
    attempt = session.exec(
        _LOCK_ATTEMPT, params={"payment_reference": answer.payment_reference}
    ).one()
    return attempt, False


_LOCK_ATTEMPT = (
    select(PaymentAttempt)
    .where(col(PaymentAttempt.payment_reference) == bindparam("payment_reference"))
    .with_for_update(key_share=True)
    .execution_options(populate_existing=True)
)


@cache
def _insert_attempt(dialect: str) -> Select:
    # A Core INSERT read back as the ORM object: the same INSERT of the entity itself goes
    # through the ORM's bulk-insert machinery, a fifth more CPU per call (cProfile of
    # benchmarks/booking_profile.py on PostgreSQL).
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    table = PaymentAttempt.__table__
    columns = ("payment_reference", "channel_id", "invoice_id", "order_reference", "state")
    created = (
        insert(table)
        .values({name: bindparam(f"new_{name}") for name in columns})
        .on_conflict_do_nothing(index_elements=["payment_reference"])
        .returning(*table.columns)
    )
    return select(PaymentAttempt).from_statement(created)


_STATE_CHANGE = PaymentStateChange.__table__.insert()


def _record_answer(
    session: Session,
    *,
    attempt: PaymentAttempt,
    answer: PaymentStatus,
    asked_at: datetime,
    created: bool,
    source: str,
) -> bool:
    changed = created or attempt.state != answer.payment_state
    if changed:
        session.execute(
            _STATE_CHANGE,
            {
                "attempt_id": attempt.id,
                "from_state": None if created else attempt.state,
                "to_state": answer.payment_state,
                "source": source[:32],
                "changed_at": utcnow(),
            },
        )
    currency = answer.currency
    attempt.state = answer.payment_state
    attempt.is_final = answer.is_final
    attempt.initial_amount_minor = to_minor(answer.initial_amount, currency)
    attempt.standing_amount_minor = to_minor(answer.standing_amount, currency)
    # "XXX" is ISO 4217's "no currency": a malformed code must not be cut into a valid one.
    attempt.currency = currency if len(currency) == 3 else "XXX"
    attempt.payment_method = _clip(answer.payment_method, 64)
    attempt.card_brand = _clip(answer.card_brand, 32)
    attempt.card_last4 = _clip(answer.card_last4, 4)
    attempt.payer_name = _clip(answer.payer_name, 200)
    attempt.payer_email = _clip(answer.payer_email, 254)
    attempt.processing_error = _clip(answer.processing_error, 500)
    attempt.gateway_created_at = answer.created_at or attempt.gateway_created_at
    attempt.transaction_time = answer.transaction_time or attempt.transaction_time
    attempt.last_api_answer = answer.raw
    attempt.last_checked_at = asked_at
    attempt.next_check_at = None if answer.is_final else recheck_at(attempt=attempt, now=asked_at)
    attempt.updated_at = utcnow()
    session.add(attempt)
    return changed


@dataclass(frozen=True)
class _Money:
    moved: bool
    text: str
    returned: int = 0  # what this answer took back from the invoice (refund, chargeback)


def _move_money(
    session: Session,
    *,
    attempt: PaymentAttempt,
    created: bool,
    invoice: Invoice,
    channel: _Channel,
    answer: PaymentStatus,
) -> _Money:
    """Brings what this attempt has booked in line with what EveryPay says stays paid."""
    if payment_group(answer.payment_state) is None:
        _hold_unknown_state(session, attempt=attempt, invoice=invoice)
        return _Money(False, "state unknown to LinkPay Desk: nothing booked, sent to review")
    state = answer.payment_state
    if state in PENDING_PAYMENT_STATES:
        return _Money(False, "not paid yet; the reconciler asks again")
    if state == PaymentState.CONFIRMED_3DS:
        return _Money(False, "stuck at EveryPay after 3-D Secure; sent to review")
    if state in UNSUCCESSFUL_PAYMENT_STATES:
        return _Money(False, f"invoice unchanged ({invoice.status})")
    should_stay = 0 if state == PaymentState.CHARGEBACKED else attempt.standing_amount_minor
    booked = attempt.booked_minor
    if should_stay < booked:
        return _money_back(
            session, attempt=attempt, invoice=invoice, amount=booked - should_stay, state=state
        )
    if booked == 0 and should_stay > 0:
        return _book(
            session,
            attempt=attempt,
            created=created,
            invoice=invoice,
            channel=channel,
            answer=answer,
            amount=should_stay,
        )
    if booked:
        return _Money(False, f"already booked ({invoice.status})")
    return _Money(False, f"nothing to book ({invoice.status})")


def _book(
    session: Session,
    *,
    attempt: PaymentAttempt,
    created: bool,
    invoice: Invoice,
    channel: _Channel,
    answer: PaymentStatus,
    amount: int,
) -> _Money:
    paid = format_money(amount, attempt.currency)
    review = {
        "invoice_id": invoice.id,
        "payment_attempt_id": attempt.id,
        "channel_id": channel.id,
        "amount_minor": amount,
        "currency": attempt.currency,
    }
    if answer.currency != channel.currency or answer.currency != invoice.currency:
        open_review(
            session,
            kind=ReviewKind.CURRENCY_MISMATCH,
            dedupe_key=f"currency_mismatch:{attempt.payment_reference}",
            reason=(
                f"EveryPay settled {paid} for invoice "
                f"{invoice.number}, which is in {invoice.currency} (channel currency "
                f"{channel.currency}). Not booked: refund it or book it by hand."
            ),
            **review,
        )
        return _Money(False, f"not booked: paid in {answer.currency!r}, sent to review")
    if invoice.status not in POSTABLE_STATUSES:
        open_review(
            session,
            kind=ReviewKind.PAID_NOT_BOOKED,
            dedupe_key=f"paid_not_booked:{attempt.payment_reference}",
            reason=(
                f"{paid} was paid at EveryPay for invoice {invoice.number}, which is "
                f"{invoice.status}. Not booked: refund the payer or reissue the invoice."
            ),
            **review,
        )
        return _Money(False, f"not booked: invoice is {invoice.status}, sent to review")
    # An attempt created in this transaction has no review items yet.
    if not created and _awaits_amount_decision(session, attempt=attempt):
        # A person is deciding about this under-payment; a later answer about the same
        # payment (duplicate, reconciler) must not book it behind their back.
        return _Money(False, "not booked: the amount-mismatch review decides")
    open_before = invoice.open_minor
    if 0 < amount < open_before:
        # Pay links ask for the whole open balance: less than that is not a partial payment
        # someone chose, so a person decides (accept as partial, or ask for the rest).
        open_review(
            session,
            kind=ReviewKind.AMOUNT_MISMATCH,
            dedupe_key=f"amount_mismatch:{attempt.payment_reference}",
            reason=(
                f"{paid} was paid for invoice {invoice.number}, whose open balance is "
                f"{format_money(open_before, invoice.currency)}. Not booked yet: accept it "
                "as a partial payment, or ask the customer for the rest."
            ),
            **review,
        )
        return _Money(False, "not booked: less than the open balance, sent to review")
    if not book_linkpay_payment(session, attempt=attempt, invoice=invoice, amount=amount):
        return _Money(False, f"already booked ({invoice.status})")
    if amount > open_before:
        surplus = format_money(amount - max(open_before, 0), invoice.currency)
        open_review(
            session,
            kind=ReviewKind.OVERPAYMENT,
            dedupe_key=f"overpayment:{attempt.payment_reference}",
            reason=(
                f"{paid} was paid for invoice {invoice.number}, whose open balance was "
                f"{format_money(open_before, invoice.currency)}. Booked: {surplus} is now "
                "the customer's credit. Apply it to another invoice or refund it from the "
                "customer's page."
            ),
            **review,
        )
        return _Money(True, f"invoice paid ({paid} booked, {surplus} customer credit)")
    if invoice.status == InvoiceStatus.PAID:
        return _Money(True, f"invoice paid ({paid} booked)")
    open_text = format_money(invoice.open_minor, invoice.currency)
    return _Money(True, f"invoice partially paid ({paid} booked, {open_text} open)")


def _awaits_amount_decision(session: Session, *, attempt: PaymentAttempt) -> bool:
    return (
        session.exec(
            select(ReviewItem.id)
            .where(col(ReviewItem.payment_attempt_id) == attempt.id)
            .where(col(ReviewItem.kind) == ReviewKind.AMOUNT_MISMATCH)
            .where(col(ReviewItem.status) == ReviewStatus.OPEN)
        ).first()
        is not None
    )


def _money_back(
    session: Session, *, attempt: PaymentAttempt, invoice: Invoice, amount: int, state: str
) -> _Money:
    source = LedgerSource.CHARGEBACK if state == PaymentState.CHARGEBACKED else LedgerSource.REFUND
    entry = post_entry(
        session,
        invoice=invoice,
        kind=LedgerEntryKind.MONEY_BACK,
        source=source,
        amount_minor=amount,
        # What stays paid only ever shrinks, so each step back has its own key.
        key=f"linkpay:{attempt.payment_reference}:back:{attempt.booked_minor - amount}",
        actor=SYSTEM_ACTOR,
        attempt=attempt,
        reference=attempt.payment_reference,
    )
    if entry is None:
        return _Money(False, f"already taken back ({invoice.status})")
    returned = format_money(amount, invoice.currency)
    return _Money(True, f"{returned} went back to the payer (invoice now {invoice.status})", amount)


def _flag_for_review(
    session: Session,
    *,
    attempt: PaymentAttempt,
    invoice: Invoice,
    answer: PaymentStatus,
    now: datetime,
    returned: int,
) -> None:
    state = answer.payment_state
    common = {
        "invoice_id": invoice.id,
        "payment_attempt_id": attempt.id,
        "channel_id": attempt.channel_id,
        "currency": attempt.currency,
    }
    started = attempt.gateway_created_at or attempt.created_at
    stuck = state == PaymentState.CONFIRMED_3DS or (
        state in PENDING_PAYMENT_STATES and now - started > STUCK_AFTER
    )
    if stuck:
        open_review(
            session,
            kind=ReviewKind.STUCK_PENDING,
            dedupe_key=f"stuck_pending:{attempt.payment_reference}",
            reason=(
                f"Payment for invoice {invoice.number} has been {state} since "
                f"{started:%Y-%m-%d %H:%M} UTC. Ask EveryPay support about payment "
                f"{attempt.payment_reference} or contact the payer."
            ),
            amount_minor=attempt.initial_amount_minor,
            **common,
        )
    elif state == PaymentState.REFUNDED:
        refunded = attempt.initial_amount_minor - attempt.standing_amount_minor
        open_review(
            session,
            kind=ReviewKind.REFUND,
            dedupe_key=f"refund:{attempt.payment_reference}:{attempt.standing_amount_minor}",
            reason=_refund_reason(attempt, invoice, returned=returned),
            amount_minor=returned or refunded,
            **common,
        )
    elif state == PaymentState.CHARGEBACKED:
        open_review(
            session,
            kind=ReviewKind.CHARGEBACK,
            dedupe_key=f"chargeback:{attempt.payment_reference}",
            reason=_chargeback_reason(attempt, invoice, returned=returned),
            amount_minor=returned or attempt.initial_amount_minor,
            **common,
        )


# Both reasons say what the exceptions queue offers, and that the customer is not asked
# for the money meanwhile (shared.ledger.holds): a refund must not turn into a new debt.
def _refund_reason(attempt: PaymentAttempt, invoice: Invoice, *, returned: int) -> str:
    standing = format_money(attempt.standing_amount_minor, attempt.currency)
    initial = format_money(attempt.initial_amount_minor, attempt.currency)
    if not returned:
        return (
            f"Payment for invoice {invoice.number} was refunded at EveryPay; {standing} of "
            f"{initial} stays paid. None of the refund was booked on the invoice, so its "
            "balance is unchanged; for information."
        )
    back = format_money(returned, invoice.currency)
    return (
        f"{back} of the payment for invoice {invoice.number} went back to the payer "
        f"(refunded at EveryPay; {standing} of {initial} stays paid). The invoice is open "
        f"again for {back} until a credit note is issued for it (proposed: issue a credit "
        "note for the refunded amount, or link one already issued) or finance decides the "
        "customer owes it (mark resolved). Reminders and the pay button are held meanwhile."
    )


def _chargeback_reason(attempt: PaymentAttempt, invoice: Invoice, *, returned: int) -> str:
    if not returned:
        return (
            f"The payer disputed the payment for invoice {invoice.number} and the card issuer "
            "took it back. None of it was booked on the invoice; for information."
        )
    back = format_money(returned, invoice.currency)
    return (
        f"The payer disputed the payment for invoice {invoice.number} and the card issuer "
        f"took {back} back; the invoice is open again for it. Accept the chargeback with a "
        "credit note, or dispute it if the customer still owes the money. Reminders and the "
        "pay button are held meanwhile."
    )


def _clip(value: str | None, length: int) -> str | None:
    return value[:length] if value else None
