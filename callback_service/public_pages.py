"""Public invoice pages for customers: /i/{token}, its PDF, logo and Pay button, and the
page EveryPay sends the customer back to after paying.

The token in the URL is the only key (192 random bits per invoice). Responses are never
cached and never send a Referer, so the token does not leak to the payment page.
"""

import logging
import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import select

from shared.callbacks.intake import receive_customer_return
from shared.callbacks.lookup import known_payment_state
from shared.callbacks.lost_payments import PAY_LINK_DETAIL, watch_pay_link_opened
from shared.company import get_company
from shared.db import read_session
from shared.documents import (
    build_credit_note_pdf,
    build_invoice_pdf,
    credit_note_pdf_name,
    current_company,
    load_credit_note_document,
    load_invoice_document,
    pdf_file_name,
    render_template,
)
from shared.i18n import language_for, translator
from shared.models import CreditNote, Customer, Invoice, InvoiceStatus, PaymentState
from shared.sending import invoice_by_public_token, record_link_opened
from shared.states import UNSUCCESSFUL_PAYMENT_STATES

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

# The customer back from EveryPay: how often the "we are checking" page looks again.
CHECKING_REFRESH_SECONDS = 5
# States in which the money reached the merchant (a refund or chargeback came later).
SETTLED_STATES = frozenset({PaymentState.SETTLED, PaymentState.REFUNDED})

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


def _notice_page(
    invoice: Invoice,
    customer: Customer | None,
    *,
    token: str,
    title: str,
    message: str,
    status_code: int = 200,
    refresh: int | None = None,
    **values: object,
) -> HTMLResponse:
    """A short page about the invoice, in the customer's language, linking back to it."""
    language = language_for(customer.language if customer else None)
    t = translator(language)
    html = render_template(
        "invoice_notice.html",
        lang=language,
        title=t(title),
        message=t(message, **values),
        number=invoice.number,
        back=f"../{token}",
        back_label=t("back_to_invoice"),
        refresh=refresh,
    )
    return HTMLResponse(html, status_code=status_code, headers=_PAGE_HEADERS)


@router.get("/i/{token}/pay")
def pay(token: str) -> Response:
    """Always the link of this moment: current open balance, current order reference.

    E-mails and PDFs print this address rather than EveryPay's, so every opening is
    counted (the funnel, and the lost-payment watch) before the customer is sent on.
    """
    with read_session() as session:
        invoice = invoice_by_public_token(session, token)
        if invoice is None:
            return _not_found()
        customer = session.get(Customer, invoice.customer_id)
        company = current_company(session).name
        try:
            link = load_invoice_document(session, invoice=invoice).pay_link
        except Exception:
            # Say so to the customer rather than answer 500 (a secret that cannot be read,
            # a customer row gone): they may try again later.
            log.exception("the pay link of invoice %s could not be made", invoice.number)
            return _notice_page(
                invoice,
                customer,
                token=token,
                title="pay_online",
                message="pay_unavailable",
                status_code=503,
                company=company,
            )
    if link is None:
        # Paid, cancelled or not payable online: the page says which.
        return RedirectResponse(f"../{token}", status_code=303, headers=_HEADERS)
    if record_link_opened(invoice_id=invoice.id, detail=PAY_LINK_DETAIL):
        watch_pay_link_opened(invoice_id=invoice.id)
    return RedirectResponse(link, status_code=303, headers=_HEADERS)


@router.get("/i/{token}/return", response_class=HTMLResponse)
def payment_return(token: str, request: Request) -> Response:
    """Where EveryPay sends the customer after paying (the link's customer_url), with the
    payment's reference: stored as a callback, so the worker asks EveryPay about it even
    when every callback from EveryPay was lost."""
    with read_session() as session:
        invoice = invoice_by_public_token(session, token)
        if invoice is None:
            return _not_found()
        customer = session.get(Customer, invoice.customer_id)
    params = dict(request.query_params)
    stored = None
    if invoice.channel_id is not None:
        stored = receive_customer_return(
            channel_id=invoice.channel_id,
            params=params,
            remote_addr=request.client.host if request.client else None,
        )
        background = getattr(request.app.state, "background", None)
        if stored is not None and background is not None:
            background.wake()
    if invoice.status == InvoiceStatus.PAID:
        return _notice_page(
            invoice, customer, token=token, title="status_paid", message="paid_notice"
        )
    if stored is None:
        return _notice_page(
            invoice, customer, token=token, title="checking_title", message="return_unreadable"
        )
    state = known_payment_state(
        channel_id=invoice.channel_id, payment_reference=params["payment_reference"]
    )
    if state in SETTLED_STATES:
        title, message = "payment_received_title", "payment_received_text"
    elif state in UNSUCCESSFUL_PAYMENT_STATES:
        title, message = "payment_failed_title", "payment_failed_text"
    else:
        # Until the worker has EveryPay's answer: this page asks again by itself.
        return _notice_page(
            invoice,
            customer,
            token=token,
            title="checking_title",
            message="checking_text",
            refresh=CHECKING_REFRESH_SECONDS,
        )
    return _notice_page(invoice, customer, token=token, title=title, message=message)


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
