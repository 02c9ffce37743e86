"""Two channels both called "LinkPay" are told apart wherever a channel is named: the
invoice and payment lists and their exports, callbacks, the invoice page and the report
behind the Overview chart."""

from datetime import UTC, date, datetime

import pytest

from shared import exports, reports
from shared.db import write_session
from shared.models import BankAccount, CallbackEvent, PaymentAttempt, PaymentChannel
from shared.views.callbacks import CallbackFilter, callback_page
from shared.views.invoice_detail import invoice_detail
from shared.views.invoices import INVOICE_COLUMNS, InvoiceFilter, invoice_csv_file, invoice_page
from shared.views.payments import PaymentFilter, payment_page
from tests.dashboard.conftest import make_attempt
from tests.utils.factories import make_channel, make_invoice

TZ = "Europe/Riga"
TODAY = date(2026, 5, 20)
WITH_IBAN = "LinkPay · LV97HABA…8910"
WITHOUT_IBAN = "LinkPay · Merchant EUR"


def _set_iban(channel: PaymentChannel, iban: str) -> None:
    with write_session() as session:
        session.get(BankAccount, channel.bank_account_id).iban = iban


@pytest.fixture
def two_linkpays(any_db):
    """Two channels, each named "LinkPay", on two merchant accounts; one has an IBAN."""
    swedbank, other = make_channel(), make_channel()
    _set_iban(swedbank, "LV97HABA0012345678910")
    invoices = [make_invoice(channel=channel) for channel in (swedbank, other)]
    for index, invoice in enumerate(invoices):
        attempt = make_attempt(invoice, at=datetime(2026, 5, 2 + index, tzinfo=UTC))
        with write_session() as session:
            session.get(PaymentAttempt, attempt.id).payment_method = "seb_ob_lv"
            session.add(
                CallbackEvent(
                    channel_id=invoice.channel_id,
                    payment_reference=attempt.payment_reference,
                    order_reference=invoice.number,
                    event_name="status_updated",
                    status="processed",
                    received_at=datetime(2026, 5, 2 + index, tzinfo=UTC),
                )
            )
    return invoices


def test_lists_name_each_channel_by_its_account(two_linkpays):
    swedbank_invoice, other_invoice = two_linkpays
    invoices = invoice_page(InvoiceFilter(), today=TODAY)
    assert {row.number: row.channel for row in invoices.rows} == {
        swedbank_invoice.number: WITH_IBAN,
        other_invoice.number: WITHOUT_IBAN,
    }
    payments = payment_page(PaymentFilter(), tz=TZ)
    assert [(row.channel, row.method) for row in payments.rows] == [
        (WITHOUT_IBAN, "SEB (Latvia) bank link"),
        (WITH_IBAN, "SEB (Latvia) bank link"),
    ]
    callbacks = callback_page(CallbackFilter(), tz=TZ)
    assert [row.channel for row in callbacks.rows] == [WITHOUT_IBAN, WITH_IBAN]
    detail = invoice_detail(swedbank_invoice.id, today=TODAY, tz=TZ)
    assert detail.channel_name == WITH_IBAN
    assert [row.channel for row in detail.attempts.rows] == [WITH_IBAN]


def test_invoice_csv_from_the_database_names_channels_as_the_list_does(two_linkpays):
    with invoice_csv_file(InvoiceFilter(), today=TODAY) as fast:
        text = fast.read().decode("utf-8")
    generic = "".join(
        exports.csv_chunks(INVOICE_COLUMNS, invoice_page(InvoiceFilter(), today=TODAY).rows)
    )
    assert text == generic
    assert WITH_IBAN in text and WITHOUT_IBAN in text


def test_report_and_chart_keep_the_two_channels_apart(two_linkpays):
    received = reports.received_per_period(
        date_from=date(2026, 1, 1), date_to=date(2026, 12, 31), tz=TZ, granularity="month"
    )
    assert sorted(row[1] for row in received.rows) == [WITH_IBAN, WITHOUT_IBAN]


def test_a_short_iban_is_shown_whole(any_db):
    channel = make_channel()
    _set_iban(channel, "LV12HABA1234")
    invoice = make_invoice(channel=channel)
    (row,) = invoice_page(InvoiceFilter(), today=TODAY).rows
    assert (row.number, row.channel) == (invoice.number, "LinkPay · LV12HABA1234")
