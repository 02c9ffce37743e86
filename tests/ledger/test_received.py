"""Payments recorded by hand, their reversal, and the customer credit they leave: what
finance sees on the invoices afterwards, on SQLite and PostgreSQL."""

from datetime import date, timedelta

import pytest
from sqlmodel import col, select

from shared.audit import SYSTEM_ACTOR
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.invoicing import LineInput
from shared.ledger.received import (
    apply_customer_credit,
    customer_credit,
    invoice_entries,
    record_received_payment,
    refund_customer_credit,
    reverse_received_payment,
    stage_received_payment,
    suggest_allocation,
    write_received_payments,
)
from shared.models import (
    AuditLog,
    Invoice,
    InvoiceStatus,
    LedgerEntry,
    LedgerEntryKind,
    LedgerSource,
    ReceivedPayment,
)
from shared.users import create_user
from tests.utils.factories import make_customer, make_invoice

FINANCE = "finance"
PAID_ON = date(2026, 5, 4)


def _invoice(customer, *, due: date | None = None, price: str = "100.00", **kwargs) -> Invoice:
    """An issued invoice of ``price`` + 21 % VAT (121.00 for the default)."""
    return make_invoice(
        channel=None,
        customer=customer,
        due_date=due,
        lines=[LineInput("Consulting", "1", price, "21")],
        **kwargs,
    )


def _record(customer, amount: str, allocations=(), **overrides):
    values = dict(
        actor=FINANCE,
        customer_id=customer.id,
        method=LedgerSource.BANK_TRANSFER,
        received_on=PAID_ON,
        amount=amount,
        currency="EUR",
        payer="Anna Bērziņa SIA",
        bank_reference="RF18 0001",
        note="",
        allocations=allocations,
    )
    values.update(overrides)
    with write_session() as session:
        return record_received_payment(session, **values)


def _write(action, **kwargs):
    """Runs one shared write function in its own transaction, as a page does."""
    with write_session() as session:
        return action(session, **kwargs)


def _stored(*invoices: Invoice) -> list[tuple[str, int]]:
    with read_session() as session:
        rows = [session.get(Invoice, invoice.id) for invoice in invoices]
        return [(row.status, row.open_minor) for row in rows]


def test_one_transfer_pays_two_invoices_and_the_rest_becomes_credit(any_db):
    customer = make_customer()
    first, second = _invoice(customer), _invoice(customer)

    result = _record(customer, "300.00", [(first.id, "121.00"), (second.id, 12100)])

    # 58.00 more than both invoices: booked on the last one, which goes below zero.
    assert _stored(first, second) == [(InvoiceStatus.PAID, 0), (InvoiceStatus.PAID, -5800)]
    assert result.credit_minor == 5800
    assert "58.00 EUR customer credit" in result.describe()
    with read_session() as session:
        assert customer_credit(session, customer_id=customer.id) == {"EUR": 5800}
        payment = session.get(ReceivedPayment, result.received_payment_id)
        entries = session.exec(select(LedgerEntry).order_by(col(LedgerEntry.id))).all()
        audit = session.exec(select(AuditLog).where(AuditLog.action == "payment.record")).one()
    assert (payment.amount_minor, payment.method, payment.created_by) == (
        30000,
        "bank_transfer",
        FINANCE,
    )
    assert [(e.entry_key, e.amount_minor, e.value_date) for e in entries] == [
        (f"received:{payment.id}:{first.id}", 12100, PAID_ON),
        (f"received:{payment.id}:{second.id}", 17900, PAID_ON),
    ]
    assert audit.details["allocations"] == {first.number: 12100, second.number: 17900}


def test_payments_written_together_each_keep_their_own_invoice_and_amount(any_db):
    """A statement's bookings are written many payments to a statement: each payment row,
    its ledger entry and its audit entry must still be the same payment's."""
    earlier = make_customer()
    _invoice(earlier)
    _record(earlier, "5.00")  # a payment before the batch: the batch's ids follow it
    invoices = [_invoice(make_customer(), price=price) for price in ("10.00", "20.00", "30.00")]
    with write_session() as session:
        staged = [
            stage_received_payment(
                session,
                customer_id=invoice.customer_id,
                method=LedgerSource.BANK_TRANSFER,
                received_on=PAID_ON,
                amount=invoice.total_minor,
                currency="EUR",
                bank_reference=f"BANK-{invoice.number}",
                allocations=[(invoice.id, invoice.total_minor)],
            )
            for invoice in invoices
        ]
        write_received_payments(session, actor=FINANCE, staged=staged)

    with read_session() as session:
        for invoice, payment in zip(invoices, staged, strict=True):
            row = session.get(ReceivedPayment, payment.received_payment_id)
            entry = session.exec(
                select(LedgerEntry).where(LedgerEntry.received_payment_id == row.id)
            ).one()
            audit = session.exec(
                select(AuditLog).where(
                    AuditLog.action == "payment.record", AuditLog.entity_id == str(row.id)
                )
            ).one()
            assert (row.customer_id, row.amount_minor, row.bank_reference) == (
                invoice.customer_id,
                invoice.total_minor,
                f"BANK-{invoice.number}",
            )
            assert (entry.invoice_id, entry.amount_minor) == (invoice.id, invoice.total_minor)
            assert audit.details["allocations"] == {invoice.number: invoice.total_minor}
            assert session.get(Invoice, invoice.id).status == InvoiceStatus.PAID


def test_without_allocation_the_oldest_due_invoices_are_paid_first(any_db):
    customer = make_customer()
    later = _invoice(customer, due=date(2026, 6, 30))
    earliest = _invoice(customer, due=date(2026, 5, 10))
    middle = _invoice(customer, due=date(2026, 6, 1))
    with read_session() as session:
        suggested = suggest_allocation(
            session, customer_id=customer.id, currency="EUR", amount_minor=20000
        )
    assert suggested == [(earliest.id, 12100), (middle.id, 7900)]

    _record(customer, "200.00")

    assert _stored(earliest, middle, later) == [
        (InvoiceStatus.PAID, 0),
        (InvoiceStatus.PARTIALLY_PAID, 4200),
        (InvoiceStatus.ISSUED, 12100),
    ]


@pytest.mark.parametrize(
    ("amount", "field", "message"),
    [
        ("0", "amount", "more than zero"),
        ("-5.00", "amount", "more than zero"),
        ("1 000 000 000 000", "amount", "at most"),
        ("12.345", "amount", "more than 2 decimals"),
        ("1,000", "amount", "ambiguous"),
    ],
)
def test_an_amount_finance_cannot_mean_is_refused_at_its_field(any_db, amount, field, message):
    customer = make_customer()
    invoice = _invoice(customer)
    with pytest.raises(ValidationError, match=message) as refused:
        _record(customer, amount, [(invoice.id, "")])
    assert refused.value.field == field
    assert _stored(invoice) == [(InvoiceStatus.ISSUED, 12100)]


def test_allocations_to_invoices_the_payment_cannot_pay_are_refused(any_db):
    customer, other = make_customer(), make_customer(name="Other SIA")
    mine = _invoice(customer)
    theirs = _invoice(other)
    draft = _invoice(customer, issue=False)
    dollars = _invoice(customer, currency="USD")
    cases = [
        ([(theirs.id, "121.00")], "belongs to another customer"),
        ([(draft.id, "121.00")], "only issued invoices"),
        ([(dollars.id, "121.00")], "is in USD"),
        ([(mine.id, "100.00"), (mine.id, "21.00")], "allocated once"),
        ([(mine.id, "130.00")], "more than the payment"),
    ]
    for allocations, message in cases:
        with pytest.raises(ValidationError, match=message) as refused:
            _record(customer, "121.00", allocations)
        assert refused.value.field == "allocations"
    future = date.today() + timedelta(days=2)
    with pytest.raises(ValidationError, match="future") as refused:
        _record(customer, "121.00", received_on=future)
    assert refused.value.field == "received_on"
    with read_session() as session:
        assert session.exec(select(LedgerEntry)).all() == []
        assert session.exec(select(ReceivedPayment)).all() == []


def test_a_customer_with_nothing_open_must_be_given_an_invoice(any_db):
    customer = make_customer()
    with pytest.raises(ValidationError, match="no open invoice in EUR") as refused:
        _record(customer, "50.00")
    assert refused.value.field == "allocations"


def test_a_manager_cannot_record_reverse_or_move_credit(any_db):
    customer = make_customer()
    invoice = _invoice(customer)
    result = _record(customer, "150.00", [(invoice.id, "121.00")])
    with write_session() as session:
        create_user(
            session, actor=SYSTEM_ACTOR, username="mara", password="manager-pw-1", role="manager"
        )
    attempts = [
        lambda s: record_received_payment(
            s,
            actor="mara",
            customer_id=customer.id,
            method="cash",
            received_on=PAID_ON,
            amount="10.00",
            currency="EUR",
            allocations=[(invoice.id, "10.00")],
        ),
        lambda s: reverse_received_payment(
            s, actor="mara", received_payment_id=result.received_payment_id, reason="wrong"
        ),
        lambda s: refund_customer_credit(
            s,
            actor="mara",
            customer_id=customer.id,
            currency="EUR",
            amount="29.00",
            paid_on=PAID_ON,
        ),
    ]
    for attempt in attempts:
        with pytest.raises(ValidationError, match="role does not allow"):
            _write(attempt)
    assert _stored(invoice) == [(InvoiceStatus.PAID, -2900)]


def test_reversal_takes_the_payment_back_once_with_its_reason(any_db):
    customer = make_customer()
    first, second = _invoice(customer), _invoice(customer)
    result = _record(customer, "200.00", [(first.id, "121.00"), (second.id, "79.00")])
    with pytest.raises(ValidationError, match="Say why") as refused:
        _write(
            reverse_received_payment,
            actor=FINANCE,
            received_payment_id=result.received_payment_id,
            reason=" ",
        )
    assert refused.value.field == "reason"

    with write_session() as session:
        reverse_received_payment(
            session,
            actor=FINANCE,
            received_payment_id=result.received_payment_id,
            reason="Booked on the wrong customer",
        )

    assert _stored(first, second) == [(InvoiceStatus.ISSUED, 12100), (InvoiceStatus.ISSUED, 12100)]
    with read_session() as session:
        payment = session.get(ReceivedPayment, result.received_payment_id)
        reversals = session.exec(
            select(LedgerEntry).where(LedgerEntry.source == LedgerSource.REVERSAL)
        ).all()
        listed = invoice_entries(session, invoice_id=first.id)
    assert (payment.reversed_by, payment.reversal_reason) == (
        FINANCE,
        "Booked on the wrong customer",
    )
    assert sorted(e.amount_minor for e in reversals) == [-12100, -7900]
    assert all(e.entry_key == f"reversal:{e.reverses_entry_id}" for e in reversals)
    assert [(e.source, e.amount_minor) for e in listed] == [
        ("bank_transfer", 12100),
        ("reversal", -12100),
    ]
    with pytest.raises(ValidationError, match="already reversed by finance"):
        _write(
            reverse_received_payment,
            actor=FINANCE,
            received_payment_id=result.received_payment_id,
            reason="x",
        )
    assert _stored(first, second) == [(InvoiceStatus.ISSUED, 12100), (InvoiceStatus.ISSUED, 12100)]


def test_credit_is_applied_oldest_first_and_only_as_far_as_it_goes(any_db):
    customer = make_customer()
    older, newer = _invoice(customer), _invoice(customer)
    _record(customer, "131.00", [(older.id, "121.00")])  # 10.00 credit
    _record(customer, "141.00", [(newer.id, "121.00")])  # 20.00 credit
    target = _invoice(customer, price="50.00")  # 60.50 open

    def apply(amount: str, invoice_id: int = target.id):
        with write_session() as session:
            return apply_customer_credit(
                session,
                actor=FINANCE,
                customer_id=customer.id,
                invoice_id=invoice_id,
                amount=amount,
            )

    with pytest.raises(ValidationError, match=r"more than the 30\.00 EUR credit available"):
        apply("30.01")
    apply("25.00")

    assert _stored(older, newer, target) == [
        (InvoiceStatus.PAID, 0),
        (InvoiceStatus.PAID, -500),
        (InvoiceStatus.PARTIALLY_PAID, 3550),
    ]
    with read_session() as session:
        assert customer_credit(session, customer_id=customer.id) == {"EUR": 500}
        moved = session.exec(
            select(LedgerEntry).where(LedgerEntry.source == LedgerSource.CUSTOMER_CREDIT)
        ).all()
    assert sum(e.amount_minor for e in moved) == 0
    assert sorted(e.amount_minor for e in moved) == [-1500, -1000, 1000, 1500]
    with pytest.raises(ValidationError, match="nothing open"):
        apply("1.00", invoice_id=older.id)


def test_credit_cannot_pay_more_than_the_target_still_owes(any_db):
    customer = make_customer()
    source = _invoice(customer)
    _record(customer, "300.00", [(source.id, "121.00")])  # 179.00 credit
    target = _invoice(customer)
    with pytest.raises(ValidationError, match=r"121\.00 EUR open on") as refused:
        _write(
            apply_customer_credit,
            actor=FINANCE,
            customer_id=customer.id,
            invoice_id=target.id,
            amount=13000,
        )
    assert refused.value.field == "amount"
    assert _stored(source, target) == [(InvoiceStatus.PAID, -17900), (InvoiceStatus.ISSUED, 12100)]


def test_credit_paid_back_is_money_going_back_and_leaves_the_invoice_paid(any_db):
    customer = make_customer()
    invoice = _invoice(customer)
    _record(customer, "150.00", [(invoice.id, "121.00")])
    with write_session() as session:
        refund_customer_credit(
            session,
            actor=FINANCE,
            customer_id=customer.id,
            currency="EUR",
            amount="29.00",
            paid_on=PAID_ON,
            note="Paid back to LV80BANK0000435195001",
        )
    assert _stored(invoice) == [(InvoiceStatus.PAID, 0)]
    with read_session() as session:
        assert customer_credit(session, customer_id=customer.id) == {}
        stored = session.get(Invoice, invoice.id)
        back = session.exec(
            select(LedgerEntry).where(LedgerEntry.kind == LedgerEntryKind.MONEY_BACK)
        ).one()
    assert (stored.paid_minor, stored.returned_minor) == (15000, 2900)
    assert (back.source, back.value_date, back.amount_minor) == ("refund", PAID_ON, 2900)
    with pytest.raises(ValidationError, match="credit available"):
        _write(
            refund_customer_credit,
            actor=FINANCE,
            customer_id=customer.id,
            currency="EUR",
            amount="0.01",
            paid_on=PAID_ON,
        )
