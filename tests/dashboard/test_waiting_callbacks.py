"""During an EveryPay API outage a callback waits unprocessed, not yet linked to its
invoice: the invoice page still lists it, never "No callbacks yet"."""

from shared.db import write_session
from shared.models import CallbackEvent
from shared.views.invoice_detail import invoice_detail
from tests.dashboard.conftest import app_as, no_exceptions, open_page, texts
from tests.utils.factories import make_channel, make_invoice

TZ = "Europe/Riga"


def _callback(channel, order_reference: str, status: str, *, invoice_id=None) -> None:
    with write_session() as session:
        session.add(
            CallbackEvent(
                channel_id=channel.id,
                payment_reference=f"{len(order_reference) + len(status):02d}" * 32,
                order_reference=order_reference,
                event_name="status_updated",
                status=status,
                invoice_id=invoice_id,
            )
        )


def test_waiting_callbacks_show_on_their_invoice(db):
    channel = make_channel()
    invoice, other = make_invoice(channel=channel), make_invoice(channel=channel)
    _callback(channel, invoice.number, "pending")
    _callback(channel, invoice.number, "needs_attention")
    _callback(channel, other.number, "pending")
    _callback(channel, invoice.number, "rejected")  # never applied: not about this invoice

    detail = invoice_detail(invoice.id, today=invoice.issue_date, tz=TZ)
    assert sorted(row.status for row in detail.callbacks.rows) == ["Needs attention", "Waiting"]
    assert detail.waiting_callbacks == 2

    at = app_as("finance")
    at.session_state["invoice_id"] = invoice.id
    at = open_page(at, "invoice_detail")
    no_exceptions(at)
    assert "No callbacks yet." not in texts(at)
    assert "2 callback(s) wait for EveryPay's answer" in texts(at)


def test_processed_callbacks_stay_with_their_invoice(db):
    channel = make_channel()
    invoice = make_invoice(channel=channel)
    _callback(channel, "INV-OTHER", "done", invoice_id=invoice.id)
    detail = invoice_detail(invoice.id, today=invoice.issue_date, tz=TZ)
    assert [row.status for row in detail.callbacks.rows] == ["Done"]
    assert [row.invoice for row in detail.callbacks.rows] == [invoice.number]
