"""The VAT each category needs on the document: the table grouped by category and rate, and
the wording the law asks for (reverse charge, exemption with its reason, intra-EU supply,
export) in the customer's language, on the PDF, the public page and the credit note."""

import html
import io
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader

from callback_service.public_pages import router
from shared.db import read_session, write_session
from shared.documents import build_credit_note_pdf, load_credit_note_document, render_invoice_pdf
from shared.invoicing import LineInput
from shared.ledger.credit_notes import issue_credit_note
from shared.models import CreditNote, Customer
from shared.public_urls import public_token
from tests.sending.conftest import issued_invoice
from tests.utils.factories import make_customer

MIXED = [
    LineInput("Konsultācijas", "1", "54.50", "21"),
    LineInput("Konsultācijas", "1", "54.50", "21"),
    LineInput("Konsultācijas", "1", "54.49", "21"),
    LineInput("Grāmatas", "2", "10.00", "12"),
    LineInput("Kursi", "1", "40.00", "0", vat_category="E", vat_exemption="PVN likuma 52. pants"),
    LineInput("Metāllūžņi", "1", "30.00", "0", vat_category="AE"),
    LineInput("Prece uz Igauniju", "1", "25.00", "0", vat_category="K"),
    LineInput("Prece uz ASV", "1", "15.00", "0", vat_category="G"),
]
WORDING = {
    "lv": (
        "Atbrīvots no PVN: PVN likuma 52. pants",
        "Nodokļa apgrieztā maksāšana",
        "Preču piegāde Eiropas Savienības iekšienē",
        "Preču eksports",
        "0% apgrieztā maksāšana",
    ),
    "en": (
        "Exempt from VAT: PVN likuma 52. pants",
        "Reverse charge",
        "Intra-community supply of goods",
        "Export of goods",
        "0% reverse charge",
    ),
}


def _customer(language: str) -> Customer:
    customer = make_customer(language=language)
    with write_session() as session:
        session.get(Customer, customer.id).vat_number = "EE100000001"
    return customer


def _text(data: bytes) -> str:
    pages = PdfReader(io.BytesIO(data)).pages
    return re.sub(r"\s+", " ", " ".join(page.extract_text() for page in pages))


@pytest.mark.parametrize("language", ["lv", "en"])
def test_pdf_prints_the_vat_table_by_category_and_the_wording_each_needs(db, company, language):
    invoice = issued_invoice(customer=_customer(language), lines=MIXED)

    text = _text(render_invoice_pdf(invoice_id=invoice.id))

    for words in WORDING[language]:
        assert words in text, words
    # 163.49 at 21 % is 34.33, rounded once for the rate, never 34.34 (in the document's
    # own number format).
    expected = "163,49 EUR 34,33 EUR" if language == "lv" else "163.49 EUR 34.33 EUR"
    assert expected in text
    assert "34.34" not in text and "34,34" not in text
    assert invoice.vat_minor == 3433 + 240


def test_an_invoice_without_zero_rate_categories_prints_no_vat_wording(db, company):
    invoice = issued_invoice(customer=_customer("lv"))
    text = _text(render_invoice_pdf(invoice_id=invoice.id))
    assert "Nodokļa apgrieztā" not in text and "Atbrīvots" not in text


def test_public_page_shows_the_same_wording(db, company):
    invoice = issued_invoice(customer=_customer("lv"), lines=MIXED)
    app = FastAPI()
    app.include_router(router)

    page = html.unescape(TestClient(app).get(f"/i/{public_token(invoice)}").text)

    for words in WORDING["lv"]:
        assert words in page, words
    assert "0% AE" in page  # the line's own VAT cell


def test_credit_note_against_a_mixed_invoice_carries_the_categories_and_their_wording(db, company):
    invoice = issued_invoice(customer=_customer("en"), lines=MIXED)
    with write_session() as session:
        note = issue_credit_note(
            session, actor="finance", invoice_id=invoice.id, reason="Returned", full=True
        )
    with read_session() as session:
        stored = session.get(CreditNote, note.id)
        text = _text(build_credit_note_pdf(load_credit_note_document(session, note=stored)))
    for words in WORDING["en"]:
        assert words in text, words
    assert "163.49 EUR 34.33 EUR" in text
    assert note.vat_minor == invoice.vat_minor and note.total_minor == invoice.total_minor
