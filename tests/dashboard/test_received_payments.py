"""Payments received outside LinkPay on the dashboard: recorded from Payments or the
invoice, listed with LinkPay's, reversed with a reason; customer credit applied or paid
back from Customers; managers see it all and change nothing."""

from datetime import UTC, date, datetime

import pytest
from sqlmodel import select

from shared.db import get_engine, read_session, write_session
from shared.invoicing import LineInput
from shared.ledger.received import record_received_payment
from shared.models import AuditLog, Invoice, InvoiceStatus, ReceivedPayment
from shared.views import payments
from shared.views.payments import PaymentFilter
from tests.dashboard.conftest import (
    LAZY_SECTIONS,
    app_as,
    make_attempt,
    no_exceptions,
    open_page,
    texts,
)
from tests.utils.factories import make_channel, make_customer, make_invoice

TZ = "Europe/Riga"


def _invoices(customer, *dues: date, channel=None) -> list[Invoice]:
    return [
        make_invoice(
            channel=channel,
            customer=customer,
            due_date=due,
            lines=[LineInput("Consulting", "1", "100.00", "21")],
        )
        for due in dues
    ]


def _record(customer, amount: str, allocations, *, method: str = "bank_transfer") -> int:
    with write_session() as session:
        return record_received_payment(
            session,
            actor="finance",
            customer_id=customer.id,
            method=method,
            received_on=date(2026, 5, 4),
            amount=amount,
            currency="EUR",
            bank_reference="RF18 0042",
            allocations=allocations,
        ).received_payment_id


def _frame(at, column: str):
    """The table on the page that has ``column``."""
    return next(frame.value for frame in at.dataframe if column in frame.value.columns)


def _state(invoice: Invoice) -> tuple[str, int]:
    with read_session() as session:
        stored = session.get(Invoice, invoice.id)
        return stored.status, stored.open_minor


def test_record_payment_suggests_oldest_due_first_and_books_what_is_shown(db):
    customer = make_customer(name="Anna SIA")
    later, earlier = _invoices(customer, date(2026, 6, 30), date(2026, 5, 10))
    at = open_page(app_as("finance"), "payments", opened=("pay_record",))
    at.selectbox(key="rp_who").set_value(customer.id).run()
    at.text_input(key="rp_amount").input("300.00").run()
    no_exceptions(at)
    suggested = {
        widget.label.split(" · ")[0]: widget.value
        for widget in at.text_input
        if widget.key and widget.key.startswith("rp_alloc_")
    }
    # 121.00 on the one due first, the rest (179.00, of it 58.00 credit) on the other.
    assert suggested == {earlier.number: "121.00", later.number: "179.00"}

    at.radio(key="rp_method").set_value("cash")
    at.text_input(key="rp_payer").input("Anna Bērziņa")
    at.text_input(key="rp_reference").input("RF18 0001")
    at.button(key="rp_save").click().run()
    no_exceptions(at)

    message = "\n".join(element.value for element in at.success)
    assert "Cash of 300.00 EUR recorded" in message
    assert "58.00 EUR customer credit" in message
    assert _state(earlier) == (InvoiceStatus.PAID, 0)
    assert _state(later) == (InvoiceStatus.PAID, -5800)
    frame = at.dataframe[0].value
    assert list(frame["Source"]) == ["Cash"]
    assert list(frame["Payment reference"]) == ["RF18 0001"]
    assert list(frame["Invoice"]) == [f"{later.number} +1"]  # the lowest number, and one more
    assert at.text_input(key="rp_amount").value == ""  # the form starts afresh


def test_record_payment_refuses_an_amount_next_to_its_field(db):
    customer = make_customer()
    (invoice,) = _invoices(customer, date(2026, 5, 10))
    at = open_page(app_as("finance"), "payments", opened=("pay_record",))
    at.selectbox(key="rp_who").set_value(customer.id).run()
    at.text_input(key="rp_amount").input("1,000").run()
    at.button(key="rp_save").click().run()
    no_exceptions(at)
    assert "is ambiguous" in "\n".join(element.value for element in at.error)
    assert _state(invoice) == (InvoiceStatus.ISSUED, 12100)
    with read_session() as session:
        assert session.exec(select(ReceivedPayment)).all() == []


def test_reversal_needs_confirmation_and_a_reason_and_happens_once(db):
    customer = make_customer(name="Bob OÜ")
    (invoice,) = _invoices(customer, date(2026, 5, 10))
    payment_id = _record(customer, "121.00", [(invoice.id, "121.00")])
    at = open_page(app_as("finance"), "payments", opened=("pay_reverse",))
    assert at.button(key="payrev_go").disabled  # until confirmed
    at.checkbox(key="payrev_confirm").check().run()
    at.button(key="payrev_go").click().run()
    no_exceptions(at)
    assert "Say why the payment is reversed." in "\n".join(e.value for e in at.error)
    assert _state(invoice) == (InvoiceStatus.PAID, 0)

    at.text_input(key="payrev_reason").input("Booked twice: the bank listed it twice")
    at.button(key="payrev_go").click().run()
    no_exceptions(at)
    assert f"Payment #{payment_id} reversed" in "\n".join(e.value for e in at.success)
    assert _state(invoice) == (InvoiceStatus.ISSUED, 12100)
    assert "No recorded payment to reverse." in texts(at)
    assert list(at.dataframe[0].value["State"]) == ["Reversed"]
    with read_session() as session:
        audit = session.exec(select(AuditLog).where(AuditLog.action == "payment.reverse")).one()
    assert audit.details["reason"] == "Booked twice: the bank listed it twice"


def test_invoice_page_records_the_open_balance_and_lists_the_ledger(db):
    customer = make_customer()
    (invoice,) = _invoices(customer, date(2026, 5, 10), channel=make_channel())
    make_attempt(invoice, amount_minor=5000, at=datetime(2026, 5, 2, tzinfo=UTC))
    at = app_as("finance")
    at.session_state["invoice_id"] = invoice.id
    at = open_page(at, "invoice_detail")
    key = f"detail_rp_{invoice.id}"
    assert at.text_input(key=f"{key}_amount").value == "71.00"  # the open balance
    at.text_input(key=f"{key}_amount").input("80.00")
    at.text_input(key=f"{key}_reference").input("RF18 0077")
    at.button(key=f"{key}_save").click().run()
    no_exceptions(at)

    assert "Bank transfer of 80.00 EUR recorded" in "\n".join(e.value for e in at.success)
    assert _state(invoice) == (InvoiceStatus.PAID, -900)
    assert "Customer credit: 9.00 EUR" in texts(at)
    ledger = _frame(at, "By")
    assert list(ledger["Source"]) == ["LinkPay", "Bank transfer"]
    assert [float(amount) for amount in ledger["Amount"]] == [50.0, 80.0]
    assert list(ledger["Reference"])[1] == "RF18 0077"
    assert list(ledger["By"])[1] == "finance"


def test_customer_credit_is_applied_to_an_invoice_then_paid_back(db):
    customer = make_customer(name="Credit SIA")
    source, target = _invoices(customer, date(2026, 5, 10), date(2026, 6, 10))
    _record(customer, "171.00", [(source.id, "171.00")])  # 50.00 credit
    at = open_page(app_as("finance"), "customers")
    credit = _frame(at, "Credit")
    assert list(credit["Customer"]) == ["Credit SIA"]
    assert [float(amount) for amount in credit["Credit"]] == [50.0]
    amount = next(w for w in at.text_input if w.key and w.key.startswith("credit_amount_"))
    assert amount.value == "50.00"
    amount.input("30.00")
    at.button(key="credit_apply").click().run()
    no_exceptions(at)
    assert "Credit applied: 30.00 EUR on" in "\n".join(e.value for e in at.success)
    assert _state(source) == (InvoiceStatus.PAID, -2000)
    assert _state(target) == (InvoiceStatus.PARTIALLY_PAID, 9100)

    refund = next(w for w in at.text_input if w.key and w.key.startswith("refund_amount_"))
    assert refund.value == "20.00"
    at.text_input(key="refund_note").input("Paid back to LV80BANK0000435195001")
    at.button(key="credit_refund").click().run()
    no_exceptions(at)
    assert "20.00 EUR credit marked as paid back." in "\n".join(e.value for e in at.success)
    assert _state(source) == (InvoiceStatus.PAID, 0)
    assert "No customer holds credit." in texts(at)


@pytest.mark.parametrize(
    ("page", "shown"),
    [
        ("payments", "RF18 0042"),  # the recorded payment, in the list
        ("customers", "Credit SIA"),  # in the credit table
        ("invoice_detail", "Customer credit: 29.00 EUR"),
    ],
)
def test_a_manager_sees_payments_and_credit_but_no_button_to_change_them(db, page, shown):
    customer = make_customer(name="Credit SIA")
    (invoice,) = _invoices(customer, date(2026, 5, 10))
    _record(customer, "150.00", [(invoice.id, "150.00")])
    at = app_as("manager")
    at.session_state["invoice_id"] = invoice.id
    at = open_page(at, page, opened=LAZY_SECTIONS)
    no_exceptions(at)
    keys = {widget.key or "" for widget in (*at.button, *at.text_input, *at.checkbox)}
    written = ("rp_", "payrev_", "credit_", "refund_", f"detail_rp_{invoice.id}")
    paging = ("credit_holders_",)
    assert not [key for key in keys if key.startswith(written) and not key.startswith(paging)]
    frames = [frame.value for frame in at.dataframe]
    assert shown in texts(at) + "".join(frame.to_csv() for frame in frames)


def test_payments_list_merges_linkpay_and_recorded_payments_paged_in_sql(any_db):
    channel = make_channel()
    customer = make_customer(name="Anna SIA")
    first, second = _invoices(customer, date(2026, 5, 10), date(2026, 5, 20), channel=channel)
    make_attempt(first, amount_minor=5000, at=datetime(2026, 5, 2, tzinfo=UTC))
    _record(customer, "150.00", [(first.id, "71.00"), (second.id, "79.00")], method="cash")
    _record(customer, "42.00", [(second.id, "42.00")])

    every = payments.payment_page(PaymentFilter(), tz=TZ)
    assert every.total == 3
    assert [dict(zip(every.labels, row, strict=True))["Source"] for row in every.rows] == [
        "Bank transfer",
        "Cash",
        "LinkPay",
    ]
    second_page = payments.payment_page(PaymentFilter(), tz=TZ, offset=1, limit=1)
    assert (second_page.total, [row[4] for row in second_page.rows]) == (3, ["Cash"])

    def sources(flt: PaymentFilter) -> list[str]:
        return [row[4] for row in payments.payment_page(flt, tz=TZ).rows]

    assert sources(PaymentFilter(sources=("cash",))) == ["Cash"]
    assert sources(PaymentFilter(sources=("linkpay",))) == ["LinkPay"]
    assert sources(PaymentFilter(states=("settled",))) == ["LinkPay"]
    assert sources(PaymentFilter(states=("received",))) == ["Bank transfer", "Cash"]
    assert sources(PaymentFilter(channel_id=channel.id)) == ["LinkPay"]
    assert sources(PaymentFilter(reference="RF18")) == ["Bank transfer", "Cash"]
    assert sources(PaymentFilter(reference=first.number)) == ["Cash", "LinkPay"]
    assert sources(PaymentFilter(invoice_id=second.id)) == ["Bank transfer", "Cash"]


def test_each_side_of_the_payments_list_is_read_from_its_created_at_index(db):
    """Two million attempts: a page reads each side's newest rows from its index and
    sorts only those, never a whole table."""
    flt = PaymentFilter()
    received = payments._received_conditions(flt, tz=TZ, dialect="sqlite")
    engine = get_engine()
    plans = []
    for branch in (
        payments.attempt_select(flt, tz=TZ, dialect="sqlite"),
        payments._received_branch(received),
    ):
        sql = str(branch.limit(50).compile(engine, compile_kwargs={"literal_binds": True}))
        with engine.connect() as connection:
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all()
        plans.append("\n".join(row[-1] for row in rows))
    assert "ix_payment_attempt_created_at" in plans[0], plans[0]
    assert "ix_received_payment_created_at" in plans[1], plans[1]
    assert all("TEMP B-TREE" not in plan for plan in plans), plans
