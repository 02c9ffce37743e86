"""What the customer receives of a credit note: the PDF and e-mail in their language,
naming the invoice it credits, and the invoice's public page and PDF that list it."""

import io

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader

from callback_service.public_pages import router
from shared.db import read_session, write_session
from shared.documents import (
    build_credit_note_pdf,
    load_credit_note_document,
    render_invoice_pdf,
)
from shared.invoicing import LineInput
from shared.ledger.credit_notes import issue_credit_note
from shared.models import CreditNote, MessageChannel, MessageStatus, ReviewItem, ReviewKind
from shared.sending import public_token, send_credit_note_email
from tests.sending.conftest import english_customer, issued_invoice
from tests.utils.factories import post_payment


@pytest.fixture
def client(db: str) -> TestClient:
    app = FastAPI()
    app.include_router(router)
    return TestClient(app, follow_redirects=False)


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def _credit(invoice_id: int, **kwargs) -> CreditNote:
    kwargs.setdefault("lines", [LineInput("Consulting, one hour less", "1", "20.00", "21")])
    with write_session() as session:
        return issue_credit_note(
            session, actor="finance", invoice_id=invoice_id, reason="Agreed discount", **kwargs
        )


def _note_pdf(note: CreditNote) -> str:
    with read_session() as session:
        stored = session.get(CreditNote, note.id)
        return _pdf_text(build_credit_note_pdf(load_credit_note_document(session, note=stored)))


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("en", ("Credit note", "Credits invoice", "Reason", "Total credited", "24.20 EUR")),
        ("lv", ("Kredītrēķins", "Kreditē rēķinu", "Pamatojums", "Kopā kreditēts", "24,20 EUR")),
    ],
)
def test_credit_note_pdf_names_itself_and_the_invoice_in_the_customers_language(
    db, company, language, words
):
    customer = english_customer() if language == "en" else None
    invoice = issued_invoice(customer=customer)
    note = _credit(invoice.id)

    text = _note_pdf(note)

    assert note.number in text and invoice.number in text
    assert "Consulting, one hour less" in text and "Agreed discount" in text
    for word in words:
        assert word in text, word


def test_invoice_pdf_shows_credited_and_the_ledgers_open_balance(db, company):
    invoice = issued_invoice(customer=english_customer())
    with write_session() as session:
        post_payment(session, invoice_id=invoice.id, amount_minor=5000)
    note = _credit(invoice.id)

    text = _pdf_text(render_invoice_pdf(invoice_id=invoice.id))

    assert "Credited" in text and "24.20 EUR" in text
    assert "Amount due" in text and "46.80 EUR" in text  # 121.00 - 50.00 - 24.20
    assert note.number in text


def test_public_page_lists_credit_notes_and_serves_their_pdf(client, company):
    invoice = issued_invoice(customer=english_customer())
    other = issued_invoice(customer=english_customer(name="Other Ltd"))
    note = _credit(invoice.id)
    foreign = _credit(other.id)
    token = public_token(invoice)

    page = client.get(f"/i/{token}").text

    assert "Credit notes" in page and note.number in page
    assert "Credited" in page and "96.80 EUR" in page
    response = client.get(f"/i/{token}/credit-notes/{note.number}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert note.number in _pdf_text(response.content)
    # Another invoice's credit note is not reachable through this invoice's link.
    assert client.get(f"/i/{token}/credit-notes/{foreign.number}").status_code == 404


def test_fully_credited_page_says_nothing_is_to_be_paid(client, company):
    invoice = issued_invoice(customer=english_customer())
    _credit(invoice.id, lines=None, full=True)

    page = client.get(f"/i/{public_token(invoice)}").text

    assert "credited in full" in page and "Pay online" not in page


def test_while_money_back_is_reviewed_the_page_has_no_pay_button_but_contact_us(client, company):
    invoice = issued_invoice(customer=english_customer())
    with write_session() as session:
        session.add(
            ReviewItem(
                kind=ReviewKind.REFUND,
                dedupe_key="refund:test",
                reason="40.00 EUR went back to the payer.",
                invoice_id=invoice.id,
                amount_minor=4000,
                currency="EUR",
            )
        )
    token = public_token(invoice)

    page = client.get(f"/i/{token}").text

    assert "Pay online" not in page
    assert "contact us (billing@balticwidgets.lv)" in page
    assert client.get(f"/i/{token}/pay").status_code == 303  # back to the page, no link
    assert "lp?" not in client.get(f"/i/{token}/pay").headers["location"]


def test_credit_note_email_carries_its_pdf_and_names_the_invoice(smtp_server, company):
    invoice = issued_invoice()  # a Latvian customer
    note = _credit(invoice.id)

    log = send_credit_note_email(credit_note_id=note.id, actor="finance")

    assert (log.status, log.channel) == (MessageStatus.SENT, MessageChannel.CREDIT_NOTE)
    [message] = smtp_server.messages
    assert message["Subject"] == (
        f"Kredītrēķins {note.number} rēķinam {invoice.number} no Baltic Widgets SIA"
    )
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert invoice.number in text and "24,20 EUR" in text and "vairs nav jāmaksā" in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert note.number in html and invoice.number in html  # its own card, in the shared frame
    assert html.lstrip().startswith("<!DOCTYPE html>") and '<html lang="lv">' in html
    assert "billing@balticwidgets.lv" in html  # the frame's footer: the company's contacts
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == f"{note.number}.pdf"
    assert note.number in _pdf_text(attachment.get_content())
