"""Paying by bank transfer: the RF reference on the PDF and the public page, and the SEPA
QR code beside the LinkPay one when the company has a regular account with an IBAN."""

import io

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader

from callback_service.public_pages import router
from shared.bank.references import creditor_reference, format_creditor_reference
from shared.channels import create_bank_account
from shared.db import read_session, write_session
from shared.documents import load_invoice_document, render_invoice_pdf
from shared.errors import ValidationError
from shared.models import AccountType, Invoice
from shared.public_urls import public_token
from tests.sending.conftest import english_customer, issued_invoice
from tests.utils.factories import post_payment

SELLER_IBAN = "LV80BANK0000435195001"


def add_regular_account(*, bic: str = "") -> None:
    with write_session() as session:
        create_bank_account(
            session,
            actor="test",
            name="Main account",
            account_type=AccountType.REGULAR,
            iban=SELLER_IBAN,
            bank_name="Swedbank",
            bic=bic,
        )


def pdf(invoice_id: int) -> tuple[str, int]:
    """The PDF's text (one line) and how many images (QR codes, the logo) its first page holds."""
    reader = PdfReader(io.BytesIO(render_invoice_pdf(invoice_id=invoice_id)))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    return text, len(reader.pages[0].images)


def page(invoice: Invoice) -> str:
    app = FastAPI()
    app.include_router(router)
    with read_session() as session:
        token = public_token(session.get(Invoice, invoice.id))
    response = TestClient(app).get(f"/i/{token}")
    assert response.status_code == 200
    return response.text


def reference(invoice: Invoice) -> str:
    return format_creditor_reference(creditor_reference(invoice_id=invoice.id))


def test_pdf_and_page_carry_the_rf_reference_and_the_sepa_qr_code(db, company):
    add_regular_account()
    invoice = issued_invoice(customer=english_customer())
    text, images = pdf(invoice.id)
    assert reference(invoice) in text
    assert "Scan in your banking app" in text
    assert f"IBAN {SELLER_IBAN} (Swedbank)" in text
    assert images == 3  # logo, LinkPay QR, SEPA QR
    html = page(invoice)
    assert reference(invoice) in html
    assert 'id="bank-transfer"' in html and "<svg" in html


def test_the_sepa_qr_code_asks_for_the_open_amount_with_the_reference(db, company):
    add_regular_account()
    invoice = issued_invoice(customer=english_customer())
    with write_session() as session:
        post_payment(session, invoice_id=invoice.id, amount_minor=2100)
    with read_session() as session:
        document = load_invoice_document(session, invoice=session.get(Invoice, invoice.id))
    lines = document.epc_payload.split("\n")
    assert lines[5:8] == ["Baltic Widgets SIA", SELLER_IBAN, "EUR100.00"]
    assert lines[9] == creditor_reference(invoice_id=invoice.id)


def test_without_a_regular_account_the_reference_stays_and_the_sepa_qr_goes(db, company):
    invoice = issued_invoice(customer=english_customer())
    text, images = pdf(invoice.id)
    assert reference(invoice) in text
    assert "IBAN" not in text
    assert images == 2  # logo, LinkPay QR
    html = page(invoice)
    assert reference(invoice) in html
    assert "<svg" not in html


def test_a_paid_invoice_asks_for_no_transfer(db, company):
    add_regular_account()
    invoice = issued_invoice(customer=english_customer())
    with write_session() as session:
        post_payment(session, invoice_id=invoice.id, amount_minor=12100)
    text, _ = pdf(invoice.id)
    assert "Scan in your banking app" not in text
    assert 'id="bank-transfer"' not in page(invoice)


def test_the_bic_is_printed_with_the_iban_and_carried_by_the_sepa_qr_code(db, company):
    add_regular_account(bic=" habalv22 ")
    invoice = issued_invoice(customer=english_customer())
    with read_session() as session:
        document = load_invoice_document(session, invoice=session.get(Invoice, invoice.id))
    lines = document.epc_payload.split("\n")
    assert lines[4:7] == ["HABALV22", "Baltic Widgets SIA", SELLER_IBAN]
    text, _ = pdf(invoice.id)
    assert f"IBAN {SELLER_IBAN} (Swedbank), BIC HABALV22," in text
    assert "BIC HABALV22" in page(invoice)


@pytest.mark.parametrize(
    ("bic", "message"),
    [
        ("HABALV2", "BIC 'HABALV2' must be 8 or 11 letters and digits, e.g. HABALV22."),
        ("HABALV22X", "BIC 'HABALV22X' must be 8 or 11 letters and digits, e.g. HABALV22."),
        ("HABA-V22", "BIC 'HABA-V22' must be 8 or 11 letters and digits, e.g. HABALV22."),
        ("1ABALV22", "BIC '1ABALV22' is no ISO 9362 code: four letters for the bank, two"),
        ("HABALV12", "BIC 'HABALV12' is no ISO 9362 code"),
        ("HABAEE2X", "The BIC's country EE differs from the IBAN's LV"),
    ],
)
def test_a_wrong_bic_is_refused_with_a_message_for_the_field(db, bic, message):
    with pytest.raises(ValidationError) as error, write_session() as session:
        create_bank_account(
            session,
            actor="test",
            name="Main account",
            account_type=AccountType.REGULAR,
            iban=SELLER_IBAN,
            bic=bic,
        )
    assert str(error.value).startswith(message)
    assert error.value.field == "bic"


def test_a_bic_with_a_branch_code_is_kept_upper_case(db):
    with write_session() as session:
        account = create_bank_account(
            session,
            actor="test",
            name="Main account",
            account_type=AccountType.REGULAR,
            iban=SELLER_IBAN,
            bic="unlalv2xabc",
        )
        assert account.bic == "UNLALV2XABC"
