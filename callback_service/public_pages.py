"""Public invoice pages for customers: /i/{token}, its PDF, logo and Pay button.

The token in the URL is the only key (192 random bits per invoice). Responses are never
cached and never send a Referer, so the token does not leak to the payment page.
"""

import re

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import select

from shared.company import get_company
from shared.db import read_session
from shared.documents import (
    build_credit_note_pdf,
    build_invoice_pdf,
    credit_note_pdf_name,
    load_credit_note_document,
    load_invoice_document,
    pdf_file_name,
    render_template,
)
from shared.models import CreditNote
from shared.sending import invoice_by_public_token, record_link_opened

router = APIRouter(include_in_schema=False)

_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
}
_PAGE_HEADERS = {
    **_HEADERS,
    "Content-Security-Policy": (
        "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
}


def _not_found() -> HTMLResponse:
    return HTMLResponse(render_template("not_found.html"), status_code=404, headers=_PAGE_HEADERS)


@router.get("/i/{token}", response_class=HTMLResponse)
def invoice_page(token: str) -> Response:
    with read_session() as session:
        invoice = invoice_by_public_token(session, token)
        if invoice is None:
            return _not_found()
        document = load_invoice_document(session, invoice=invoice)
    record_link_opened(invoice_id=invoice.id, detail="page")
    html = render_template("invoice_page.html", token=token, **document.template_context())
    return HTMLResponse(html, headers=_PAGE_HEADERS)


@router.get("/i/{token}/pay")
def pay(token: str) -> Response:
    """Always the link of this moment: current open balance, current order reference."""
    with read_session() as session:
        invoice = invoice_by_public_token(session, token)
        if invoice is None:
            return _not_found()
        link = load_invoice_document(session, invoice=invoice).pay_link
    if link is None:
        # Paid, cancelled or not payable online: the page says which.
        return RedirectResponse(f"../{token}", status_code=303, headers=_HEADERS)
    record_link_opened(invoice_id=invoice.id, detail="pay")
    return RedirectResponse(link, status_code=303, headers=_HEADERS)


@router.get("/i/{token}/pdf")
def invoice_pdf(token: str) -> Response:
    with read_session() as session:
        invoice = invoice_by_public_token(session, token)
        if invoice is None:
            return _not_found()
        document = load_invoice_document(session, invoice=invoice)
    return Response(
        build_invoice_pdf(document),
        media_type="application/pdf",
        headers={
            **_HEADERS,
            "Content-Disposition": f'inline; filename="{pdf_file_name(invoice)}"',
        },
    )


_CREDIT_NOTE_NUMBER = re.compile(r"[A-Za-z0-9-]{1,40}")


@router.get("/i/{token}/credit-notes/{number}")
def credit_note_pdf(token: str, number: str) -> Response:
    """A credit note of the invoice, reached through the invoice's own link: the token is
    the key, the number only picks one of that invoice's credit notes."""
    if not _CREDIT_NOTE_NUMBER.fullmatch(number):
        return _not_found()
    with read_session() as session:
        invoice = invoice_by_public_token(session, token)
        if invoice is None:
            return _not_found()
        note = session.exec(
            select(CreditNote).where(
                CreditNote.number == number, CreditNote.invoice_id == invoice.id
            )
        ).first()
        if note is None:
            return _not_found()
        document = load_credit_note_document(session, note=note)
    return Response(
        build_credit_note_pdf(document),
        media_type="application/pdf",
        headers={
            **_HEADERS,
            "Content-Disposition": f'inline; filename="{credit_note_pdf_name(note)}"',
        },
    )


@router.get("/i/{token}/logo")
def company_logo(token: str) -> Response:
    with read_session() as session:
        if invoice_by_public_token(session, token) is None:
            return _not_found()
        company = get_company(session)
    if company is None or not company.logo:
        return Response(status_code=404, headers=_HEADERS)
    return Response(
        company.logo, media_type=company.logo_mime or "application/octet-stream", headers=_HEADERS
    )
