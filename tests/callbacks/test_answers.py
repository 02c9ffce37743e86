"""What each kind of EveryPay answer does to the invoice and the exceptions queue: the
table of outcomes. Nothing here depends on the SQL dialect (the locking and conflict paths
are covered on both backends elsewhere), so it runs on SQLite only, to stay quick."""

from datetime import timedelta

import httpx
import pytest
import respx
from sqlmodel import col, select

from shared.callbacks.processing import process_event
from shared.db import read_session, write_session
from shared.invoicing import cancel_invoice
from shared.models import (
    CallbackStatus,
    InvoiceStatus,
    LedgerEntry,
    ReviewKind,
    utcnow,
)
from tests.callbacks.helpers import (
    Shop,
    answer_with,
    attempts,
    event,
    invoice,
    make_shop,
    payment_audits,
    reviews,
    state_changes,
)
from tests.utils.callback_service import new_reference
from tests.utils.factories import post_payment


@pytest.fixture
def shop(db: str) -> Shop:
    return make_shop()


@pytest.mark.parametrize(
    ("response", "expected_error"),
    [
        (httpx.ConnectError("refused"), "connection error"),
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.Response(401, content=b""), "refused the channel's API username"),
        (httpx.Response(429, headers={"Retry-After": "30"}, json={}), "HTTP 429"),
        (httpx.Response(500, json={"error": {"code": 1, "message": "boom"}}), "HTTP 500"),
        (httpx.Response(502, text="<html>bad gateway</html>"), "HTTP 502"),
        (httpx.Response(503, json={}), "HTTP 503"),
        (httpx.Response(200, text="{not json"), "not JSON"),
        (httpx.Response(200, json={"payment_state": "settled"}), "malformed answer"),
        (httpx.Response(200, json={"payment_state": "paid", "initial_amount": 1}), "malformed"),
    ],
    ids=[
        "connect-error",
        "read-timeout",
        "401-empty",
        "429",
        "500",
        "502",
        "503",
        "bad-json",
        "missing-fields",
        "unknown-state",
    ],
)
def test_unusable_api_answers_leave_the_invoice_alone_and_retry_later(
    shop: Shop, api: respx.MockRouter, response: object, expected_error: str
) -> None:
    reference = new_reference()
    route = api.get(f"/payments/{reference}")
    if isinstance(response, Exception):
        route.mock(side_effect=response)
    else:
        route.mock(return_value=response)
    event_id = shop.callback(reference)

    outcome = process_event(event_id)

    stored = event(event_id)
    assert stored.status == CallbackStatus.PENDING
    assert expected_error in (stored.last_error or "")
    assert stored.next_attempt_at is not None and stored.next_attempt_at > utcnow()
    assert "try 2" in outcome
    unchanged = invoice(shop.invoice.id)
    assert (unchanged.status, unchanged.paid_minor) == (InvoiceStatus.ISSUED, 0)
    assert attempts() == []
    # Not due yet: a second run does not ask EveryPay again before the backoff is over.
    assert "waiting for its next try" in process_event(event_id)
    assert route.call_count == 1


def test_retry_after_is_respected(shop: Shop, api: respx.MockRouter) -> None:
    reference = new_reference()
    api.get(f"/payments/{reference}").respond(429, headers={"Retry-After": "120"})
    event_id = shop.callback(reference)
    process_event(event_id)
    assert event(event_id).next_attempt_at >= utcnow() + timedelta(seconds=110)


def test_another_channels_invoice_is_not_paid_through_this_channel(
    shop: Shop, api: respx.MockRouter
) -> None:
    other = make_shop()
    answer = other.answer()  # order reference of the other channel's invoice
    answer_with(api, answer)
    outcome = process_event(shop.callback(answer["payment_reference"]))

    assert "not an invoice of this channel" in outcome
    assert invoice(other.invoice.id).status == InvoiceStatus.ISSUED


def test_other_currency_goes_to_review_unbooked(shop: Shop, api: respx.MockRouter) -> None:
    answer = shop.answer(currency="USD")
    answer_with(api, answer)
    outcome = process_event(shop.callback(answer["payment_reference"]))

    assert "not booked" in outcome
    assert invoice(shop.invoice.id).paid_minor == 0
    [item] = reviews(ReviewKind.CURRENCY_MISMATCH)
    assert item.invoice_id == shop.invoice.id
    assert payment_audits(shop.invoice.id) == []


def test_missing_currency_means_the_channels_currency(shop: Shop, api: respx.MockRouter) -> None:
    answer = shop.answer(currency=None)
    answer_with(api, answer)
    process_event(shop.callback(answer["payment_reference"]))
    assert invoice(shop.invoice.id).status == InvoiceStatus.PAID


def test_more_than_the_balance_is_booked_and_the_surplus_is_customer_credit(
    shop: Shop, api: respx.MockRouter
) -> None:
    answer = shop.answer(amount="121.01")
    answer_with(api, answer)
    outcome = process_event(shop.callback(answer["payment_reference"]))

    assert "0.01 EUR customer credit" in outcome
    paid = invoice(shop.invoice.id)
    assert (paid.status, paid.paid_minor, paid.open_minor) == (InvoiceStatus.PAID, 12101, -1)
    [item] = reviews(ReviewKind.OVERPAYMENT)
    assert item.amount_minor == 12101 and "customer's credit" in item.reason


def test_less_than_the_balance_goes_to_review_unbooked(shop: Shop, api: respx.MockRouter) -> None:
    answer = shop.answer(amount="50.00")
    answer_with(api, answer)
    outcome = process_event(shop.callback(answer["payment_reference"]))

    assert "less than the open balance" in outcome
    assert invoice(shop.invoice.id).paid_minor == 0
    [item] = reviews(ReviewKind.AMOUNT_MISMATCH)
    assert item.amount_minor == 5000

    # The rest arrives by bank transfer meanwhile; the same answer again (a duplicate, the
    # reconciler) must still leave the decision to the person reviewing it.
    with write_session() as session:
        post_payment(session, invoice_id=shop.invoice.id, amount_minor=9000)
    outcome = process_event(shop.callback(answer["payment_reference"]))
    assert "review decides" in outcome
    assert invoice(shop.invoice.id).paid_minor == 9000


@pytest.mark.parametrize(
    "state",
    ["initial", "waiting_for_sca", "waiting_for_3ds_response", "sent_for_processing", "authorised"],
)
def test_pending_states_are_recorded_and_left_to_the_reconciler(
    shop: Shop, api: respx.MockRouter, state: str
) -> None:
    answer = shop.answer(state=state, created_at=utcnow().isoformat())
    answer_with(api, answer)
    event_id = shop.callback(answer["payment_reference"])
    outcome = process_event(event_id)

    assert "not paid yet" in outcome
    assert event(event_id).status == CallbackStatus.DONE
    [attempt] = attempts()
    assert (attempt.state, attempt.is_final, attempt.booked_minor) == (state, False, 0)
    assert attempt.next_check_at is not None and attempt.next_check_at > utcnow()
    assert invoice(shop.invoice.id).status == InvoiceStatus.ISSUED
    assert reviews() == []


def test_confirmed_3ds_is_stuck_and_goes_to_review(shop: Shop, api: respx.MockRouter) -> None:
    answer = shop.answer(state="confirmed_3ds")
    answer_with(api, answer)
    process_event(shop.callback(answer["payment_reference"]))
    process_event(shop.callback(answer["payment_reference"]))

    assert invoice(shop.invoice.id).status == InvoiceStatus.ISSUED
    [item] = reviews(ReviewKind.STUCK_PENDING)
    assert item.invoice_id == shop.invoice.id


@pytest.mark.parametrize("state", ["failed", "abandoned", "voided"])
def test_unsuccessful_attempts_are_recorded_and_change_nothing(
    shop: Shop, api: respx.MockRouter, state: str
) -> None:
    answer = shop.answer(state=state)
    answer_with(api, answer)
    process_event(shop.callback(answer["payment_reference"]))

    [attempt] = attempts()
    assert (attempt.state, attempt.is_final, attempt.next_check_at) == (state, True, None)
    assert invoice(shop.invoice.id).status == InvoiceStatus.ISSUED
    assert payment_audits(shop.invoice.id) == []


def test_a_payment_moving_through_states_keeps_its_history(
    shop: Shop, api: respx.MockRouter
) -> None:
    reference = new_reference()
    for state in ("waiting_for_3ds_response", "settled"):
        answer_with(api, shop.answer(reference, state=state))
        process_event(shop.callback(reference))

    [attempt] = attempts()
    assert state_changes(attempt.id) == [
        (None, "waiting_for_3ds_response"),
        ("waiting_for_3ds_response", "settled"),
    ]
    assert invoice(shop.invoice.id).status == InvoiceStatus.PAID


def test_chargeback_reopens_the_invoice(shop: Shop, api: respx.MockRouter) -> None:
    reference = new_reference()
    answer_with(api, shop.answer(reference, state="settled"))
    process_event(shop.callback(reference))
    answer_with(api, shop.answer(reference, state="chargebacked"))
    process_event(shop.callback(reference, event_name="chargebacked"))
    process_event(shop.callback(reference, event_name="chargebacked"))

    reopened = invoice(shop.invoice.id)
    # Both movements stay on the ledger: received, then all of it gone back.
    assert (
        reopened.status,
        reopened.paid_minor,
        reopened.returned_minor,
        reopened.open_minor,
        reopened.paid_at,
    ) == (InvoiceStatus.ISSUED, 12100, 12100, 12100, None)
    assert len(reviews(ReviewKind.CHARGEBACK)) == 1
    with read_session() as session:
        entries = session.exec(
            select(LedgerEntry.kind, LedgerEntry.source, LedgerEntry.amount_minor)
            .where(LedgerEntry.invoice_id == shop.invoice.id)
            .order_by(col(LedgerEntry.id))
        ).all()
    assert entries == [("payment", "linkpay", 12100), ("money_back", "chargeback", 12100)]


def test_a_cancelled_invoice_is_not_paid_but_the_payment_goes_to_review(
    shop: Shop, api: respx.MockRouter
) -> None:
    with write_session() as session:
        cancel_invoice(session, actor="test", invoice_id=shop.invoice.id, reason="duplicate")
    answer = shop.answer()
    answer_with(api, answer)
    process_event(shop.callback(answer["payment_reference"]))

    assert invoice(shop.invoice.id).status == InvoiceStatus.CANCELLED
    assert len(reviews(ReviewKind.PAID_NOT_BOOKED)) == 1
