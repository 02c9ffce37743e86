"""Random histories of invoices and money, checked after every step, on both backends.

Hypothesis draws sequences of: issuing an invoice; a LinkPay payment through the real
booking path (``apply_payment_status`` with an EveryPay answer) settled for the whole open
balance, for less (amount-mismatch review, maybe accepted as partial later) or for more;
the same answer again (duplicate) and an older answer after a newer one (out of order);
a refund (standing amount lowered) and a chargeback; a payment recorded by hand (maybe
a second one); a credit note; the reversal of a hand-recorded payment (maybe twice).

After each step, for the example's customers:
- no ledger entry key twice, no attempt booked twice nor beyond its standing amount, and an
  attempt's booked amount is the signed sum of its entries;
- per invoice, paid/credited/returned are the sums of its entries by kind and
  open = total − paid − credited + returned;
- the customers' balances (their statements' closing balances) add up to the ledger's
  total, and what is outstanding per customer adds up to what is outstanding;
- the stored status follows the balance, and "overdue" and the aging's past-due buckets
  follow the due date.

Hand-recorded payments, credit notes and reversals go through the same domain functions
the pages call (shared.ledger.received, shared.ledger.credit_notes).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import Phase, given, note, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from shared.callbacks.apply import apply_payment_status
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.invoicing import OPEN_STATUSES, OVERDUE, LineInput, display_status
from shared.ledger import balances
from shared.ledger.credit_notes import credit_amount
from shared.ledger.posting import POSTABLE_STATUSES
from shared.ledger.received import record_received_payment, reverse_received_payment
from shared.ledger.statement import balance_effect, customer_statement
from shared.linkpay.client import parse_payment
from shared.models import (
    Customer,
    Invoice,
    InvoiceStatus,
    LedgerEntry,
    LedgerEntryKind,
    LedgerSource,
    PaymentAttempt,
    PaymentChannel,
    ReviewItem,
    ReviewStatus,
    utcnow,
)
from shared.money import to_minor
from shared.review import PARTIAL_PAYMENT_KINDS, accept_partial_payment
from tests.utils.callback_service import new_reference, payment_answer
from tests.utils.factories import make_channel, make_customer, make_invoice

PAYMENT, CREDIT, BACK = (
    LedgerEntryKind.PAYMENT,
    LedgerEntryKind.CREDIT_NOTE,
    LedgerEntryKind.MONEY_BACK,
)
TODAY = utcnow().date()
EVER = (date(2000, 1, 1), date(2100, 1, 1))

# --- Steps posting what the recording functions post ------------------------------------


def record_manual_payment(*, invoice_id: int, amount_minor: int) -> int:
    """A bank transfer finance records on the invoice; the received payment's id."""
    with write_session() as session:
        invoice = session.get(Invoice, invoice_id)
        result = record_received_payment(
            session,
            actor="finance",
            customer_id=invoice.customer_id,
            method=LedgerSource.BANK_TRANSFER,
            received_on=TODAY,
            amount=amount_minor,
            currency=invoice.currency,
            allocations=[(invoice_id, amount_minor)],
        )
        return result.received_payment_id


def issue_credit_note(*, invoice_id: int, amount_minor: int) -> None:
    with write_session() as session:
        credit_amount(
            session,
            actor="finance",
            invoice_id=invoice_id,
            reason="Returned goods",
            amount_minor=amount_minor,
            description="Returned goods",
        )


def reverse_payment(*, received_payment_id: int) -> None:
    with write_session() as session:
        reverse_received_payment(
            session,
            actor="finance",
            received_payment_id=received_payment_id,
            reason="Booked on the wrong invoice",
        )


# --- The example's world ----------------------------------------------------------------


@dataclass
class Attempt:
    reference: str
    answers: list[tuple[dict[str, Any], datetime]] = field(default_factory=list)

    @property
    def last(self) -> dict[str, Any]:
        return self.answers[-1][0]


@dataclass
class World:
    channel: PaymentChannel
    customers: list[Customer]
    invoices: list[int] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    manual_entries: list[int] = field(default_factory=list)
    clock: datetime = field(default_factory=utcnow)

    @property
    def customer_ids(self) -> list[int]:
        return [customer.id for customer in self.customers]

    def tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def invoice(self, index: int) -> Invoice | None:
        if not self.invoices:
            return None
        with read_session() as session:
            return session.get(Invoice, self.invoices[index % len(self.invoices)])

    def attempt(self, index: int) -> Attempt | None:
        return self.attempts[index % len(self.attempts)] if self.attempts else None


def _amount(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def _apply(world: World, answer: dict[str, Any], asked_at: datetime) -> None:
    with write_session() as session:
        applied = apply_payment_status(
            session,
            channel_id=world.channel.id,
            asked_reference=answer["payment_reference"],
            answer=parse_payment(answer, default_currency="EUR"),
            asked_at=asked_at,
            source="callback",
        )
    assert applied.ours, applied.outcome


def _answer(world: World, attempt: Attempt, answer: dict[str, Any]) -> None:
    """EveryPay's newest answer about ``attempt``, applied as the worker would."""
    asked_at = world.tick()
    attempt.answers.append((answer, asked_at))
    _apply(world, answer, asked_at)


def _ledger_snapshot(world: World) -> tuple:
    with read_session() as session:
        return tuple(
            session.execute(
                select(LedgerEntry.id, LedgerEntry.amount_minor)
                .where(LedgerEntry.customer_id.in_(world.customer_ids))
                .order_by(LedgerEntry.id)
            ).all()
        )


# --- Steps ------------------------------------------------------------------------------


def issue(world: World, cents: int, days_ago: int, customer: int) -> None:
    invoice = make_invoice(
        channel=world.channel,
        customer=world.customers[customer % len(world.customers)],
        lines=[LineInput("Work", "1", _amount(cents), "0")],
        issue_date=TODAY - timedelta(days=days_ago),
    )
    world.invoices.append(invoice.id)


def linkpay(world: World, index: int, how: str, extra: int, accept_now: bool) -> None:
    invoice = world.invoice(index)
    if invoice is None:
        return
    open_ = invoice.open_minor
    if how == "full":
        if open_ <= 0:
            return
        amount = open_
    elif how == "partial":
        if open_ < 2:
            return
        amount = 1 + extra % (open_ - 1)
    else:
        amount = max(open_, 0) + extra
    attempt = Attempt(reference=new_reference())
    world.attempts.append(attempt)
    _answer(
        world,
        attempt,
        payment_answer(
            reference=attempt.reference, order_reference=invoice.number, amount=_amount(amount)
        ),
    )
    if how == "partial" and accept_now:
        accept_partial(world, 0)


def duplicate(world: World, index: int) -> None:
    attempt = world.attempt(index)
    if attempt is None:
        return
    with read_session() as session:
        stored = session.execute(
            select(PaymentAttempt).where(PaymentAttempt.payment_reference == attempt.reference)
        ).scalar_one()
        stays = 0 if stored.state == "chargebacked" else stored.standing_amount_minor
        in_books = stored.booked_minor == stays
    before = _ledger_snapshot(world)
    _apply(world, attempt.last, world.tick())
    # An under-payment left in review may be booked by a later answer once it no longer
    # falls short (the invoice was paid down meanwhile); what is booked moves no more.
    if in_books:
        assert _ledger_snapshot(world) == before, "a repeated answer moved money"


def out_of_order(world: World, index: int, which: int) -> None:
    attempt = world.attempt(index)
    if attempt is None:
        return
    answer, asked_at = attempt.answers[which % len(attempt.answers)]
    before = _ledger_snapshot(world)
    # Asked before the last answer was applied: older news, whatever it says.
    _apply(world, answer, min(asked_at, attempt.answers[-1][1]) - timedelta(milliseconds=1))
    assert _ledger_snapshot(world) == before, "an older answer moved money"


def refund(world: World, index: int, percent: int) -> None:
    attempt = world.attempt(index)
    if attempt is None or attempt.last["payment_state"] not in ("settled", "refunded"):
        return
    standing = to_minor(Decimal(attempt.last["standing_amount"]), "EUR")
    if standing <= 0:
        return
    refunded = max(1, standing * percent // 100)
    _answer(
        world,
        attempt,
        {
            **attempt.last,
            "payment_state": "refunded",
            "standing_amount": _amount(standing - refunded),
        },
    )


def chargeback(world: World, index: int) -> None:
    attempt = world.attempt(index)
    if attempt is None or attempt.last["payment_state"] not in ("settled", "refunded"):
        return
    _answer(world, attempt, {**attempt.last, "payment_state": "chargebacked"})


def accept_partial(world: World, index: int) -> None:
    """Finance accepts one of the example's open under-payment reviews as partial."""
    references = [attempt.reference for attempt in world.attempts]
    with read_session() as session:
        open_reviews = session.execute(
            select(ReviewItem.id)
            .join(PaymentAttempt, PaymentAttempt.id == ReviewItem.payment_attempt_id)
            .where(
                PaymentAttempt.payment_reference.in_(references),
                ReviewItem.kind.in_(PARTIAL_PAYMENT_KINDS),
                ReviewItem.status == ReviewStatus.OPEN,
            )
            .order_by(ReviewItem.id.desc())
        ).scalars()
        review_ids = list(open_reviews)  # newest first: index 0 is the last payment's
    if not review_ids:
        return
    before = _ledger_snapshot(world)
    try:
        with write_session() as session:
            accept_partial_payment(
                session, actor="finance", review_id=review_ids[index % len(review_ids)]
            )
    except ValidationError:
        # Refused (e.g. the invoice was paid meanwhile, the payment refunded): nothing moved.
        assert _ledger_snapshot(world) == before


def manual(world: World, index: int, cents: int, twice: bool) -> None:
    invoice = world.invoice(index)
    if invoice is None:
        return
    world.manual_entries.append(record_manual_payment(invoice_id=invoice.id, amount_minor=cents))
    if twice:
        # A second transfer of the same amount is a second payment (customer credit).
        world.manual_entries.append(
            record_manual_payment(invoice_id=invoice.id, amount_minor=cents)
        )


def credit_note(world: World, index: int, percent: int) -> None:
    invoice = world.invoice(index)
    if invoice is None:
        return
    creditable = invoice.total_minor - invoice.credited_minor
    if creditable <= 0:
        return
    amount = max(1, creditable * percent // 100)
    issue_credit_note(invoice_id=invoice.id, amount_minor=amount)


def reversal(world: World, index: int, twice: bool) -> None:
    if not world.manual_entries:
        return
    payment_id = world.manual_entries[index % len(world.manual_entries)]
    try:
        reverse_payment(received_payment_id=payment_id)
    except ValidationError:
        return  # reversed in an earlier step: refused, nothing moved
    if twice:
        before = _ledger_snapshot(world)
        with pytest.raises(ValidationError, match="already reversed"):
            reverse_payment(received_payment_id=payment_id)
        assert _ledger_snapshot(world) == before


STEPS = {
    "issue": issue,
    "linkpay": linkpay,
    "duplicate": duplicate,
    "out_of_order": out_of_order,
    "refund": refund,
    "chargeback": chargeback,
    "accept_partial": accept_partial,
    "manual": manual,
    "credit_note": credit_note,
    "reversal": reversal,
}
index = st.integers(0, 50)
cents = st.integers(1, 60_000)
percent = st.integers(1, 100)
issue_step = st.tuples(st.just("issue"), st.integers(100, 60_000), st.integers(0, 60), index)
step = st.one_of(
    st.tuples(
        st.just("linkpay"),
        index,
        st.sampled_from(["partial", "full", "over"]),
        cents,
        st.booleans(),
    ),
    st.tuples(st.just("manual"), index, cents, st.booleans()),
    st.tuples(st.just("refund"), index, percent),
    st.tuples(st.just("duplicate"), index),
    st.tuples(st.just("out_of_order"), index, index),
    st.tuples(st.just("accept_partial"), index),
    st.tuples(st.just("credit_note"), index, percent),
    st.tuples(st.just("reversal"), index, st.booleans()),
    st.tuples(st.just("chargeback"), index),
    issue_step,
)


# --- What must hold after every step ----------------------------------------------------


def expected_status(invoice: Invoice) -> set[str]:
    if invoice.open_minor <= 0:
        if invoice.credited_minor >= invoice.total_minor:
            return {InvoiceStatus.CREDITED}
        return {InvoiceStatus.PAID}
    # Part of it paid and kept, part still owed; a credit note alone is not a payment.
    if invoice.paid_minor > invoice.returned_minor:
        return {InvoiceStatus.PARTIALLY_PAID}
    return {InvoiceStatus.ISSUED, InvoiceStatus.SENT}


def check(world: World) -> None:
    customers = world.customer_ids
    with read_session() as session:
        twice = session.execute(
            select(LedgerEntry.entry_key, func.count())
            .group_by(LedgerEntry.entry_key)
            .having(func.count() > 1)
        ).all()
        assert twice == []

        invoices = session.execute(
            select(Invoice).where(
                Invoice.customer_id.in_(customers), Invoice.status.in_(POSTABLE_STATUSES)
            )
        ).scalars()
        invoices = list(invoices)
        entries = session.execute(
            select(LedgerEntry).where(LedgerEntry.customer_id.in_(customers))
        ).scalars()
        sums: dict[tuple[int, str], int] = defaultdict(int)
        by_attempt: dict[int, list[LedgerEntry]] = defaultdict(list)
        ledger_total = 0
        for entry in entries:
            sums[entry.invoice_id, entry.kind] += entry.amount_minor
            ledger_total += balance_effect(entry.kind, entry.amount_minor)
            if entry.payment_attempt_id is not None:
                by_attempt[entry.payment_attempt_id].append(entry)

        for invoice in invoices:
            label = f"{invoice.number}: {invoice}"
            assert invoice.paid_minor == sums[invoice.id, PAYMENT], label
            assert invoice.credited_minor == sums[invoice.id, CREDIT], label
            assert invoice.returned_minor == sums[invoice.id, BACK], label
            assert invoice.open_minor == (
                invoice.total_minor
                - invoice.paid_minor
                - invoice.credited_minor
                + invoice.returned_minor
            ), label
            assert invoice.status in expected_status(invoice), label
            late = invoice.open_minor > 0 and invoice.due_date < TODAY
            shown = display_status(invoice, today=TODAY)
            assert (shown == OVERDUE) == late, label
            assert shown == OVERDUE or shown == invoice.status, label
            ledger_total += invoice.total_minor

        attempts = session.execute(
            select(PaymentAttempt).where(
                PaymentAttempt.invoice_id.in_([invoice.id for invoice in invoices])
            )
        ).scalars()
        for attempt in attempts:
            own = by_attempt[attempt.id]
            bookings = [e for e in own if e.kind == PAYMENT and e.amount_minor > 0]
            assert len(bookings) <= 1, f"{attempt.payment_reference} booked twice"
            signed = sum(e.amount_minor if e.kind == PAYMENT else -e.amount_minor for e in own)
            assert attempt.booked_minor == signed
            assert 0 <= attempt.booked_minor <= attempt.standing_amount_minor, attempt
            if attempt.state == "chargebacked":
                assert attempt.booked_minor == 0

        closing = 0
        outstanding_by_customer: dict[str, int] = defaultdict(int)
        for customer_id in customers:
            statement = customer_statement(
                session, customer_id=customer_id, date_from=EVER[0], date_to=EVER[1]
            )
            closing += sum(figures.closing_minor for figures in statement.currencies)
            for currency, owed in balances.outstanding(session, customer_id=customer_id).items():
                outstanding_by_customer[currency] += owed
        assert closing == ledger_total == sum(invoice.open_minor for invoice in invoices)

        owed = [invoice for invoice in invoices if invoice.open_minor > 0]
        assert dict(outstanding_by_customer) == (
            {"EUR": sum(i.open_minor for i in owed)} if owed else {}
        )
        assert all(invoice.status in OPEN_STATUSES for invoice in owed)
        late = [invoice for invoice in owed if invoice.due_date < TODAY]
        aging = [
            row
            for customer_id in customers
            for row in balances.customer_aging(session, as_of=TODAY, customer_id=customer_id).rows
        ]
        assert sum(row.overdue_invoices for row in aging) == len(late)
        assert sum(row.overdue_minor for row in aging) == sum(
            invoice.open_minor for invoice in late
        )


def test_the_ledger_stays_true_whatever_happens_to_the_money(any_db: str) -> None:
    channel = make_channel()

    # No shrinking: every example writes to a real database, so shrinking a failure takes
    # minutes (past the test timeout); the failing history, at most 21 steps, is printed
    # as drawn and reads well enough.
    @settings(max_examples=25, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate))
    @given(first=issue_step, steps=st.lists(step, min_size=6, max_size=20))
    def history(first: tuple, steps: list[tuple]) -> None:
        world = World(
            channel=channel,
            customers=[make_customer(name=name) for name in ("Anna SIA", "Bob OÜ")],
        )
        for name, *arguments in (first, *steps):
            note(f"{name}{tuple(arguments)}")  # a failure prints the history up to it
            STEPS[name](world, *arguments)
            check(world)

    history()
