"""An invoice's timeline tells its story in one list, oldest first: issued, e-mailed, link
opened, paid, callbacks (one still waiting for EveryPay included), reminders."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.db import write_session
from shared.models import (
    AuditLog,
    CallbackEvent,
    FunnelEvent,
    FunnelStep,
    MessageLog,
    PaymentStateChange,
)
from shared.views import invoice_timeline as timeline
from shared.views.invoice_timeline import invoice_timeline
from tests.dashboard.conftest import app_as, make_attempt, no_exceptions, open_page
from tests.utils.factories import make_channel, make_invoice

TZ = "Europe/Riga"
START = datetime(2026, 5, 2, 9, 0, tzinfo=UTC)


def _at(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


def _story(invoice_id: int) -> list[tuple]:
    return [(row.kind, row.detail, row.by) for row in invoice_timeline(invoice_id, tz=TZ).rows]


@pytest.fixture
def paid_invoice(any_db):
    invoice = make_invoice(channel=make_channel())
    with write_session() as session:
        session.add(
            MessageLog(
                invoice_id=invoice.id,
                channel="email",
                status="sent",
                subject=f"Invoice {invoice.number}",
                recipients="ap@example.lv",
                sent_by="finance",
                created_at=_at(1),
                sent_at=_at(1),
            )
        )
        session.add(FunnelEvent(invoice_id=invoice.id, step=FunnelStep.LINK_OPENED, at=_at(2)))
    attempt = make_attempt(invoice, at=_at(3), reference="ab" * 32)
    with write_session() as session:
        for entry in session.query(AuditLog).filter(AuditLog.entity_id == str(invoice.id)):
            # Created and issued first; the payment's booking when it was made.
            issued = entry.action in ("invoice.create_draft", "invoice.issue")
            entry.at = _at(0) if issued else _at(3)
        session.add(
            PaymentStateChange(
                attempt_id=attempt.id, from_state="initial", to_state="settled", changed_at=_at(4)
            )
        )
        session.add(
            CallbackEvent(
                channel_id=invoice.channel_id,
                payment_reference="ab" * 32,
                order_reference=invoice.number,
                event_name="status_updated",
                status="done",
                outcome="invoice paid",
                invoice_id=invoice.id,
                received_at=_at(5),
            )
        )
        # EveryPay's API is down: this one waits, not yet linked to the invoice.
        session.add(
            CallbackEvent(
                channel_id=invoice.channel_id,
                payment_reference="cd" * 32,
                order_reference=invoice.number,
                event_name="status_updated",
                status="pending",
                last_error="EveryPay API: HTTP 503",
                received_at=_at(6),
            )
        )
        for day in (1, 2, 3):
            session.add(
                MessageLog(
                    invoice_id=invoice.id,
                    channel="reminder",
                    status="sent",
                    subject="Reminder",
                    dedupe_key=f"reminder:{invoice.id}:{day}",
                    created_at=_at(60 * 24 * day),
                    sent_at=_at(60 * 24 * day),
                )
            )
    return invoice


def test_timeline_tells_the_story_oldest_first(paid_invoice):
    story = _story(paid_invoice.id)
    kinds = [kind for kind, _, _ in story]
    assert kinds[kinds.index("E-mail") :] == [
        "E-mail",
        "Pay link opened",
        "Payment started",
        "Action",
        "Payment state",
        "Callback",
        "Callback waiting",
        "Reminder",
        "Reminder",
        "Reminder",
    ]
    assert story[:2] == [
        ("Action", "invoice.create_draft", "test"),
        ("Action", "invoice.issue", "test"),
    ]
    details = dict((kind, (detail, by)) for kind, detail, by in story)
    assert details["E-mail"] == (f"sent · ap@example.lv · Invoice {paid_invoice.number}", "finance")
    assert details["Payment started"] == ("121.00 EUR · Card · payment abababababab…", "customer")
    assert details["Payment state"][0] == "Initial → Settled (payment abababababab…)"
    assert "HTTP 503" in details["Callback waiting"][0]
    rows = invoice_timeline(paid_invoice.id, tz=TZ).rows
    assert [row.at for row in rows] == sorted(row.at for row in rows)
    assert rows[-1].at == datetime(2026, 5, 5, 12, 0)  # the last reminder, in Riga time


def test_timeline_keeps_the_newest_entries_of_each_kind(paid_invoice, monkeypatch):
    monkeypatch.setattr(timeline, "ENTRIES_PER_KIND", 2)
    rows = invoice_timeline(paid_invoice.id, tz=TZ).rows
    reminders = [row.at for row in rows if row.kind == "Reminder"]
    assert reminders == [datetime(2026, 5, 4, 12, 0), datetime(2026, 5, 5, 12, 0)]


def test_invoice_page_shows_the_timeline(db):
    invoice = make_invoice(channel=make_channel())
    at = app_as("manager")
    at.session_state["invoice_id"] = invoice.id
    at = open_page(at, "invoice_detail")
    no_exceptions(at)
    story = next(f.value for f in at.dataframe if "What" in f.value.columns)
    assert "invoice.issue" in list(story["Detail"])
