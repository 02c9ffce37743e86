"""What a payer and the merchant can do, shared by the HTML pages and the scripting API.

The hosted page and ``POST /sandbox/pay`` go through the same ``Sandbox.attempt`` so a test
that scripts a payment exercises exactly what a person pressing the button would.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode, urlsplit

from shared.channels import validate_iban
from shared.errors import ValidationError
from shared.linkpay.signing import parse_query, verify_query
from shared.states import PaymentState

from .store import (
    URL_FIELDS,
    Link,
    Merchant,
    OrderAlreadyPaid,
    Payment,
    PayoutTerms,
    SandboxStore,
    to_minor,
    utcnow,
)

DEFAULT_CALLBACK_SCHEDULE = (1.0, 2.0, 5.0, 10.0, 30.0)
DEFAULT_BANK_SETTLE_SECONDS = 3.0

CARD_METHODS = {
    "card": "Card (Visa, Mastercard)",
    "apple_pay": "Apple Pay",
    "google_pay": "Google Pay",
}
BANK_METHODS = {
    "swedbank_ob_lv": "Swedbank",
    "seb_ob_lv": "SEB",
    "lhv_ob_ee": "LHV",
    "citadele_ob_lv": "Citadele",
    "luminor_ob_lv": "Luminor",
}
PAYMENT_METHODS = CARD_METHODS | BANK_METHODS

_AMOUNT = re.compile(r"[0-9]+(\.[0-9]{1,2})?")
_ORDER_REFERENCE = re.compile(r"[A-Za-z0-9/-]{1,120}")


@dataclass(frozen=True)
class Outcome:
    state: str
    event_name: str


OUTCOMES = {
    "pay": Outcome(PaymentState.SETTLED, "status_updated"),
    "decline": Outcome(PaymentState.FAILED, "status_updated"),
    "abandon": Outcome(PaymentState.ABANDONED, "abandoned"),
    "bank_pending": Outcome(PaymentState.SENT_FOR_PROCESSING, "status_updated"),
    "preauth": Outcome(PaymentState.AUTHORISED, "status_updated"),
}


class SandboxError(Exception):
    """Something the caller did wrong, with the HTTP status and a message for a person."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class PaymentRequest:
    """A verified pay link: who is paid, how much, for which order."""

    merchant: Merchant
    link: Link
    amount: Decimal
    order_reference: str
    invoice_number: str
    customer_name: str
    customer_email: str
    customer_url: str


def return_address(customer_url: str, payment: Payment) -> str:
    """Where the hosted page sends the payer after an attempt: the link's customer_url with
    the payment's references added to its query, as EveryPay does for API payments."""
    references = urlencode(
        {
            "payment_reference": payment.payment_reference,
            "order_reference": payment.order_reference,
        }
    )
    return f"{customer_url}{'&' if urlsplit(customer_url).query else '?'}{references}"


def parse_amount(text: str, *, field: str = "transaction_amount") -> Decimal:
    """A positive amount with at most two decimals, "." as separator, nothing else."""
    if not _AMOUNT.fullmatch(text or ""):
        raise SandboxError(
            400, f"{field} must be a number with at most two decimals, such as 125.50."
        )
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise SandboxError(400, f"{field} '{text}' is not a number.") from None
    if amount <= 0:
        raise SandboxError(400, f"{field} must be more than zero.")
    return amount


def parse_iban(text: str, *, field: str) -> str:
    try:
        return validate_iban(text)
    except ValidationError as error:
        raise SandboxError(400, f"{field}: {error}") from None


def payout_terms_from(
    *, fee_percent: str, fee_fixed: str, bank_iban: str, current: PayoutTerms
) -> PayoutTerms:
    """New payout terms from typed values; an empty value keeps the current one."""
    percent = current.fee_percent
    if fee_percent.strip():
        try:
            percent = Decimal(fee_percent.strip())
        except InvalidOperation:
            raise SandboxError(400, "fee_percent must be a number such as 1.5.") from None
        if not 0 <= percent < 100 or percent != percent.quantize(Decimal("0.01")):
            raise SandboxError(400, "fee_percent must be from 0 to below 100, two decimals.")
    fixed = current.fee_fixed_minor
    if fee_fixed.strip():
        if not _AMOUNT.fullmatch(fee_fixed.strip()):
            raise SandboxError(400, "fee_fixed must be an amount such as 0.10.")
        fixed = to_minor(Decimal(fee_fixed.strip()))
    iban = parse_iban(bank_iban, field="bank_iban") if bank_iban.strip() else current.bank_iban
    return PayoutTerms(fee_percent=percent, fee_fixed_minor=fixed, bank_iban=iban)


def query_of(url: str) -> str:
    return urlsplit(url).query


class Sandbox:
    """The simulator's behaviour; ``wake`` tells the callback dispatcher there is new work."""

    def __init__(
        self,
        store: SandboxStore,
        *,
        callback_schedule: tuple[float, ...] = DEFAULT_CALLBACK_SCHEDULE,
        bank_settle_seconds: float = DEFAULT_BANK_SETTLE_SECONDS,
    ) -> None:
        self.store = store
        self.callback_schedule = callback_schedule
        self.bank_settle_seconds = bank_settle_seconds
        self.wake: Callable[[], None] = lambda: None

    def open_link(self, raw_query: str) -> PaymentRequest:
        """Check a pay link as EveryPay does: token known, signature intact, values valid."""
        try:
            params = parse_query(raw_query)
        except UnicodeDecodeError:
            raise SandboxError(400, "The payment link has been changed or is incomplete.") from None
        token = params.get("linkpay_token", "")
        link = self.store.get_link(token) if token else None
        merchant = self.store.merchant_by_link_token(token) if link else None
        if link is None or merchant is None:
            raise SandboxError(404, "This payment link does not exist (unknown link token).")
        if not verify_query(raw_query, merchant.api_secret):
            raise SandboxError(400, "The payment link has been changed or is incomplete.")
        request = self._request(merchant, link, params)
        self._refuse_taken_order(request)
        return request

    def _request(self, merchant: Merchant, link: Link, params: dict[str, str]) -> PaymentRequest:
        for key in params:
            if key in ("linkpay_token", "hmac"):
                continue
            if key not in URL_FIELDS:
                raise SandboxError(400, f"Unknown parameter '{key}' in the payment link.")
            if key not in link.url_fields:
                raise SandboxError(
                    400,
                    f"The link '{link.name}' does not let the URL change '{key}'"
                    " (tick it as URL changeable under Links in the merchant portal).",
                )
        amount = parse_amount(params.get("transaction_amount", ""))
        order_reference = params.get("order_reference", "")
        if not _ORDER_REFERENCE.fullmatch(order_reference):
            raise SandboxError(
                400,
                "order_reference must be 1 to 120 characters of A-Z, a-z, 0-9, '-' and '/'.",
            )
        customer_url = params.get("customer_url", "")
        address = urlsplit(customer_url)
        if customer_url and (address.scheme not in ("http", "https") or not address.netloc):
            raise SandboxError(400, "customer_url must be an http:// or https:// address.")
        return PaymentRequest(
            merchant=merchant,
            link=link,
            amount=amount,
            order_reference=order_reference,
            invoice_number=params.get("invoice_number", ""),
            customer_name=params.get("customer_name", ""),
            customer_email=params.get("customer_email", ""),
            customer_url=customer_url,
        )

    def _refuse_taken_order(self, request: PaymentRequest) -> None:
        status = self.store.order_status(
            api_username=request.merchant.api_username, order_reference=request.order_reference
        )
        if status is not None:
            raise _taken_order_error(in_progress=status == "in_progress")

    def attempt(
        self, raw_query: str, outcome: str, method: str | None = None
    ) -> tuple[Payment, str | None]:
        """One press of an outcome button: a new payment (new reference) and its callback,
        with the address the payer is sent back to (None when the link names none)."""
        if outcome not in OUTCOMES:
            raise SandboxError(400, f"outcome must be one of {', '.join(OUTCOMES)}.")
        if method is not None and method not in PAYMENT_METHODS:
            raise SandboxError(400, f"method must be one of {', '.join(PAYMENT_METHODS)}.")
        request = self.open_link(raw_query)
        result = OUTCOMES[outcome]
        settle_at = None
        if outcome == "bank_pending":
            settle_at = utcnow() + timedelta(seconds=self.bank_settle_seconds)
        try:
            payment = self.store.create_attempt(
                link_token=request.link.link_token,
                order_reference=request.order_reference,
                invoice_number=request.invoice_number,
                amount=request.amount,
                state=result.state,
                payment_method=_method_for(outcome, method),
                customer_name=request.customer_name,
                customer_email=request.customer_email,
                event_name=result.event_name,
                settle_at=settle_at,
            )
        except OrderAlreadyPaid as taken:
            # Another attempt won the race between opening the page and pressing the button.
            raise _taken_order_error(in_progress=taken.in_progress) from None
        self.wake()
        if not request.customer_url:
            return payment, None
        return payment, return_address(request.customer_url, payment)

    def refund(self, payment_reference: str, amount: Decimal | None = None) -> Payment:
        payment = self._payment(payment_reference)
        try:
            refunded = self.store.refund(
                payment_reference=payment_reference,
                amount=payment.standing_amount if amount is None else amount,
            )
        except ValueError as error:
            raise SandboxError(409, f"Refund refused: {error}.") from None
        self.wake()
        return refunded

    def chargeback(self, payment_reference: str) -> Payment:
        self._payment(payment_reference)
        try:
            charged_back = self.store.chargeback(payment_reference=payment_reference)
        except ValueError as error:
            raise SandboxError(409, f"Chargeback refused: {error}.") from None
        self.wake()
        return charged_back

    def _payment(self, payment_reference: str) -> Payment:
        payment = self.store.get_payment(payment_reference)
        if payment is None:
            raise SandboxError(404, "No payment with this reference.")
        return payment


def _method_for(outcome: str, chosen: str | None) -> str:
    # A bank payment cannot be a card and a pre-authorisation cannot be a bank link.
    if outcome == "bank_pending":
        return chosen if chosen in BANK_METHODS else "swedbank_ob_lv"
    if outcome == "preauth":
        return chosen if chosen in CARD_METHODS else "card"
    return chosen or "card"


def _taken_order_error(*, in_progress: bool) -> SandboxError:
    if in_progress:
        return SandboxError(
            409, "A bank payment for this order is still being processed; wait for its result."
        )
    return SandboxError(409, "This order has already been paid.")
