"""The merchant portal: where a merchant finds credentials, links, callback URL and payments."""

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .api import sandbox_of
from .pages import templates
from .scripting import make_due_payouts, public_url
from .service import SandboxError, parse_amount, payout_terms_from
from .store import DEFAULT_URL_FIELDS, URL_FIELDS, Merchant, from_minor, utcnow

router = APIRouter(tags=["merchant portal"])

CURRENCIES = ("EUR", "USD", "GBP", "SEK", "NOK", "DKK", "PLN", "CHF")
_MAX_LOGO_BYTES = 1_000_000
_LOGO_SIGNATURES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


class PortalInputError(ValueError):
    """A value typed into a portal form that cannot be used; the message says why."""


def _merchant_or_404(request: Request, api_username: str) -> Merchant:
    merchant = sandbox_of(request).store.get_merchant(api_username)
    if merchant is None:
        raise HTTPException(404, "No merchant with this API username.")
    return merchant


def _back_to(api_username: str, anchor: str, **messages: str) -> RedirectResponse:
    query = f"?{urlencode(messages)}" if messages else ""
    return RedirectResponse(f"/portal/{api_username}{query}#{anchor}", status_code=303)


def _logo_mime(content: bytes) -> str:
    """The logo's type from its first bytes; the browser's claimed type is not trusted."""
    if len(content) > _MAX_LOGO_BYTES:
        raise PortalInputError("The logo is larger than 1 MB.")
    for signature, mime in _LOGO_SIGNATURES.items():
        if content.startswith(signature):
            return mime
    raise PortalInputError("The logo must be a PNG or JPEG image.")


def _index(request: Request, *, error: str = "", name: str = "", currency: str = "EUR") -> Response:
    context = {
        "merchants": sandbox_of(request).store.list_merchants(),
        "currencies": CURRENCIES,
        "error": error,
        "notice": "",
        "form_name": name,
        "form_currency": currency,
    }
    return templates.TemplateResponse(
        request, "index.html", context, status_code=400 if error else 200
    )


@router.get("/", response_class=HTMLResponse)
def index(request: Request) -> Response:
    return _index(request)


@router.post("/portal/merchants", response_class=HTMLResponse)
async def create_merchant(
    request: Request,
    name: Annotated[str, Form()],
    currency: Annotated[str, Form()] = "EUR",
    logo: Annotated[UploadFile | None, File()] = None,
) -> Response:
    content = await logo.read() if logo is not None else b""
    try:
        if not name.strip():
            raise PortalInputError("Enter the company name.")
        if currency not in CURRENCIES:
            raise PortalInputError(f"Choose one of {', '.join(CURRENCIES)}.")
        mime = _logo_mime(content) if content else None
    except PortalInputError as error:
        return _index(request, error=str(error), name=name, currency=currency)
    merchant = sandbox_of(request).store.create_merchant(
        name=name.strip(), logo=content or None, logo_mime=mime, currency=currency
    )
    return _back_to(merchant.api_username, "general_settings", notice="Merchant created.")


@router.get("/portal/{api_username}", response_class=HTMLResponse)
def merchant_page(
    request: Request,
    api_username: str,
    notice: str = "",
    error: str = "",
    new_link: str = "",
) -> Response:
    merchant = _merchant_or_404(request, api_username)
    sandbox = sandbox_of(request)
    store = sandbox.store
    make_due_payouts(sandbox, api_username)
    links = store.list_links(api_username)
    today = utcnow().date()
    context = {
        "merchant": merchant,
        "public_url": public_url(request),
        "links": links,
        "new_link": next((link for link in links if link.link_token == new_link), None),
        "url_fields": URL_FIELDS,
        "default_url_fields": DEFAULT_URL_FIELDS,
        "payments": store.list_payments(api_username, limit=200),
        "deliveries": store.list_deliveries(api_username=api_username, limit=100),
        "payout_terms": store.get_payout_terms(api_username),
        "payouts": list(reversed(store.list_payouts(api_username))),
        "from_minor": from_minor,
        "statement_from": today - timedelta(days=30),
        "statement_to": today,
        "notice": notice,
        "error": error,
    }
    return templates.TemplateResponse(request, "merchant.html", context)


@router.post("/portal/{api_username}/links")
def add_link(
    request: Request,
    api_username: str,
    link_name: Annotated[str, Form()],
    url_fields: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
) -> Response:
    _merchant_or_404(request, api_username)
    if not link_name.strip():
        return _back_to(api_username, "links", error="Enter a link name.")
    try:
        link = sandbox_of(request).store.add_link(
            api_username=api_username, name=link_name.strip(), url_fields=url_fields
        )
    except ValueError as error:
        return _back_to(api_username, "links", error=str(error))
    return _back_to(
        api_username, "links", notice="Link saved: copy its Link Token.", new_link=link.link_token
    )


@router.post("/portal/{api_username}/callback-url")
def save_callback_url(
    request: Request, api_username: str, callback_url: Annotated[str, Form()] = ""
) -> Response:
    _merchant_or_404(request, api_username)
    url = callback_url.strip()
    parts = urlsplit(url)
    if url and (parts.scheme not in ("http", "https") or not parts.netloc):
        return _back_to(
            api_username, "eshop_settings", error="The Callback Notification URL must be http(s)."
        )
    sandbox_of(request).store.set_callback_url(api_username=api_username, url=url)
    return _back_to(api_username, "eshop_settings", notice="Callback Notification URL saved.")


@router.post("/portal/{api_username}/payout-terms")
def save_payout_terms(
    request: Request,
    api_username: str,
    fee_percent: Annotated[str, Form()] = "",
    fee_fixed: Annotated[str, Form()] = "",
    bank_iban: Annotated[str, Form()] = "",
) -> Response:
    _merchant_or_404(request, api_username)
    store = sandbox_of(request).store
    try:
        terms = payout_terms_from(
            fee_percent=fee_percent,
            fee_fixed=fee_fixed,
            bank_iban=bank_iban,
            current=store.get_payout_terms(api_username),
        )
    except SandboxError as error:
        return _back_to(api_username, "payouts", error=error.message)
    store.set_payout_terms(api_username, terms)
    return _back_to(api_username, "payouts", notice="Payout settings saved.")


@router.post("/portal/{api_username}/payouts")
def pay_out_today(request: Request, api_username: str) -> Response:
    """Pays out today's settled payments now instead of tomorrow (for trying things out)."""
    _merchant_or_404(request, api_username)
    today = utcnow().date()
    made = sandbox_of(request).store.make_payouts(api_username, through=today, today=today)
    notice = f"{len(made)} payout(s) made." if made else "Nothing settled to pay out."
    return _back_to(api_username, "payouts", notice=notice)


@router.post("/portal/{api_username}/payments/{payment_reference}/refund")
def refund(
    request: Request,
    api_username: str,
    payment_reference: str,
    amount: Annotated[str, Form()] = "",
) -> Response:
    sandbox = sandbox_of(request)
    _own_payment(request, api_username, payment_reference)
    try:
        parsed = parse_amount(amount.strip(), field="Refund amount") if amount.strip() else None
        payment = sandbox.refund(payment_reference, parsed)
    except SandboxError as error:
        return _back_to(api_username, "payments", error=error.message)
    return _back_to(
        api_username, "payments", notice=f"Refunded; {payment.standing_amount} still standing."
    )


@router.post("/portal/{api_username}/payments/{payment_reference}/chargeback")
def chargeback(request: Request, api_username: str, payment_reference: str) -> Response:
    _own_payment(request, api_username, payment_reference)
    try:
        sandbox_of(request).chargeback(payment_reference)
    except SandboxError as error:
        return _back_to(api_username, "payments", error=error.message)
    return _back_to(api_username, "payments", notice="Payment charged back.")


def _own_payment(request: Request, api_username: str, payment_reference: str) -> None:
    payment = sandbox_of(request).store.get_payment(payment_reference)
    if payment is None or payment.api_username != api_username:
        raise HTTPException(404, "No such payment for this merchant.")


@router.get("/logo/{api_username}")
def logo(request: Request, api_username: str) -> Response:
    merchant = _merchant_or_404(request, api_username)
    if not merchant.logo:
        raise HTTPException(404, "This merchant has no logo.")
    return Response(merchant.logo, media_type=merchant.logo_mime or "application/octet-stream")
