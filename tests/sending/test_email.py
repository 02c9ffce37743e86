import html
import io
import re

import pytest
from pypdf import PdfReader
from sqlmodel import select

from shared.config import get_settings
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.invoicing import LineInput, cancel_invoice
from shared.models import (
    FunnelEvent,
    FunnelStep,
    Invoice,
    InvoiceStatus,
    MessageChannel,
    MessageLog,
    MessageStatus,
)
from shared.public_urls import public_token
from shared.sending import (
    resend_message,
    send_invoice_email,
    send_invoices_by_email,
)
from tests.sending.conftest import (
    english_customer,
    follow_pay_link,
    free_port,
    issued_invoice,
    point_smtp_at,
    set_cc,
)
from tests.utils.factories import make_invoice, post_payment, settle_linkpay

PAY_LINK = re.compile(r"https://pay\.example\.lv/i/[A-Za-z0-9_-]+/pay")


def _parts(message):
    text = message.get_body(preferencelist=("plain",)).get_content()
    body = message.get_body(preferencelist=("html",)).get_content()
    return text, body


def _pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_customer_gets_an_email_with_both_parts_a_pay_link_and_the_pdf(smtp_server, company):
    customer = english_customer()
    set_cc(customer, "boss@northwind.example, books@northwind.example")
    invoice = issued_invoice(customer=customer)

    log = send_invoice_email(invoice_id=invoice.id, actor="finance")

    assert log.status == MessageStatus.SENT and log.attempts == 1 and log.error is None
    [message] = smtp_server.messages
    assert message["Subject"] == f"Invoice {invoice.number} from Baltic Widgets SIA"
    assert message["To"] == "ap@northwind.example"
    assert message["Cc"] == "boss@northwind.example, books@northwind.example"
    assert smtp_server.envelopes[0][1] == [
        "ap@northwind.example",
        "boss@northwind.example",
        "books@northwind.example",
    ]
    assert message["Message-ID"] == log.message_id
    assert "Baltic Widgets SIA" in message["From"]

    alternative = next(p for p in message.walk() if p.get_content_type() == "multipart/alternative")
    assert message.get_content_type() == "multipart/mixed"
    assert [p.get_content_type() for p in alternative.iter_parts()] == [
        "text/plain",
        "multipart/related",  # the HTML with its inline logo
    ]
    text, body = _parts(message)
    assert "Pay online" in body and "121.00 EUR" in body and invoice.number in body
    for method in (
        "Visa",
        "Mastercard",
        "Apple Pay",
        "Google Pay",
        "Swedbank",
        "SEB",
        "LHV",
        "Citadele",
        "Luminor",
    ):
        assert method in body and method in text
    assert f"https://pay.example.lv/i/{public_token(invoice)}" in body

    link = PAY_LINK.search(text).group(0)
    # Our own address, so every opening is counted; it leads on to the signed link.
    assert link == f"https://pay.example.lv/i/{public_token(invoice)}/pay"
    assert html.escape(link) in body  # the button carries the same link
    assert "hmac=" not in text and "hmac=" not in body
    params = follow_pay_link(link)
    assert params["transaction_amount"] == "121.00"
    assert params["order_reference"] == invoice.number

    logo = next(p for p in message.walk() if p.get_content_maintype() == "image")
    assert f"cid:{logo['Content-ID'].strip('<>')}" in body

    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"{invoice.number}.pdf"
    pdf_text = _pdf_text(attachment.get_content())
    assert invoice.number in pdf_text and "121.00 EUR" in pdf_text

    with read_session() as session:
        stored = session.get(Invoice, invoice.id)
        events = session.exec(select(FunnelEvent).where(FunnelEvent.invoice_id == invoice.id)).all()
        row = session.get(MessageLog, log.id)
    assert stored.status == InvoiceStatus.SENT and stored.sent_at is not None
    # Following the pay link above is the customer opening it: counted.
    assert [e.step for e in events] == [FunnelStep.SENT, FunnelStep.LINK_OPENED]
    assert row.raw_message and log.message_id in row.raw_message
    assert (
        row.recipients
        == "ap@northwind.example; cc: boss@northwind.example, books@northwind.example"
    )


def test_latvian_customer_gets_latvian_text(smtp_server, company):
    invoice = issued_invoice()  # the factory's customer speaks Latvian

    send_invoice_email(invoice_id=invoice.id, actor="finance")

    [message] = smtp_server.messages
    assert message["Subject"] == f"Rēķins {invoice.number} no Baltic Widgets SIA"
    text, body = _parts(message)
    for words in (
        "Apmaksāt tiešsaistē",
        "Summa apmaksai",
        "Apmaksas termiņš",
        "Internetbankas",
        "121,00 EUR",  # a decimal comma, as Latvian documents write amounts
    ):
        assert words in body and words in text
    assert "Pay online" not in body
    pdf_text = _pdf_text(next(message.iter_attachments()).get_content())
    assert "Rēķins" in pdf_text and "Summa apmaksai" in pdf_text


def test_partly_paid_invoice_asks_for_the_open_balance_under_a_new_reference(smtp_server, company):
    invoice = issued_invoice(customer=english_customer())
    with write_session() as session:
        settle_linkpay(session, invoice_id=invoice.id, amount_minor=5000)

    send_invoice_email(invoice_id=invoice.id, actor="finance")

    text, _ = _parts(smtp_server.messages[0])
    params = follow_pay_link(PAY_LINK.search(text).group(0))
    assert params["transaction_amount"] == "71.00"
    assert params["order_reference"] == f"{invoice.number}-2"
    with read_session() as session:
        assert session.get(Invoice, invoice.id).status == InvoiceStatus.PARTIALLY_PAID


def test_paid_invoice_email_says_paid_and_has_no_pay_button(smtp_server, company):
    invoice = issued_invoice(customer=english_customer())
    with write_session() as session:
        post_payment(session, invoice_id=invoice.id, amount_minor=12100)

    send_invoice_email(invoice_id=invoice.id, actor="finance")

    text, body = _parts(smtp_server.messages[0])
    assert "has been paid" in body and "has been paid" in text
    assert "Pay online" not in body and not PAY_LINK.search(text)


def test_drafts_and_cancelled_invoices_cannot_be_sent(smtp_server):
    draft = make_invoice(channel=None, issue=False)
    with pytest.raises(ValidationError, match="draft"):
        send_invoice_email(invoice_id=draft.id, actor="finance")
    invoice = issued_invoice()
    with write_session() as session:
        cancel_invoice(session, actor="t", invoice_id=invoice.id, reason="Duplicate")
    with pytest.raises(ValidationError, match="cancelled"):
        send_invoice_email(invoice_id=invoice.id, actor="finance")
    assert smtp_server.messages == []
    with read_session() as session:
        assert session.exec(select(MessageLog)).all() == []


def test_bad_addresses_are_refused_before_anything_is_sent(smtp_server):
    invoice = issued_invoice()
    with pytest.raises(ValidationError, match="not-an-address") as error:
        send_invoice_email(invoice_id=invoice.id, actor="f", to="a@b.lv", cc="not-an-address")
    assert error.value.field == "cc"
    with pytest.raises(ValidationError, match="recipient"):
        send_invoice_email(invoice_id=invoice.id, actor="f", to=" ")
    assert smtp_server.messages == []


def test_server_down_is_logged_as_failed_and_resent_through_the_same_row(smtp_server, monkeypatch):
    invoice = issued_invoice()
    live_port = get_settings().smtp_port
    point_smtp_at(monkeypatch, free_port())  # nothing listens there

    failed = send_invoice_email(invoice_id=invoice.id, actor="finance")

    assert failed.status == MessageStatus.FAILED and failed.attempts == 1
    assert "Could not connect to the mail server" in failed.error
    with read_session() as session:
        assert session.get(Invoice, invoice.id).status == InvoiceStatus.ISSUED

    point_smtp_at(monkeypatch, live_port)
    resent = resend_message(log_id=failed.id, actor="finance")

    assert (resent.id, resent.status, resent.attempts) == (failed.id, MessageStatus.SENT, 2)
    assert resent.error is None
    [message] = smtp_server.messages
    assert message["Message-ID"] == failed.message_id
    with read_session() as session:
        assert len(session.exec(select(MessageLog)).all()) == 1
        assert session.get(Invoice, invoice.id).status == InvoiceStatus.SENT
    with pytest.raises(ValidationError, match="already been sent"):
        resend_message(log_id=failed.id, actor="finance")
    assert len(smtp_server.messages) == 1


def test_server_rejection_shows_the_reason_and_a_retry_sends_once(smtp_server):
    invoice = issued_invoice()
    smtp_server.reject = "554 5.7.1 Message rejected as spam"

    failed = send_invoice_email(invoice_id=invoice.id, actor="finance")

    assert failed.status == MessageStatus.FAILED
    assert "554" in failed.error and "rejected as spam" in failed.error
    smtp_server.reject = None
    assert resend_message(log_id=failed.id, actor="finance").status == MessageStatus.SENT
    assert len(smtp_server.messages) == 1


def test_bulk_send_reports_each_invoice_and_progress(smtp_server):
    first = issued_invoice()
    second = make_invoice(
        channel=None, customer=english_customer(), lines=[LineInput("Books", "2", "5", "12")]
    )
    draft = make_invoice(channel=None, issue=False)
    seen = []

    report = send_invoices_by_email(
        invoice_ids=[first.id, second.id, draft.id],
        actor="finance",
        progress=lambda done, total, label: seen.append((done, total, label)),
    )

    assert report.sent == [first.number, second.number]
    assert len(report.skipped) == 1 and "draft" in report.skipped[0][1]
    assert [(done, total) for done, total, _ in seen] == [(1, 3), (2, 3), (3, 3)]
    assert len(smtp_server.messages) == 2
    # An invoice without a LinkPay channel still goes out, without a pay button.
    _, body = _parts(smtp_server.messages[1])
    assert "Pay online" not in body and "11.20 EUR" in body
    with read_session() as session:
        channels = {row.channel for row in session.exec(select(MessageLog)).all()}
    assert channels == {MessageChannel.EMAIL}
