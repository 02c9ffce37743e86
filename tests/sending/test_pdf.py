import io
import re

from pypdf import PdfReader
from sqlmodel import select

from shared.config import get_settings
from shared.db import read_session, write_session
from shared.documents import render_invoice_pdf
from shared.invoicing import LineInput
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
from shared.sending import record_pdf_download
from tests.sending.conftest import english_customer, follow_pay_link, issued_invoice
from tests.utils.factories import post_payment


def _read(invoice_id: int) -> tuple[PdfReader, str]:
    reader = PdfReader(io.BytesIO(render_invoice_pdf(invoice_id=invoice_id)))
    return reader, "\n".join(page.extract_text() for page in reader.pages)


def test_pdf_has_number_amounts_lines_vat_and_our_pay_link(db, company):
    invoice = issued_invoice(
        customer=english_customer(),
        lines=[
            LineInput("Consulting", "2", "50.00", "21"),
            LineInput("Books", "3", "10.00", "12", unit="pcs"),
        ],
    )

    reader, text = _read(invoice.id)

    assert reader.pages[0].mediabox.width == 595.28  # A4 in points
    assert "Invoice" in text and invoice.number in text
    for expected in (
        "Baltic Widgets SIA",
        "LV40003000001",
        "Northwind Ltd",
        "Consulting",
        "3 pcs",
        "VAT rate",
        "12%",
        "21%",
        "100.00 EUR",
        "21.00 EUR",
        "3.60 EUR",
        "154.60 EUR",
        "Amount due",
    ):
        assert expected in text, expected
    compact = re.sub(r"\s+", "", text)
    # The link and QR code lead through our /pay address, so opening them is counted.
    link = f"{get_settings().public_base_url}/i/{public_token(invoice)}/pay"
    assert link in compact and "hmac=" not in compact
    assert follow_pay_link(link)["transaction_amount"] == "154.60"
    assert "Scan to pay" in text
    assert reader.pages[0].images  # logo and QR code


def test_latvian_letters_render_in_the_pdf(db, company):
    invoice = issued_invoice(lines=[LineInput("Ūdens, ķēžu, ģērbšanās, čības, žogs", "1", "10")])

    _, text = _read(invoice.id)

    assert "Ūdens, ķēžu, ģērbšanās, čības, žogs" in text
    for words in ("Rēķins", "Apmaksas termiņš", "Summa apmaksai", "PVN", "Kopā", "PIRCĒJS"):
        assert words in text, words
    assert "Anna Bērziņa SIA" in text and "Rīga, Brīvības 1" in text


def test_paid_invoice_pdf_says_paid_and_has_no_pay_link(db, company):
    invoice = issued_invoice(customer=english_customer())
    with write_session() as session:
        post_payment(session, invoice_id=invoice.id, amount_minor=invoice.total_minor)

    _, text = _read(invoice.id)

    assert "This invoice has been paid" in text and "Paid" in text
    assert "hmac=" not in text and "Scan to pay" not in text


def test_pdf_download_counts_as_sending_and_is_logged(db):
    invoice = issued_invoice()

    pdf = record_pdf_download(invoice_id=invoice.id, actor="finance")

    assert pdf.startswith(b"%PDF")
    with read_session() as session:
        [row] = session.exec(select(MessageLog)).all()
        [event] = session.exec(select(FunnelEvent)).all()
        stored = session.get(Invoice, invoice.id)
    assert (row.channel, row.status, row.subject) == (
        MessageChannel.PDF,
        MessageStatus.SENT,
        f"{invoice.number}.pdf",
    )
    assert event.step == FunnelStep.SENT and stored.status == InvoiceStatus.SENT
