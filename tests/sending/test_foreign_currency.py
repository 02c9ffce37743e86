"""A USD invoice and its credit note state their VAT in EUR too, at the invoice's rate:
on the PDF in Latvian and English, on the public page, and in the e-invoice (BT-111)."""

import io
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from lxml import etree
from pypdf import PdfReader

from callback_service.public_pages import router
from shared.db import read_session, write_session
from shared.documents import render_credit_note_pdf, render_invoice_pdf
from shared.einvoice.rules import fatal, validate
from shared.einvoice.sending import DownloadSender, EinvoiceTarget
from shared.invoicing import LineInput
from shared.ledger.credit_notes import issue_credit_note
from shared.models import Customer, Invoice
from shared.public_urls import public_token
from shared.sending import record_einvoice_download
from tests.einvoice.conftest import SCHEMA_DIR, schema_errors
from tests.sending.conftest import english_customer
from tests.utils.factories import make_channel, make_customer, make_invoice

# 174.90 USD + 21 % VAT 36.73 USD; at 1 EUR = 1.0512 USD the VAT is 34.94 EUR.
LINE = LineInput("Consulting", "1", "174.90", "21")
NS = {"cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"}


@pytest.fixture(scope="module")
def ubl_schemas() -> dict[str, etree.XMLSchema]:
    return {
        root: etree.XMLSchema(etree.parse(str(SCHEMA_DIR / f"UBL-{root}-2.1.xsd")))
        for root in ("Invoice", "CreditNote")
    }


def _usd_invoice(customer: Customer) -> Invoice:
    return make_invoice(
        channel=make_channel(currency="USD"), customer=customer, currency="USD", lines=[LINE]
    )


def _credit_note(invoice_id: int):
    with write_session() as session:
        note = issue_credit_note(
            session,
            actor="finance",
            invoice_id=invoice_id,
            reason="Agreed discount",
            lines=[LineInput("Consulting, one hour less", "1", "20.00", "21")],
        )
        session.expunge(note)
        return note


def _text(pdf: bytes) -> str:
    pages = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return re.sub(r"\s+", " ", pages)


def test_latvian_pdf_states_the_vat_in_eur_with_the_rate(db, company):
    invoice = _usd_invoice(make_customer())
    text = _text(render_invoice_pdf(invoice_id=invoice.id))
    assert "PVN 21% EUR: 34,94 EUR" in text
    assert "PVN EUR: 34,94 EUR (kurss 1 EUR = 1,0512 USD)" in text


def test_english_pdf_and_credit_note_state_the_vat_in_eur(db, company):
    invoice = _usd_invoice(english_customer())
    assert "VAT in EUR: 34.94 EUR (rate 1 EUR = 1.0512 USD)" in _text(
        render_invoice_pdf(invoice_id=invoice.id)
    )
    note = _credit_note(invoice.id)
    # 4.20 USD VAT / 1.0512 = 3.995... → 4.00 EUR, at the invoice's rate.
    assert "VAT in EUR: 4.00 EUR (rate 1 EUR = 1.0512 USD)" in _text(
        render_credit_note_pdf(credit_note_id=note.id)
    )


def test_a_eur_invoice_prints_no_eur_vat_line(db, company):
    invoice = make_invoice(channel=make_channel(), customer=english_customer(), lines=[LINE])
    assert "VAT in EUR" not in _text(render_invoice_pdf(invoice_id=invoice.id))


def test_public_page_states_the_vat_in_eur(db, company):
    invoice = _usd_invoice(english_customer())
    app = FastAPI()
    app.include_router(router)
    with read_session() as session:
        token = public_token(session.get(Invoice, invoice.id))
    page = TestClient(app).get(f"/i/{token}").text
    assert "VAT in EUR: 34.94 EUR (rate 1 EUR = 1.0512 USD)" in page


def _buyer() -> Customer:
    customer = english_customer()
    with write_session() as session:
        row = session.get(Customer, customer.id)
        row.registration_number = "40103000001"
        row.vat_number = "LV40103000001"
        session.add(row)
        session.flush()
        session.expunge(row)
        return row


def _valid(xml: bytes, schemas) -> etree._Element:
    assert schema_errors(schemas, xml) == []
    assert fatal(validate(xml)) == []
    return etree.fromstring(xml)


def _eur_vat(tree: etree._Element) -> list[str]:
    return tree.xpath("//cbc:TaxAmount[@currencyID='EUR']/text()", namespaces=NS)


def test_usd_invoice_and_credit_note_e_invoices_state_the_vat_in_eur(db, company, ubl_schemas):
    invoice = _usd_invoice(_buyer())
    result = DownloadSender().send(target=EinvoiceTarget(invoice_id=invoice.id), actor="finance")
    tree = _valid(result.file.content, ubl_schemas)
    assert tree.xpath("cbc:TaxCurrencyCode/text()", namespaces=NS) == ["EUR"]
    assert _eur_vat(tree) == ["34.94"]

    note = _credit_note(invoice.id)
    downloaded = record_einvoice_download(
        invoice_id=invoice.id, actor="finance", credit_note_id=note.id
    )
    assert _eur_vat(_valid(downloaded.content, ubl_schemas)) == ["4.00"]
