"""The hosted LinkPay page a payer opens from the invoice's pay link."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .api import sandbox_of
from .pages import templates
from .service import PAYMENT_METHODS, SandboxError

router = APIRouter(tags=["hosted page"])

_ERROR_HEADLINES = {
    400: "This payment link cannot be used",
    404: "Payment link not found",
    409: "Payment not possible",
}

_RESULTS = {
    "settled": ("Payment successful", "Thank you, the payment has been received."),
    "failed": ("Payment declined", "The payment was declined. No money was taken."),
    "abandoned": ("Payment abandoned", "The payment was not completed. No money was taken."),
    "sent_for_processing": (
        "Payment is being processed",
        "Your bank has the payment; this page updates when the bank confirms it.",
    ),
    "authorised": (
        "Amount reserved",
        "The amount is reserved on the card (pre-authorisation) and taken later.",
    ),
}


def _raw_query(request: Request) -> str:
    # The signature covers the query exactly as sent, so it is read before any decoding.
    return request.scope["query_string"].decode("latin-1")


def _error_page(request: Request, error: SandboxError) -> HTMLResponse:
    context = {
        "headline": _ERROR_HEADLINES.get(error.status, "Payment not possible"),
        "message": error.message,
    }
    return templates.TemplateResponse(request, "link_error.html", context, status_code=error.status)


@router.get("/lp", response_class=HTMLResponse)
async def payment_page(request: Request) -> Response:
    raw_query = _raw_query(request)
    try:
        order = sandbox_of(request).open_link(raw_query)
    except SandboxError as error:
        return _error_page(request, error)
    context = {
        "merchant": order.merchant,
        "order": order,
        "raw_query": raw_query,
        "methods": PAYMENT_METHODS,
    }
    return templates.TemplateResponse(request, "pay.html", context)


@router.post("/lp", response_class=HTMLResponse)
async def choose_outcome(
    request: Request,
    outcome: Annotated[str, Form()],
    method: Annotated[str | None, Form()] = None,
) -> Response:
    try:
        payment, return_to = sandbox_of(request).attempt(_raw_query(request), outcome, method)
    except SandboxError as error:
        return _error_page(request, error)
    return RedirectResponse(return_to or f"/lp/result/{payment.payment_reference}", status_code=303)


@router.get("/lp/result/{payment_reference}", response_class=HTMLResponse)
async def result_page(payment_reference: str, request: Request) -> Response:
    store = sandbox_of(request).store
    payment = store.get_payment(payment_reference)
    if payment is None:
        return _error_page(request, SandboxError(404, "No payment with this reference."))
    headline, detail = _RESULTS.get(payment.state, (f"Payment {payment.state}", ""))
    context = {
        "merchant": store.get_merchant(payment.api_username),
        "payment": payment,
        "headline": headline,
        "detail": detail,
    }
    return templates.TemplateResponse(request, "result.html", context)
