"""JSON endpoints under ``/sandbox/`` so tests and demos can act as payer, merchant or fault."""

import dataclasses
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, field_validator

from . import statements
from .api import AmountJSONResponse, iso_millis, payment_body, sandbox_of
from .service import (
    Sandbox,
    SandboxError,
    parse_amount,
    parse_iban,
    payout_terms_from,
    query_of,
)
from .store import (
    DEFAULT_URL_FIELDS,
    URL_FIELDS,
    Delivery,
    Faults,
    Merchant,
    Payment,
    Payout,
    PayoutTerms,
    from_minor,
    to_minor,
    utcnow,
)

router = APIRouter(prefix="/sandbox", tags=["scripting"])


def sandbox_error_response(_request: Request, error: Exception) -> Response:
    assert isinstance(error, SandboxError)
    return JSONResponse(
        {"error": {"code": error.status, "message": error.message}}, status_code=error.status
    )


def public_url(request: Request) -> str:
    """The sandbox as browsers reach it: configured, or else the address this request used."""
    return request.app.state.public_url or str(request.base_url).rstrip("/")


class PayBody(BaseModel):
    url: str = Field(description="The full pay link, as a payer would open it.")
    outcome: Literal["pay", "decline", "abandon", "bank_pending", "preauth"]
    method: str | None = Field(default=None, description="e.g. card, swedbank_ob_lv")


class RefundBody(BaseModel):
    amount: str | None = Field(default=None, description="Decimal text; empty means all.")


class FaultsBody(BaseModel):
    api_status: int | None = Field(default=None, ge=400, le=599)
    api_delay_seconds: float = Field(default=0.0, ge=0, le=120)
    callbacks: Literal["normal", "drop", "duplicate"] = "normal"
    duplicate_count: int = Field(default=2, ge=1, le=20)


class MerchantBody(BaseModel):
    name: str = Field(default="Sandbox Merchant", min_length=1, max_length=200)
    currency: str = Field(default="EUR", pattern=r"^[A-Z]{3}$")
    callback_url: str = ""
    api_username: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    api_secret: str | None = Field(default=None, min_length=8)
    link_token: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    link_name: str = "Invoice Payment"
    url_fields: list[str] = Field(default_factory=lambda: list(DEFAULT_URL_FIELDS))

    @field_validator("url_fields")
    @classmethod
    def _known_fields(cls, fields: list[str]) -> list[str]:
        unknown = sorted(set(fields) - set(URL_FIELDS))
        if unknown:
            raise ValueError(f"unknown URL fields {unknown}; known: {', '.join(URL_FIELDS)}")
        return fields


def _attempt_summary(payment: Payment, return_to: str | None) -> dict[str, str | None]:
    return {
        "payment_reference": payment.payment_reference,
        "payment_state": payment.state,
        "order_reference": payment.order_reference,
        # Where the hosted page would send the payer: the link's customer_url, if any.
        "return_url": return_to,
    }


def _payment_response(sandbox: Sandbox, payment: Payment) -> Response:
    merchant = sandbox.store.get_merchant(payment.api_username)
    assert merchant is not None  # a payment cannot outlive its merchant (foreign key)
    return AmountJSONResponse(payment_body(payment, merchant))


def _delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "payment_reference": delivery.payment_reference,
        "event_name": delivery.event_name,
        "attempt": delivery.attempt,
        "attempted_at": iso_millis(delivery.attempted_at),
        "url": delivery.url,
        "status_code": delivery.status_code,
        "error": delivery.error,
        "callback_status": delivery.callback_status,
    }


@router.post("/pay")
async def pay(body: PayBody, request: Request) -> dict[str, str | None]:
    payment, return_to = sandbox_of(request).attempt(query_of(body.url), body.outcome, body.method)
    return _attempt_summary(payment, return_to)


@router.post("/payments/{payment_reference}/refund")
def refund(payment_reference: str, request: Request, body: RefundBody | None = None) -> Response:
    sandbox = sandbox_of(request)
    amount = parse_amount(body.amount, field="amount") if body and body.amount else None
    return _payment_response(sandbox, sandbox.refund(payment_reference, amount))


@router.post("/payments/{payment_reference}/chargeback")
def chargeback(payment_reference: str, request: Request) -> Response:
    sandbox = sandbox_of(request)
    return _payment_response(sandbox, sandbox.chargeback(payment_reference))


@router.get("/faults")
def get_faults(request: Request) -> dict[str, Any]:
    return dataclasses.asdict(sandbox_of(request).store.get_faults())


@router.post("/faults")
def set_faults(body: FaultsBody, request: Request) -> dict[str, Any]:
    """Change only the switches named in the body; the others keep their setting."""
    store = sandbox_of(request).store
    faults = dataclasses.replace(store.get_faults(), **body.model_dump(exclude_unset=True))
    store.set_faults(faults)
    return dataclasses.asdict(faults)


@router.delete("/faults")
def reset_faults(request: Request) -> dict[str, Any]:
    store = sandbox_of(request).store
    store.set_faults(Faults())
    return dataclasses.asdict(Faults())


@router.get("/deliveries")
def list_deliveries(
    request: Request,
    payment_reference: Annotated[str | None, Query()] = None,
    api_username: Annotated[str | None, Query()] = None,
) -> list[dict[str, Any]]:
    deliveries = sandbox_of(request).store.list_deliveries(
        payment_reference=payment_reference, api_username=api_username
    )
    return [_delivery_json(delivery) for delivery in deliveries]


@router.post("/merchants")
def create_merchant(body: MerchantBody, request: Request) -> dict[str, str]:
    """A merchant with one link and its callback URL, ready to be paid, in one call."""
    store = sandbox_of(request).store
    try:
        merchant = store.create_merchant(
            name=body.name,
            currency=body.currency,
            api_username=body.api_username,
            api_secret=body.api_secret,
        )
        link = store.add_link(
            api_username=merchant.api_username,
            name=body.link_name,
            link_token=body.link_token,
            url_fields=body.url_fields,
        )
    except ValueError as error:
        raise SandboxError(409, str(error)) from None
    store.set_callback_url(api_username=merchant.api_username, url=body.callback_url)
    base = public_url(request)
    return {
        "api_username": merchant.api_username,
        "api_secret": merchant.api_secret,
        "link_token": link.link_token,
        "account_name": merchant.account_name,
        "currency": merchant.currency,
        "lp_prefix": f"{base}/lp",
        "api_base": f"{base}/api/v4",
        "portal_url": f"{base}/portal/{merchant.api_username}",
    }


class PayoutTermsBody(BaseModel):
    fee_percent: str = Field(default="", description="Percent of each payment, e.g. 1.5.")
    fee_fixed: str = Field(default="", description="Fixed fee per payment, e.g. 0.10.")
    bank_iban: str = Field(default="", description="The merchant's account payouts go to.")


class ClosePayoutsBody(BaseModel):
    through: date | None = Field(default=None, description="Last settlement day; default today.")


class BankTransferBody(BaseModel):
    amount: str = Field(description="Decimal text, e.g. 121.50.")
    payer_name: str = Field(min_length=1, max_length=140)
    payer_iban: str
    remittance: str = Field(default="", max_length=140)
    creditor_reference: str = Field(default="", max_length=35, description="RF reference")
    booking_date: date | None = Field(
        default=None, alias="date", description="Booking date; default today."
    )


def merchant_of(sandbox: Sandbox, api_username: str) -> Merchant:
    merchant = sandbox.store.get_merchant(api_username)
    if merchant is None:
        raise SandboxError(404, "No merchant with this API username.")
    return merchant


def make_due_payouts(sandbox: Sandbox, api_username: str) -> None:
    """EveryPay pays a day's settled payments out the next day: every day before today."""
    today = utcnow().date()
    sandbox.store.make_payouts(api_username, through=today - timedelta(days=1), today=today)


def _terms_json(terms: PayoutTerms) -> dict[str, Any]:
    return {
        "fee_percent": str(terms.fee_percent),
        "fee_fixed": from_minor(terms.fee_fixed_minor),
        "bank_iban": terms.bank_iban,
    }


def _payout_json(payout: Payout) -> dict[str, Any]:
    return {
        "id": payout.id,
        "reference": payout.reference,
        "settlement_day": payout.settlement_day.isoformat(),
        "value_date": payout.value_date.isoformat(),
        "currency": payout.currency,
        "gross": from_minor(payout.gross_minor),
        "fee": from_minor(payout.fee_minor),
        "net": from_minor(payout.net_minor),
        "payment_references": list(payout.payment_references),
    }


@router.get("/merchants/{api_username}/payout-terms")
def get_payout_terms(api_username: str, request: Request) -> Response:
    sandbox = sandbox_of(request)
    merchant_of(sandbox, api_username)
    return AmountJSONResponse(_terms_json(sandbox.store.get_payout_terms(api_username)))


@router.post("/merchants/{api_username}/payout-terms")
def set_payout_terms(api_username: str, body: PayoutTermsBody, request: Request) -> Response:
    """EveryPay's fee per payment and the bank account it pays out to; empty keeps."""
    sandbox = sandbox_of(request)
    merchant_of(sandbox, api_username)
    terms = payout_terms_from(
        fee_percent=body.fee_percent,
        fee_fixed=body.fee_fixed,
        bank_iban=body.bank_iban,
        current=sandbox.store.get_payout_terms(api_username),
    )
    return AmountJSONResponse(_terms_json(sandbox.store.set_payout_terms(api_username, terms)))


@router.get("/merchants/{api_username}/payouts")
def list_payouts(api_username: str, request: Request) -> Response:
    """Every payout so far, oldest first; yesterday's and older days' are made first."""
    sandbox = sandbox_of(request)
    merchant_of(sandbox, api_username)
    make_due_payouts(sandbox, api_username)
    payouts = sandbox.store.list_payouts(api_username)
    return AmountJSONResponse([_payout_json(payout) for payout in payouts])


@router.post("/merchants/{api_username}/payouts")
def close_payouts(
    api_username: str, request: Request, body: ClosePayoutsBody | None = None
) -> Response:
    """Pay out now, up to and including ``through`` (today: without waiting for tomorrow);
    returns the payouts this made."""
    sandbox = sandbox_of(request)
    merchant_of(sandbox, api_username)
    today = utcnow().date()
    through = body.through if body and body.through else today
    made = sandbox.store.make_payouts(api_username, through=through, today=today)
    return AmountJSONResponse([_payout_json(payout) for payout in made])


@router.post("/merchants/{api_username}/bank-transfers")
def add_bank_transfer(api_username: str, body: BankTransferBody, request: Request) -> Response:
    """A customer's transfer to the merchant's bank account, shown on its statement."""
    sandbox = sandbox_of(request)
    merchant_of(sandbox, api_username)
    transfer = sandbox.store.add_bank_transfer(
        api_username=api_username,
        booking_date=body.booking_date or utcnow().date(),
        amount_minor=to_minor(parse_amount(body.amount, field="amount")),
        payer_name=body.payer_name,
        payer_iban=parse_iban(body.payer_iban, field="payer_iban"),
        remittance=body.remittance,
        creditor_reference=body.creditor_reference.replace(" ", "").upper(),
    )
    return AmountJSONResponse(
        {
            "id": transfer.id,
            "date": transfer.booking_date.isoformat(),
            "amount": from_minor(transfer.amount_minor),
            "payer_name": transfer.payer_name,
            "payer_iban": transfer.payer_iban,
            "remittance": transfer.remittance,
            "creditor_reference": transfer.creditor_reference,
        }
    )


STATEMENT_FORMATS = {"camt053": statements.camt053, "fidavista": statements.fidavista}


@router.get("/merchants/{api_username}/statements/{kind}")
def bank_statement(
    api_username: str,
    kind: Literal["camt053", "fidavista"],
    request: Request,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> Response:
    """The merchant's bank account from ``from`` to ``to`` (default: the last 30 days up to
    today) as camt.053.001.08 or FiDAViSta 1.01."""
    sandbox = sandbox_of(request)
    merchant = merchant_of(sandbox, api_username)
    end = end or utcnow().date()
    start = start or end - timedelta(days=30)
    if start > end:
        raise SandboxError(400, "from must not be after to.")
    make_due_payouts(sandbox, api_username)
    statement = statements.statement_of(sandbox.store, merchant, start=start, end=end)
    filename = f"statement-{statement.statement_id}-{kind}.xml"
    return Response(
        STATEMENT_FORMATS[kind](statement),
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
