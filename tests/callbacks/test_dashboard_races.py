"""Dashboard writes racing payment booking: no interleaving leaves an invoice inconsistent.

Each test runs one dashboard action (cancel, mark sent through a sending function, accept
a partial payment) against the callback path's booking of a settled payment, hundreds of
times on each backend. The two sides start together at a barrier and one of them then
waits a little, the offset swept across both orders and every overlap in between. What is
checked afterwards is what a bookkeeper would notice: a fully paid invoice shown as
"sent", a cancelled invoice holding money with nobody told, an invoice whose paid amount
is not the sum of what its payments booked, a payment booked for more than stays paid.
"""

import threading
import time
from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlmodel import col, select

from shared.audit import SYSTEM_ACTOR
from shared.callbacks.apply import apply_payment_status
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.invoicing import DraftInput, LineInput, cancel_invoice, create_draft, issue_invoice
from shared.linkpay.client import PaymentStatus
from shared.models import (
    Invoice,
    InvoiceStatus,
    PaymentAttempt,
    PaymentChannel,
    PaymentState,
    ReviewItem,
    ReviewKind,
    ReviewStatus,
    utcnow,
)
from shared.review import accept_partial_payment
from shared.security import new_token
from shared.sending import record_link_shared
from shared.users import create_user
from tests.callbacks.helpers import API_BASE
from tests.utils.callback_service import new_reference
from tests.utils.factories import API_USERNAME, make_channel, make_customer

pytestmark = pytest.mark.slow

ROUNDS = 200
# Offsets from -SPREAD to +SPREAD: negative delays the booking, positive the dashboard.
SPREAD_SECONDS = 0.004
ACTOR = "finance"


def _offset(round_number: int) -> float:
    steps = 24
    return SPREAD_SECONDS * ((round_number % (steps + 1)) * 2 / steps - 1)


def _wait(seconds: float) -> None:
    """Busy-waits: ``time.sleep`` cannot place a start to a fraction of a millisecond."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def _race(rounds: int, *sides: Callable[[int], None]) -> list[BaseException]:
    """Runs every side once per round, all released together; returns unexpected errors.

    The first side is shifted by the round's offset against the others, so one round in
    two it starts first and the other half last. A ValidationError is a refusal the
    dashboard shows; anything else is a failure.
    """
    barrier = threading.Barrier(len(sides))
    errors: list[BaseException] = []

    def run(index: int, side: Callable[[int], None]) -> None:
        for round_number in range(rounds):
            barrier.wait(timeout=30)
            offset = _offset(round_number)
            if (index == 0 and offset > 0) or (index > 0 and offset < 0):
                _wait(abs(offset))
            try:
                side(round_number)
            except ValidationError:
                pass
            except BaseException as error:  # reported by the test, not lost in the thread
                errors.append(error)

    threads = [threading.Thread(target=run, args=(index, side)) for index, side in enumerate(sides)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a race side hung"
    return errors


def _setup(count: int) -> tuple[int, list[Invoice]]:
    """``count`` issued invoices of 121.00 on one channel, and a finance user.

    One invoice goes through the domain functions; the others are copies of its row with
    their own number and unique tokens, inserted at once (issuing hundreds one by one
    would take longer than the races).
    """
    channel = make_channel(api_base=API_BASE)
    customer = make_customer()
    with write_session() as session:
        create_user(
            session, actor=SYSTEM_ACTOR, username=ACTOR, password="finance-pw-1", role="finance"
        )
        draft = create_draft(
            session,
            actor=SYSTEM_ACTOR,
            data=DraftInput(
                customer_id=customer.id,
                channel_id=channel.id,
                lines=[LineInput("Consulting", "1", "100.00", "21")],
            ),
        )
        template = issue_invoice(session, actor=SYSTEM_ACTOR, invoice_id=draft.id)
        unique = {
            column.name
            for column in Invoice.__table__.columns
            if column.unique and column.name != "number"
        }
        copies = [
            Invoice(
                **template.model_dump(exclude={"id", "number", *unique}),
                number=f"RACE-{number:04d}",
                **{name: new_token(24) for name in unique},
            )
            for number in range(1, count)
        ]
        session.add_all(copies)
        session.flush()
        invoices = [template, *copies]
    return channel.id, invoices


def _answer(
    invoice: Invoice, *, reference: str, amount: str, state: str = PaymentState.SETTLED
) -> PaymentStatus:
    standing = Decimal(0) if state == PaymentState.REFUNDED else Decimal(amount)
    return PaymentStatus(
        payment_reference=reference,
        payment_state=state,
        order_reference=invoice.number or "",
        api_username=API_USERNAME,
        initial_amount=Decimal(amount),
        standing_amount=standing,
        currency="EUR",
        payment_method="card",
    )


def _apply(channel_id: int, answer: PaymentStatus) -> None:
    with write_session() as session:
        apply_payment_status(
            session,
            channel_id=channel_id,
            asked_reference=answer.payment_reference,
            answer=answer,
            asked_at=utcnow(),
            source="callback",
        )


def _inconsistencies(invoice_ids: list[int]) -> list[str]:
    """What a bookkeeper would find wrong with these invoices, one line each."""
    problems = []
    with read_session() as session:
        invoices = session.exec(select(Invoice).where(col(Invoice.id).in_(invoice_ids))).all()
        attempts = session.exec(
            select(PaymentAttempt).where(col(PaymentAttempt.invoice_id).in_(invoice_ids))
        ).all()
        open_reviews = {
            item.payment_attempt_id
            for item in session.exec(
                select(ReviewItem).where(col(ReviewItem.status) == ReviewStatus.OPEN)
            ).all()
        }
    booked: dict[int, int] = {}
    for attempt in attempts:
        booked[attempt.invoice_id] = booked.get(attempt.invoice_id, 0) + attempt.booked_minor
        if attempt.booked_minor > attempt.standing_amount_minor:
            problems.append(
                f"payment {attempt.id} booked {attempt.booked_minor}, "
                f"only {attempt.standing_amount_minor} stays paid"
            )
    for invoice in invoices:
        label = f"{invoice.number} ({invoice.status}, paid {invoice.paid_minor})"
        # What stays paid on the invoice: received less what went back to the payer.
        if invoice.paid_minor - invoice.returned_minor != booked.get(invoice.id, 0):
            problems.append(f"{label}: its payments booked {booked.get(invoice.id, 0)}")
        if invoice.status == InvoiceStatus.CANCELLED:
            if invoice.paid_minor:
                problems.append(f"{label}: cancelled with money booked")
            for attempt in attempts:
                settled = attempt.state == PaymentState.SETTLED
                if attempt.invoice_id == invoice.id and settled and attempt.id not in open_reviews:
                    problems.append(f"{label}: a settled payment with no open review")
            continue
        expected = (
            InvoiceStatus.PAID
            if invoice.open_minor <= 0
            else InvoiceStatus.PARTIALLY_PAID
            if invoice.open_minor < invoice.total_minor
            else InvoiceStatus.SENT
            if invoice.sent_at
            else InvoiceStatus.ISSUED
        )
        owed = invoice.total_minor - invoice.paid_minor + invoice.returned_minor
        if invoice.status != expected or invoice.open_minor != owed - invoice.credited_minor:
            problems.append(f"{label}: open {invoice.open_minor}, expected status {expected}")
    return problems


def test_cancel_racing_a_settled_payment_never_keeps_money_unseen(any_db):
    channel_id, invoices = _setup(ROUNDS)
    refused: list[int] = []

    def cancel(round_number: int) -> None:
        try:
            with write_session() as session:
                cancel_invoice(
                    session,
                    actor=ACTOR,
                    invoice_id=invoices[round_number].id,
                    reason="Issued to the wrong customer",
                )
        except ValidationError:
            refused.append(round_number)
            raise

    def book(round_number: int) -> None:
        invoice = invoices[round_number]
        _apply(channel_id, _answer(invoice, reference=new_reference(), amount="121.00"))

    assert _race(ROUNDS, cancel, book) == []
    ids = [invoice.id for invoice in invoices]
    assert _inconsistencies(ids) == []
    with read_session() as session:
        statuses = session.exec(select(Invoice.status).where(col(Invoice.id).in_(ids))).all()
    # Cancel is refused exactly when the payment was booked first.
    assert statuses.count(InvoiceStatus.PAID) == len(refused)
    assert statuses.count(InvoiceStatus.CANCELLED) == ROUNDS - len(refused)


def test_sending_racing_a_settled_payment_never_leaves_a_paid_invoice_sent(any_db):
    channel_id, invoices = _setup(ROUNDS)

    def share_link(round_number: int) -> None:
        record_link_shared(invoice_id=invoices[round_number].id, actor=ACTOR)

    def book(round_number: int) -> None:
        invoice = invoices[round_number]
        _apply(channel_id, _answer(invoice, reference=new_reference(), amount="121.00"))

    assert _race(ROUNDS, share_link, book) == []
    ids = [invoice.id for invoice in invoices]
    assert _inconsistencies(ids) == []
    with read_session() as session:
        rows = session.exec(
            select(Invoice.status, Invoice.sent_at).where(col(Invoice.id).in_(ids))
        ).all()
    assert {status for status, _ in rows} == {InvoiceStatus.PAID}
    assert all(sent_at is not None for _, sent_at in rows)


def test_accepting_a_partial_payment_racing_its_refund_and_another_payment(any_db):
    """Accepting 40.00 as a partial payment while EveryPay's refund of that payment and a
    second payment of 81.00 are applied: money is booked only while it stays paid."""
    channel_id, invoices = _setup(ROUNDS)
    with write_session() as session:
        attempts = [
            PaymentAttempt(
                payment_reference=new_reference(),
                channel_id=channel_id,
                invoice_id=invoice.id,
                order_reference=invoice.number or "",
                state=PaymentState.SETTLED,
                is_final=True,
                initial_amount_minor=4000,
                standing_amount_minor=4000,
                currency="EUR",
                last_checked_at=utcnow(),
            )
            for invoice in invoices
        ]
        session.add_all(attempts)
        session.flush()
        items = [
            ReviewItem(
                kind=ReviewKind.AMOUNT_MISMATCH,
                dedupe_key=f"amount_mismatch:{attempt.payment_reference}",
                reason="Paid 40.00 of 121.00",
                invoice_id=attempt.invoice_id,
                payment_attempt_id=attempt.id,
                channel_id=channel_id,
                amount_minor=4000,
                currency="EUR",
            )
            for attempt in attempts
        ]
        session.add_all(items)
        session.flush()
        partial = [
            (attempt.payment_reference, item.id)
            for attempt, item in zip(attempts, items, strict=True)
        ]

    def accept(round_number: int) -> None:
        with write_session() as session:
            accept_partial_payment(session, actor=ACTOR, review_id=partial[round_number][1])

    def refund(round_number: int) -> None:
        invoice = invoices[round_number]
        reference = partial[round_number][0]
        _apply(
            channel_id,
            _answer(invoice, reference=reference, amount="40.00", state=PaymentState.REFUNDED),
        )

    def book_rest(round_number: int) -> None:
        invoice = invoices[round_number]
        _apply(channel_id, _answer(invoice, reference=new_reference(), amount="81.00"))

    assert _race(ROUNDS, accept, refund, book_rest) == []
    assert _inconsistencies([invoice.id for invoice in invoices]) == []
    with read_session() as session:
        channel = session.get(PaymentChannel, channel_id)
    assert channel is not None and channel.first_settled_at is not None
