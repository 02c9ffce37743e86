"""Render page 1 of a Latvian invoice and of its credit note to PNG, for the docs.

    .venv/bin/python scripts/latvian_invoice_screenshots.py [OUTPUT_DIR]

Needs the dev extra (pypdfium2 rasterises the PDF). It builds the documents in a throwaway
database, exactly as the app issues them: a Latvian customer, lines at 21 % and 12 %, the
total in words, and a credit note for part of the invoice. The PNGs land in OUTPUT_DIR
(``docs/screenshots`` by default) as ``latvian-invoice.png`` and ``latvian-credit-note.png``.
"""

import os
import sys
import tempfile
from datetime import date
from io import BytesIO
from pathlib import Path

import pypdfium2

COMPANY = {
    "name": "Baltic Widgets SIA",
    "registration_number": "40103123445",
    "vat_number": "LV40103123445",
    "address": "Brīvības iela 100, Rīga, LV-1011, Latvija",
    "email": "invoices@baltic-widgets.example",
    "phone": "+371 67 000 000",
    "amount_in_words": True,
    "ui_language": "lv",
}
# A4 at 110 dpi: the amounts stay legible and each PNG well under 400 KB.
SCALE = 110 / 72


def _issue_documents() -> tuple[bytes, bytes]:
    """The invoice PDF (after the credit note, so it lists it) and the credit note PDF."""
    from shared.channels import create_bank_account
    from shared.db import write_session
    from shared.documents import render_credit_note_pdf, render_invoice_pdf
    from shared.invoicing import DraftInput, LineInput, create_draft, issue_invoice
    from shared.ledger.credit_notes import issue_credit_note
    from shared.models import AccountType, Company, Customer
    from shared.operations.migrate import upgrade_to_head

    upgrade_to_head()
    actor = "cli"
    with write_session() as session:
        session.add(Company(**COMPANY))
        create_bank_account(
            session,
            actor=actor,
            name="Swedbank norēķinu konts",
            account_type=AccountType.REGULAR,
            bank_name="Swedbank",
            iban="LV97HABA0012345678910",
            bic="HABALV22",
        )
        customer = Customer(
            name="Kurzemes Koks SIA",
            language="lv",
            registration_number="40003245752",
            vat_number="LV40003245752",
            address="Lielā iela 12, Kuldīga, LV-3301",
            email="gramatvediba@kurzemes-koks.example",
        )
        session.add(customer)
        session.flush()
        draft = create_draft(
            session,
            actor=actor,
            data=DraftInput(
                customer_id=customer.id,
                channel_id=None,
                lines=[
                    LineInput("Mājas lapas uzturēšana, novembris", "1", "450.00", "21", "mēn."),
                    LineInput("Programmētāja konsultācijas", "12.5", "54.50", "21", "h"),
                    LineInput("Grāmata “Grāmatvedība Latvijā 2026”", "3", "24.90", "12", "gab."),
                ],
                issue_date=date(2026, 11, 30),
                supply_date=date(2026, 11, 28),
            ),
        )
        invoice = issue_invoice(session, actor=actor, invoice_id=draft.id)
    with write_session() as session:
        note = issue_credit_note(
            session,
            actor=actor,
            invoice_id=invoice.id,
            reason="Atgriezta viena grāmata",
            lines=[LineInput("Grāmata “Grāmatvedība Latvijā 2026”", "1", "24.90", "12", "gab.")],
            today=date(2026, 12, 2),
        )
    return render_invoice_pdf(invoice_id=invoice.id), render_credit_note_pdf(credit_note_id=note.id)


def first_page_png(pdf: bytes) -> bytes:
    """Page 1 as a palette PNG: documents are mostly black on white, 256 colours suffice."""
    page = pypdfium2.PdfDocument(pdf)[0]
    image = page.render(scale=SCALE).to_pil().convert("RGB").quantize(colors=256)
    out = BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def main() -> None:
    output = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots").resolve()
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data_dir:
        # A database of its own, never the demo's or the app's.
        os.environ["LINKPAY_DATA_DIR"] = data_dir
        os.environ["LINKPAY_DATABASE_URL"] = f"sqlite:///{data_dir}/screenshots.db"
        invoice_pdf, note_pdf = _issue_documents()
        from shared.db import dispose_engines

        dispose_engines()
    for name, pdf in (("latvian-invoice", invoice_pdf), ("latvian-credit-note", note_pdf)):
        path = output / f"{name}.png"
        path.write_bytes(first_page_png(pdf))
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
