"""EveryPay API v4 client: the only source of truth about a payment.

Every outcome is classified. Anything that is not a clean, authenticated, well-formed
answer is ``TRANSIENT`` ("unknown, try again later"), never a failed payment.
"""

import base64
import ipaddress
import json
import logging
import re
import ssl
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Any
from urllib.parse import quote, urlsplit

import certifi
import httpx

from shared.config import get_settings
from shared.money import exponent, fits_currency, max_amount
from shared.states import FINAL_PAYMENT_STATES, payment_state_from_gateway

log = logging.getLogger(__name__)

# A state's name as EveryPay writes them, short enough for the column: anything else is a
# garbled answer (retried), not a state EveryPay added.
_STATE_NAME = re.compile(r"[A-Za-z0-9_]{1,32}")


class Outcome(StrEnum):
    OK = "ok"
    AUTH_REFUSED = "auth_refused"
    NOT_FOUND = "not_found"
    TRANSIENT = "transient"


@dataclass(frozen=True)
class PaymentStatus:
    payment_reference: str
    payment_state: str
    order_reference: str
    api_username: str
    initial_amount: Decimal
    standing_amount: Decimal
    currency: str
    payment_method: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None
    payer_name: str | None = None
    payer_email: str | None = None
    account_name: str | None = None
    created_at: datetime | None = None
    transaction_time: datetime | None = None
    processing_error: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        return self.payment_state in FINAL_PAYMENT_STATES


@dataclass(frozen=True)
class ApiResult:
    outcome: Outcome
    status: PaymentStatus | None = None
    http_status: int | None = None
    error: str = ""
    retry_after_seconds: float | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


@dataclass(frozen=True)
class ChannelCredentials:
    api_base: str
    api_username: str
    api_secret: str
    currency: str = "EUR"

    def __repr__(self) -> str:  # never let the secret reach a log line or traceback
        return f"ChannelCredentials(api_base={self.api_base!r}, api_username={self.api_username!r})"


def api_base_problem(api_base: str) -> str | None:
    """Why the API secret must not be sent to ``api_base``, or None.

    Basic auth puts the secret in every request, so plain http is acceptable only on this
    machine (the sandbox, development).
    """
    parts = urlsplit(api_base)
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname)):
        return None
    return (
        "The API base must start with https:// (http:// only for 127.0.0.1, ::1 or "
        "localhost): over http the API secret would travel in clear."
    )


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def basic_auth_header(api_username: str, api_secret: str) -> str:
    token = base64.b64encode(f"{api_username}:{api_secret}".encode()).decode("ascii")
    return f"Basic {token}"


class MalformedAnswer(ValueError):
    pass


# An amount as EveryPay writes it: digits with an optional fraction. Exponents ("1e309",
# "1E2"), NaN and Infinity are not amounts, however Decimal would read them.
_PLAIN_AMOUNT = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def json_number(text: str) -> Decimal | str:
    """``json.loads`` hook for numbers with a fraction or exponent and for NaN/Infinity: a
    plain decimal becomes an exact Decimal, anything else stays the text it was, so that
    an amount written so is refused by ``parse_amount`` instead of read or crashing."""
    return Decimal(text) if _PLAIN_AMOUNT.fullmatch(text) else text


def parse_amount(value: Any, name: str, *, currency: str) -> Decimal:
    """An exact amount in ``currency``; anything else is a malformed answer, never rounded.

    0.005 EUR is not 0.01 EUR: booking it as such would pay an invoice with money that was
    never received. Amounts beyond shared.money's bound are malformed too (they would not
    even fit the database).
    """
    if isinstance(value, bool) or value is None:
        raise MalformedAnswer(f"{name} missing")
    if not isinstance(value, int | str | Decimal):
        # float: a JSON number is parsed as Decimal or kept as text, so a float here is a
        # caller's bug, and its digits are not the ones EveryPay sent.
        raise MalformedAnswer(f"{name} is not a number: {value!r}")
    text = str(value)
    if isinstance(value, Decimal) and value.is_finite():
        text = f"{value:f}"
    if not _PLAIN_AMOUNT.fullmatch(text):
        raise MalformedAnswer(f"{name} is not a plain decimal amount: {text[:40]!r}")
    amount = Decimal(text)
    if amount < 0:
        raise MalformedAnswer(f"{name} is negative: {text!r}")
    if amount > max_amount(currency):
        raise MalformedAnswer(f"{name} is beyond any amount LinkPay Desk accepts: {text[:40]!r}")
    if not fits_currency(amount, currency):
        raise MalformedAnswer(
            f"{name} {text} has more decimals than {currency} has ({exponent(currency)})"
        )
    return amount


def jsonable(value: Any) -> Any:
    """The API answer as stored for the record: Decimals kept exact, as text."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    return value


def parse_time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_payment(body: dict[str, Any], *, default_currency: str) -> PaymentStatus:
    def text(name: str, *, required: bool = False) -> str | None:
        value = body.get(name)
        if value is None or value == "":
            if required:
                raise MalformedAnswer(f"{name} missing")
            return None
        if not isinstance(value, str):
            raise MalformedAnswer(f"{name} is not text")
        return value

    state = payment_state_from_gateway(text("payment_state", required=True) or "")
    if not _STATE_NAME.fullmatch(state):
        raise MalformedAnswer(f"payment_state is not a state name: {state[:40]!r}")
    currency = (text("currency") or default_currency).upper()
    initial = parse_amount(body.get("initial_amount"), "initial_amount", currency=currency)
    standing_raw = body.get("standing_amount")
    standing = (
        initial
        if standing_raw is None
        else parse_amount(standing_raw, "standing_amount", currency=currency)
    )
    card = body.get("cc_details") if isinstance(body.get("cc_details"), dict) else {}
    error = body.get("processing_error") if isinstance(body.get("processing_error"), dict) else {}
    error_text = " ".join(str(error[k]) for k in ("code", "message") if error.get(k)) or None
    return PaymentStatus(
        payment_reference=text("payment_reference", required=True) or "",
        payment_state=state,
        order_reference=text("order_reference", required=True) or "",
        api_username=text("api_username", required=True) or "",
        initial_amount=initial,
        standing_amount=standing,
        currency=currency,
        payment_method=text("payment_method"),
        card_brand=card.get("type") or None,
        card_last4=(str(card["last_four_digits"])[-4:] if card.get("last_four_digits") else None),
        payer_name=card.get("holder_name") or text("customer_name"),
        payer_email=text("email"),
        account_name=text("account_name"),
        created_at=parse_time(body.get("payment_created_at")),
        transaction_time=parse_time(body.get("transaction_time")),
        processing_error=error_text,
        raw=jsonable(body),
    )


_tls_lock = threading.Lock()


def _tls_context() -> ssl.SSLContext:
    """Built once per process: loading the CA bundle costs milliseconds per client. Under
    a lock, so a hundred callers starting at once build it once, not a hundred times."""
    with _tls_lock:
        return _load_tls_context()


@cache
def _load_tls_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=certifi.where())


def prepare_api_calls() -> None:
    """Loads now what the first API call would: the CA bundle and httpx's transport, which
    imports its HTTP stack on first use. A worker starting with a backlog otherwise has all
    its callers wait on that import together, and the backlog grows meanwhile."""
    httpx.HTTPTransport(verify=_tls_context()).close()


class EveryPayClient:
    """One client per channel. Makes exactly one HTTP call per method: retries belong to
    the caller's schedule (one layer of retries only)."""

    def __init__(self, credentials: ChannelCredentials, *, transport=None) -> None:
        settings = get_settings()
        self.credentials = credentials
        # Checked here as well as when the channel is saved: a row saved before the rule
        # existed must not send its secret in clear either.
        self._refusal = api_base_problem(credentials.api_base)
        self._http = httpx.Client(
            base_url=credentials.api_base.rstrip("/"),
            timeout=httpx.Timeout(
                settings.api_total_timeout_seconds, connect=settings.api_connect_timeout_seconds
            ),
            headers={
                "Accept": "application/json",
                "Authorization": basic_auth_header(
                    credentials.api_username, credentials.api_secret
                ),
                "User-Agent": "LinkPay-Desk/0.1",
            },
            verify=_tls_context(),
            follow_redirects=False,
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "EveryPayClient":
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def get_payment(self, payment_reference: str) -> ApiResult:
        path = f"/payments/{quote(payment_reference, safe='')}"
        return self._call(path, parse=True)

    def test_connection(self) -> ApiResult:
        """Checks the credentials without a payment."""
        return self._call("/shops", parse=False)

    def _call(self, path: str, *, parse: bool) -> ApiResult:
        if self._refusal:
            return ApiResult(Outcome.TRANSIENT, error=self._refusal)
        try:
            response = self._http.get(path, params={"api_username": self.credentials.api_username})
        except httpx.TimeoutException as error:
            return ApiResult(Outcome.TRANSIENT, error=f"timeout: {type(error).__name__}")
        except httpx.HTTPError as error:
            return ApiResult(Outcome.TRANSIENT, error=f"connection error: {type(error).__name__}")
        return classify_response(response, default_currency=self.credentials.currency, parse=parse)


def _error_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message") or "")[:200]
    return ""


def classify_response(
    response: httpx.Response, *, default_currency: str, parse: bool = True
) -> ApiResult:
    status = response.status_code
    if status in (401, 403):
        detail = _error_message(response) or "credentials refused"
        return ApiResult(Outcome.AUTH_REFUSED, http_status=status, error=detail)
    if status == 404:
        detail = _error_message(response) or "unknown payment reference"
        return ApiResult(Outcome.NOT_FOUND, http_status=status, error=detail)
    if not 200 <= status < 300:
        retry_after = response.headers.get("Retry-After", "")
        return ApiResult(
            Outcome.TRANSIENT,
            http_status=status,
            error=f"HTTP {status} {_error_message(response)}".strip(),
            retry_after_seconds=float(retry_after) if retry_after.isdigit() else None,
        )
    if not parse:
        return ApiResult(Outcome.OK, http_status=status)
    try:
        body = json.loads(response.content, parse_float=json_number, parse_constant=json_number)
    except ValueError:
        return ApiResult(Outcome.TRANSIENT, http_status=status, error="answer is not JSON")
    if not isinstance(body, dict):
        return ApiResult(Outcome.TRANSIENT, http_status=status, error="answer is not an object")
    try:
        payment = parse_payment(body, default_currency=default_currency)
    except MalformedAnswer as error:
        return ApiResult(Outcome.TRANSIENT, http_status=status, error=f"malformed answer: {error}")
    return ApiResult(Outcome.OK, status=payment, http_status=status)


_thread_clients = threading.local()


def client_for(credentials: ChannelCredentials) -> EveryPayClient:
    """This thread's client for these credentials, kept between calls.

    A worker asks EveryPay once per callback; a new client per call would pay a TCP and
    TLS handshake each time. One client per thread (not shared between threads) and per
    credentials: a changed secret or API base gets a fresh one, the old one is closed.
    """
    cached: EveryPayClient | None = getattr(_thread_clients, "client", None)
    if cached is not None and cached.credentials == credentials:
        return cached
    if cached is not None:
        cached.close()
    _thread_clients.client = EveryPayClient(credentials)
    return _thread_clients.client


def close_thread_client() -> None:
    """Closes this thread's kept client, for a thread that is about to end."""
    cached: EveryPayClient | None = getattr(_thread_clients, "client", None)
    if cached is not None:
        cached.close()
        _thread_clients.client = None
