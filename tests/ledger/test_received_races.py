"""Two people acting on the same money at the same moment, on SQLite and PostgreSQL: the
customer's credit is spent once, a payment is reversed once.

Each round starts both sides together (the sweep of start offsets of the dashboard races);
a side refused with a ValidationError is the message the second person sees.
"""

from datetime import date

import pytest
from sqlmodel import col, func, select

from shared.db import read_session, write_session
from shared.invoicing import LineInput
from shared.ledger.received import (
    apply_customer_credit,
    customer_credit,
    record_received_payment,
    reverse_received_payment,
)
from shared.models import Invoice, LedgerEntry, LedgerSource, ReceivedPayment
from tests.callbacks.test_dashboard_races import _race
from tests.utils.factories import make_customer, make_invoice

pytestmark = pytest.mark.slow

ROUNDS = 30
FINANCE = "finance"


def _invoice(customer) -> Invoice:
    return make_invoice(
        channel=None, customer=customer, lines=[LineInput("Consulting", "1", "100.00", "21")]
    )


def _pay(customer, invoice: Invoice, amount: str) -> int:
    with write_session() as session:
        return record_received_payment(
            session,
            actor=FINANCE,
            customer_id=customer.id,
            method=LedgerSource.BANK_TRANSFER,
            received_on=date(2026, 5, 4),
            amount=amount,
            currency="EUR",
            allocations=[(invoice.id, "121.00")],
        ).received_payment_id


def _open_total(invoice_ids: list[int]) -> int:
    with read_session() as session:
        return session.exec(
            select(func.sum(Invoice.open_minor)).where(col(Invoice.id).in_(invoice_ids))
        ).one()


def test_the_whole_credit_applied_to_two_invoices_at_once_is_spent_once(any_db):
    rounds = []
    for _ in range(ROUNDS):
        customer = make_customer()
        source, first, second = _invoice(customer), _invoice(customer), _invoice(customer)
        _pay(customer, source, "171.00")  # 50.00 credit
        rounds.append((customer.id, [source.id, first.id, second.id]))
    applied: list[int] = []

    def apply_to(target: int):
        def side(round_number: int) -> None:
            customer_id, ids = rounds[round_number]
            with write_session() as session:
                apply_customer_credit(
                    session,
                    actor=FINANCE,
                    customer_id=customer_id,
                    invoice_id=ids[target],
                    amount="50.00",
                )
            applied.append(round_number)

        return side

    assert _race(ROUNDS, apply_to(1), apply_to(2)) == []

    assert sorted(applied) == list(range(ROUNDS))  # one of the two, every round
    with read_session() as session:
        for customer_id, ids in rounds:
            assert customer_credit(session, customer_id=customer_id) == {}
            moved = session.exec(
                select(func.sum(LedgerEntry.amount_minor)).where(
                    col(LedgerEntry.invoice_id).in_(ids),
                    LedgerEntry.source == LedgerSource.CUSTOMER_CREDIT,
                )
            ).one()
            assert moved == 0
            # 121.00 + 121.00 owed before: 50.00 credit paid exactly 50.00 of it.
            assert _open_total(ids) == 2 * 12100 - 5000


def test_two_reversals_of_one_payment_at_once_take_it_back_once(any_db):
    rounds = []
    for _ in range(ROUNDS):
        customer = make_customer()
        invoice = _invoice(customer)
        rounds.append((_pay(customer, invoice, "121.00"), invoice.id))
    reversed_: list[int] = []

    def reverse(round_number: int) -> None:
        payment_id, _ = rounds[round_number]
        with write_session() as session:
            reverse_received_payment(
                session, actor=FINANCE, received_payment_id=payment_id, reason="Wrong customer"
            )
        reversed_.append(round_number)

    assert _race(ROUNDS, reverse, reverse) == []

    assert sorted(reversed_) == list(range(ROUNDS))
    ids = [invoice_id for _, invoice_id in rounds]
    assert _open_total(ids) == ROUNDS * 12100
    with read_session() as session:
        assert (
            session.exec(
                select(func.count()).where(col(ReceivedPayment.reversed_at).is_not(None))
            ).one()
            == ROUNDS
        )
