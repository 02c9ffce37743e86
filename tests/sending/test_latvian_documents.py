"""What a Latvian accountant looks for on an invoice and a credit note: supply date, due
date and payment terms, amounts as "1 234 567,84 EUR", dates as 02.11.2026, the total in
words when the company wants it, and the line that the document needs no signature."""

import io
import re
from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader

from callback_service.public_pages import router
from shared.channels import create_bank_account
from shared.db import read_session, write_session
from shared.documents import render_credit_note_pdf, render_invoice_pdf
from shared.invoicing import DraftInput, LineInput, create_draft, issue_invoice
from shared.ledger.credit_notes import issue_credit_note
from shared.models import AccountType, Company, Customer, Invoice
from shared.public_urls import public_token
from tests.sending.conftest import english_customer
from tests.utils.factories import make_channel, make_customer, post_payment

ISSUED = date(2026, 11, 2)
SUPPLIED = date(2026, 10, 30)
# 1 020 304.00 + 21 % VAT (214 263.84) = 1 234 567.84
BIG_LINE = LineInput("Programmatūras izstrāde", "1", "1020304.00", "21")
LV_WORDS = (
    "viens miljons divi simti trīsdesmit četri tūkstoši pieci simti sešdesmit septiņi eiro, "
    "84 centi"
)
LV_ELECTRONIC = "Rēķins sagatavots elektroniski un derīgs bez paraksta."


def _words_on(on: bool = True) -> None:
    with write_session() as session:
        company = session.get(Company, 1)
        company.amount_in_words = on
        session.add(company)


def _invoice(
    *,
    customer: Customer | None = None,
    supply_date: date | None = SUPPLIED,
    lines: list[LineInput] | None = None,
) -> Invoice:
    customer = customer or make_customer()
    channel = make_channel()
    with write_session() as session:
        draft = create_draft(
            session,
            actor="t",
            data=DraftInput(
                customer_id=customer.id,
                channel_id=channel.id,
                lines=lines or [BIG_LINE],
                issue_date=ISSUED,
                supply_date=supply_date,
            ),
        )
        return issue_invoice(session, actor="t", invoice_id=draft.id)


def _compact(text: str) -> str:
    """The text without any whitespace: PDF extraction breaks lines and cells where it likes."""
    return re.sub(r"\s+", "", text)


def _pdf_text(data: bytes) -> str:
    return _compact(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages))


def _page(invoice: Invoice) -> str:
    app = FastAPI()
    app.include_router(router)
    with read_session() as session:
        token = public_token(session.get(Invoice, invoice.id))
    response = TestClient(app).get(f"/i/{token}")
    assert response.status_code == 200
    return response.text


def test_latvian_invoice_pdf_reads_as_a_latvian_accountant_expects(db, company):
    _words_on()
    invoice = _invoice()

    text = _pdf_text(render_invoice_pdf(invoice_id=invoice.id))

    for expected in (
        "Izrakstīšanas datums 02.11.2026",
        "Piegādes datums 30.10.2026",
        # The customer's payment terms (14 days by default) set the due date.
        "Apmaksas termiņš 16.11.2026",
        "Apmaksas nosacījumi 14 dienas",
        "1 020 304,00 EUR",
        "214 263,84 EUR",
        "1 234 567,84 EUR",
        f"Summa vārdiem: {LV_WORDS}",
        LV_ELECTRONIC,
    ):
        assert _compact(expected) in text, expected
    assert "1234567.84" not in text and "214263.84" not in text


def test_without_a_supply_date_the_issue_date_is_printed_and_no_words_by_default(db, company):
    invoice = _invoice(supply_date=None)

    text = _pdf_text(render_invoice_pdf(invoice_id=invoice.id))

    assert _compact("Piegādes datums 02.11.2026") in text
    assert "Summavārdiem" not in text
    assert _compact(LV_ELECTRONIC) in text


def test_english_invoice_pdf_has_the_same_facts_in_english(db, company):
    _words_on()
    invoice = _invoice(customer=english_customer())

    text = _pdf_text(render_invoice_pdf(invoice_id=invoice.id))

    for expected in (
        "Supply date 30 October 2026",
        "Payment terms 14 days",
        "1 234 567.84 EUR",
        "Amount in words: one million two hundred thirty-four thousand five hundred "
        "sixty-seven euros and 84 cents",
        "Prepared electronically and valid without a signature.",
    ):
        assert _compact(expected) in text, expected


def test_latvian_credit_note_pdf_has_latvian_amounts_words_and_the_electronic_line(db, company):
    _words_on()
    invoice = _invoice()
    with write_session() as session:
        note = issue_credit_note(
            session,
            actor="finance",
            invoice_id=invoice.id,
            reason="Atlaide",
            lines=[LineInput("Atlaide", "1", "1000.00", "21")],
        )

    text = _pdf_text(render_credit_note_pdf(credit_note_id=note.id))

    for expected in (
        "Kopā kreditēts 1 210,00 EUR",
        "Summa vārdiem: viens tūkstotis divi simti desmit eiro, 00 centi",
        "Kredītrēķins sagatavots elektroniski un derīgs bez paraksta.",
        "Rēķina datums 02.11.2026",
    ):
        assert _compact(expected) in text, expected


@pytest.mark.parametrize("words", [True, False])
def test_latvian_public_page(db, company, words):
    _words_on(words)
    invoice = _invoice()

    page = _page(invoice)

    nbsp = "\u00a0"
    for expected in (
        "Piegādes datums</div>30.10.2026",
        "Apmaksas termiņš</div>16.11.2026",
        "Apmaksas nosacījumi</div>14 dienas",
        f"1{nbsp}234{nbsp}567,84 EUR",
        f"214{nbsp}263,84 EUR",
        LV_ELECTRONIC,
    ):
        assert expected in page, expected
    assert (LV_WORDS in page) is words


FRACTIONAL = [
    LineInput("Konsultācijas", "1.5", "80.00", "21", "h"),
    LineInput("Skrūves", "1234.5", "0.10", "21"),
]


def test_latvian_documents_print_quantities_with_a_decimal_comma_and_grouped_thousands(db, company):
    invoice = _invoice(lines=FRACTIONAL)
    with write_session() as session:
        note = issue_credit_note(
            session, actor="t", invoice_id=invoice.id, reason="Atgriezts", lines=[FRACTIONAL[1]]
        )

    for text in (
        _pdf_text(render_invoice_pdf(invoice_id=invoice.id)),
        _pdf_text(render_credit_note_pdf(credit_note_id=note.id)),
    ):
        assert "1234,5" in text and "1234.5" not in text
    invoice_text = _pdf_text(render_invoice_pdf(invoice_id=invoice.id))
    assert "1,5h" in invoice_text and "1.5h" not in invoice_text
    page = _page(invoice)
    assert "1,5 h</td>" in page and "1\u00a0234,5</td>" in page
    assert "1.5 h" not in page


def test_english_documents_keep_the_decimal_point_in_quantities(db, company):
    invoice = _invoice(customer=english_customer(), lines=FRACTIONAL)

    assert "1,5h" not in _pdf_text(render_invoice_pdf(invoice_id=invoice.id))
    page = _page(invoice)
    assert "1.5 h</td>" in page and "1\u202f234.5</td>" in page


def test_the_sellers_bank_details_stand_with_the_seller_whatever_the_status(db, company):
    with write_session() as session:
        create_bank_account(
            session,
            actor="t",
            name="Main",
            account_type=AccountType.REGULAR,
            iban="LV80BANK0000435195001",
            bank_name="Swedbank",
            bic="HABALV22",
        )
    invoice = _invoice()
    with write_session() as session:
        post_payment(session, invoice_id=invoice.id, amount_minor=invoice.total_minor)
        note = issue_credit_note(
            session,
            actor="finance",
            invoice_id=invoice.id,
            reason="Atlaide",
            lines=[LineInput("Atlaide", "1", "10.00", "21")],
        )
    details = _compact("IBAN LV80BANK0000435195001 Swedbank · BIC HABALV22")

    assert details in _pdf_text(
        render_invoice_pdf(invoice_id=invoice.id)
    )  # paid: no transfer asked
    assert details in _pdf_text(render_credit_note_pdf(credit_note_id=note.id))
    assert "IBAN LV80BANK0000435195001<br>Swedbank · BIC HABALV22" in _page(invoice)


def test_the_sellers_phone_number_is_never_split_over_two_lines(db, company):
    """A long e-mail pushed "+371 67 000 000" to wrap after "67": two numbers to the reader."""
    with write_session() as session:
        stored = session.get(Company, company.id)
        stored.email = "invoices@baltic-widgets.example"
        stored.phone = "+371 67 000 000"
    pdf = render_invoice_pdf(invoice_id=_invoice().id)
    lines = PdfReader(io.BytesIO(pdf)).pages[0].extract_text().splitlines()
    assert any(re.search(r"\+371[ \u00a0]67[ \u00a0]000[ \u00a0]000", line) for line in lines)
