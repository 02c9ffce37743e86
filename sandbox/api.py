"""EveryPay API v4, the part the product calls: payment status and credential checks.

Shapes follow everypay.md §3: errors as ``{"error": {"code", "message"}}``, a 401 with an
empty body, amounts as JSON numbers written straight from ``Decimal``.
"""

import asyncio
import base64
import binascii
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from .service import BANK_METHODS, CARD_METHODS, PAYMENT_METHODS, Sandbox
from .store import Merchant, Payment


class ApiError(Exception):
    """An API v4 error answer; without ``code`` the body is empty (as EveryPay's 401)."""

    def __init__(self, status: int, code: int | None = None, message: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def api_error_response(_request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    if error.code is None:
        return Response(status_code=error.status, headers={"WWW-Authenticate": "Basic"})
    body = {"error": {"code": error.code, "message": error.message}}
    return AmountJSONResponse(body, status_code=error.status)


def json_amount(amount: Decimal) -> str:
    """``125.50`` → ``125.5``, ``100.00`` → ``100.0``: a JSON number with no float rounding."""
    text = format(amount.quantize(Decimal("0.01")), "f").rstrip("0")
    return f"{text}0" if text.endswith(".") else text


def render_json(value: Any) -> str:
    if isinstance(value, Decimal):
        return json_amount(value)
    if isinstance(value, dict):
        items = (f"{json.dumps(str(key))}: {render_json(item)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(render_json(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


class AmountJSONResponse(Response):
    """JSON whose ``Decimal`` values become exact numbers (the stdlib encoder cannot)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return render_json(content).encode("utf-8")


def iso_millis(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


# Invented but well-formed debtor accounts, one per bank.
_DEBTOR_IBANS = {
    "swedbank_ob_lv": "LV97HABA0012345678910",
    "seb_ob_lv": "LV52UNLA0050014261232",
    "lhv_ob_ee": "EE717700771001735865",
    "citadele_ob_lv": "LV59PARX0012592590001",
    "luminor_ob_lv": "LV32RIKO0002013134785",
}


def _card_details(payment: Payment) -> dict[str, Any]:
    # Derived from the reference so one payment always shows the same card.
    is_visa = int(payment.payment_reference[0], 16) % 2 == 0
    return {
        "last_four_digits": "4444" if is_visa else "1002",
        "type": "visa" if is_visa else "master_card",
        "holder_name": payment.customer_name or "Sandbox Cardholder",
        "issuer_country": "LV",
        "state_3ds": "authenticated",
    }


def payment_body(payment: Payment, merchant: Merchant) -> dict[str, Any]:
    failed = payment.state == "failed"
    body: dict[str, Any] = {
        "api_username": merchant.api_username,
        "account_name": merchant.account_name,
        "order_reference": payment.order_reference,
        "payment_reference": payment.payment_reference,
        "payment_state": payment.state,
        "initial_amount": payment.initial_amount,
        "standing_amount": payment.standing_amount,
        "currency": payment.currency,
        "payment_method": payment.payment_method,
        "email": payment.customer_email or None,
        "customer_name": payment.customer_name or None,
        "payment_created_at": iso_millis(payment.created_at),
        "transaction_time": iso_millis(payment.transaction_time),
        "processing_error": {
            "code": 4033 if failed else None,
            "message": "Payment declined by the card issuer (sandbox)" if failed else None,
        },
    }
    if payment.payment_method in CARD_METHODS:
        body["cc_details"] = _card_details(payment)
    if payment.payment_method in BANK_METHODS:
        body["ob_details"] = {"debtor_iban": _DEBTOR_IBANS[payment.payment_method]}
    return body


def sandbox_of(request: Request) -> Sandbox:
    return request.app.state.sandbox


async def apply_faults(request: Request) -> None:
    """The fault switches: answer late, or not at all, as a struggling gateway would.

    The API's handlers are async and read the store on the event loop: a store call takes
    tens of microseconds, less than handing it to a worker thread and back would."""
    faults = sandbox_of(request).store.get_faults()
    if faults.api_delay_seconds:
        await asyncio.sleep(faults.api_delay_seconds)
    if faults.api_status:
        raise ApiError(faults.api_status, faults.api_status, "Service unavailable (sandbox fault)")


def basic_credentials(header: str) -> tuple[str, str] | None:
    """``(username, secret)`` from standard Base64 only; URL-safe Base64 is refused."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    username, separator, secret = decoded.partition(":")
    return (username, secret) if separator else None


async def authenticated_merchant(request: Request) -> Merchant:
    credentials = basic_credentials(request.headers.get("authorization", ""))
    if credentials is None:
        raise ApiError(401)
    username, secret = credentials
    merchant = sandbox_of(request).store.get_merchant(username)
    if merchant is None or not hmac.compare_digest(
        merchant.api_secret.encode("utf-8"), secret.encode("utf-8")
    ):
        raise ApiError(401)
    claimed = request.query_params.get("api_username")
    if claimed is not None and claimed != merchant.api_username:
        raise ApiError(401)
    return merchant


MerchantDep = Annotated[Merchant, Depends(authenticated_merchant)]

router = APIRouter(prefix="/api/v4", dependencies=[Depends(apply_faults)], tags=["API v4"])


@router.get("/payments/{payment_reference}", response_class=AmountJSONResponse)
async def get_payment(payment_reference: str, merchant: MerchantDep, request: Request) -> Response:
    payment = sandbox_of(request).store.get_payment(payment_reference)
    # Another merchant's payment is answered exactly like an unknown one: no leak.
    if payment is None or payment.api_username != merchant.api_username:
        raise ApiError(404, 4004, "Payment not found")
    return AmountJSONResponse(payment_body(payment, merchant))


@router.get("/processing_accounts/{account_name}", response_class=AmountJSONResponse)
async def get_processing_account(account_name: str, merchant: MerchantDep) -> Response:
    if account_name != merchant.account_name:
        raise ApiError(404, 4004, "Processing account not found")
    methods = [{"source": code, "display_name": name} for code, name in PAYMENT_METHODS.items()]
    return AmountJSONResponse(
        {
            "account_name": merchant.account_name,
            "api_username": merchant.api_username,
            "currency": merchant.currency,
            "active": True,
            "payment_methods": methods,
        }
    )


@router.get("/shops", response_class=AmountJSONResponse)
async def get_shops(merchant: MerchantDep) -> Response:
    shop = {
        "name": merchant.name,
        "account_name": merchant.account_name,
        "currency": merchant.currency,
        "callback_url": merchant.callback_url or None,
    }
    return AmountJSONResponse({"api_username": merchant.api_username, "shops": [shop]})
