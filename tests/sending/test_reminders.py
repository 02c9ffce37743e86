from datetime import date, timedelta

import pytest
from sqlmodel import select

from shared.callbacks.lost_payments import check_lost_payments, watch_pay_link_opened
from shared.db import read_session, write_session
from shared.invoicing import cancel_invoice
from shared.models import (
    Invoice,
    MessageChannel,
    MessageLog,
    MessageStatus,
    ReviewItem,
    ReviewKind,
    utcnow,
)
from shared.reminders import reminder_day, send_due_reminders, set_reminders
from shared.review import dispute_chargeback, mark_resolved
from shared.sending import sending_overview
from tests.sending.conftest import english_customer, follow_pay_link, issued_invoice
from tests.utils.factories import post_payment, settle_linkpay

ISSUED = date(2026, 3, 1)
DUE = date(2026, 3, 15)


def _overdue(*, reminders: bool = True, **values) -> Invoice:
    invoice = issued_invoice(issue_date=ISSUED, due_date=DUE, **values)
    set_reminders(invoice_id=invoice.id, enabled=reminders, actor="finance")
    return invoice


def _reminder_keys() -> list[str]:
    with read_session() as session:
        rows = session.exec(
            select(MessageLog).where(MessageLog.channel == MessageChannel.REMINDER)
        ).all()
    return sorted(row.dedupe_key for row in rows)


@pytest.mark.parametrize(
    ("days", "expected"),
    [(-3, None), (4, None), (5, 5), (9, 5), (10, 10), (14, 10), (15, 15), (90, 15)],
)
def test_reminder_stage_is_the_latest_one_due(days, expected):
    assert reminder_day(due_date=DUE, today=DUE + timedelta(days=days)) == expected


def test_reminders_go_out_5_10_and_15_days_after_the_due_date_once_each(smtp_server, company):
    invoice = _overdue(customer=english_customer())
    sent_per_day = {}
    for days in range(0, 21):
        report = send_due_reminders(today=DUE + timedelta(days=days))
        sent_per_day[days] = report.sent
        send_due_reminders(today=DUE + timedelta(days=days))  # a second run the same day

    assert {d: n for d, n in sent_per_day.items() if n} == {5: 1, 10: 1, 15: 1}
    assert len(smtp_server.messages) == 3
    assert _reminder_keys() == [f"reminder:{invoice.id}:{day}" for day in (10, 15, 5)]
    first = smtp_server.messages[0]
    assert first["Subject"] == (
        f"Reminder: invoice {invoice.number} from Baltic Widgets SIA is not paid yet"
    )
    text = first.get_body(preferencelist=("plain",)).get_content()
    assert "was due on 15 March 2026" in text


def test_a_missed_run_sends_only_the_latest_stage(smtp_server):
    invoice = _overdue()

    report = send_due_reminders(today=DUE + timedelta(days=12))

    assert report.sent == 1 and len(smtp_server.messages) == 1
    assert _reminder_keys() == [f"reminder:{invoice.id}:10"]
    message = smtp_server.messages[0]
    assert message["Subject"].startswith(f"Atgādinājums: rēķins {invoice.number}")
    assert send_due_reminders(today=DUE + timedelta(days=13)).sent == 0


def test_reminder_carries_the_current_open_balance(smtp_server):
    invoice = _overdue(customer=english_customer())
    with write_session() as session:
        settle_linkpay(session, invoice_id=invoice.id, amount_minor=2100)

    send_due_reminders(today=DUE + timedelta(days=5))

    text = smtp_server.messages[0].get_body(preferencelist=("plain",)).get_content()
    link = next(line for line in text.splitlines() if line.endswith("/pay"))
    params = follow_pay_link(link)
    assert params["transaction_amount"] == "100.00"
    assert params["order_reference"] == f"{invoice.number}-2"


def test_no_reminders_for_paid_cancelled_disabled_or_not_yet_overdue(smtp_server):
    paid = _overdue()
    with write_session() as session:
        post_payment(session, invoice_id=paid.id, amount_minor=paid.total_minor)
    cancelled = _overdue()
    with write_session() as session:
        cancel_invoice(session, actor="t", invoice_id=cancelled.id, reason="Wrong customer")
    _overdue(reminders=False)
    issued_invoice(issue_date=ISSUED, due_date=DUE + timedelta(days=3))

    report = send_due_reminders(today=DUE + timedelta(days=5))

    assert report.sent == 0 and smtp_server.messages == []


def test_failed_reminder_is_retried_on_the_next_run_through_the_same_row(smtp_server):
    invoice = _overdue()
    smtp_server.reject = "451 4.3.0 Try again later"

    first = send_due_reminders(today=DUE + timedelta(days=5))

    assert first.failed == 1 and "451" in first.errors[0]
    smtp_server.reject = None
    second = send_due_reminders(today=DUE + timedelta(days=6))
    assert second.sent == 1 and len(smtp_server.messages) == 1
    with read_session() as session:
        [row] = session.exec(select(MessageLog)).all()
    assert row.dedupe_key == f"reminder:{invoice.id}:5"
    assert (row.status, row.attempts) == (MessageStatus.SENT, 2)
    assert smtp_server.messages[0]["Message-ID"] == row.message_id
    assert "1 sent" in str(second)


def test_reminders_are_held_while_a_lost_payment_is_open_and_resume_once_resolved(
    smtp_server, company
):
    invoice = _overdue(customer=english_customer())
    # The customer opened the pay link two days ago; no payment has been heard of since.
    watch_pay_link_opened(invoice_id=invoice.id, at=utcnow() - timedelta(hours=48))
    check_lost_payments()
    with read_session() as session:
        item = session.exec(select(ReviewItem).where(ReviewItem.kind == "lost_payment")).one()

    report = send_due_reminders(today=DUE + timedelta(days=5))

    assert report.sent == 0 and smtp_server.messages == []
    [reason] = report.held
    assert invoice.number in reason and f"exception #{item.id}" in reason
    assert "0 sent" in str(report) and "1 held" in str(report)
    assert sending_overview(invoice_id=invoice.id).reminders_held_by == item.id

    with write_session() as session:
        mark_resolved(session, actor="finance", review_id=item.id, comment="Customer did not pay")
    report = send_due_reminders(today=DUE + timedelta(days=6))

    assert report.sent == 1 and report.held == []
    assert sending_overview(invoice_id=invoice.id).reminders_held_by is None


def test_reminders_wait_while_a_chargeback_is_reviewed_and_resume_when_disputed(smtp_server):
    invoice = _overdue()
    with write_session() as session:
        item = ReviewItem(
            kind=ReviewKind.CHARGEBACK,
            dedupe_key="chargeback:test",
            reason="The card issuer took 121.00 EUR back.",
            invoice_id=invoice.id,
            amount_minor=12100,
            currency="EUR",
        )
        session.add(item)
        session.flush()
        item_id = item.id

    held = send_due_reminders(today=DUE + timedelta(days=5))
    assert held.sent == 0 and smtp_server.messages == []
    assert held.skipped == [
        f"{invoice.number}: reminder held while a chargeback of 121.00 EUR is under review "
        f"(exception #{item_id})"
    ]

    with write_session() as session:
        dispute_chargeback(
            session, actor="finance", review_id=item_id, comment="Service was delivered."
        )
    resumed = send_due_reminders(today=DUE + timedelta(days=5))
    assert resumed.sent == 1 and len(smtp_server.messages) == 1
