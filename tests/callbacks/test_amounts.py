"""Amounts in EveryPay's answers through the whole processing path, on both backends:
exact amounts are booked or reviewed, anything else books nothing and waits for a retry."""

import json
import logging

import pytest
import respx

from shared.callbacks.processing import process_event
from shared.invoicing import LineInput
from shared.models import CallbackStatus, InvoiceStatus, ReviewKind
from tests.callbacks.helpers import (
    Shop,
    answer_with,
    attempts,
    event,
    invoice,
    payment_audits,
    reviews,
)
from tests.utils.factories import make_invoice


def test_thirty_million_on_a_small_invoice_is_booked_as_customer_credit_and_reviewed(
    shop: Shop, api: respx.MockRouter
) -> None:
    answer = shop.answer(amount="30000000.00")
    answer_with(api, answer)
    event_id = shop.callback(answer["payment_reference"])

    outcome = process_event(event_id)

    assert "customer credit" in outcome
    assert event(event_id).status == CallbackStatus.DONE
    [item] = reviews(ReviewKind.OVERPAYMENT)
    assert item.amount_minor == 3_000_000_000
    [attempt] = attempts()
    assert (attempt.initial_amount_minor, attempt.booked_minor) == (3_000_000_000, 3_000_000_000)
    booked = invoice(shop.invoice.id)
    # Beyond 32 bits, exact: the surplus over the 121.00 EUR invoice is the customer's credit.
    assert (booked.paid_minor, booked.open_minor) == (3_000_000_000, 12_100 - 3_000_000_000)
    assert booked.status == "paid"


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("0.005", "more decimals than EUR has"),
        ("1e309", "not a plain decimal amount"),
        ("NaN", "not a plain decimal amount"),
        ("1000000000000.00", "beyond any amount"),
    ],
)
def test_an_inexact_or_impossible_amount_books_nothing_and_is_retried_without_a_traceback(
    shop: Shop,
    api: respx.MockRouter,
    caplog: pytest.LogCaptureFixture,
    amount: str,
    reason: str,
) -> None:
    cent = make_invoice(channel=shop.channel, lines=[LineInput("Stamp", "1", "0.01", "0")])
    tiny = Shop(channel=shop.channel, invoice=cent, token=shop.token)
    answer = tiny.answer()
    # As EveryPay would write it: a JSON number, not a string.
    api.get(f"/payments/{answer['payment_reference']}").respond(
        content=_with_number_amount(answer, amount), headers={"Content-Type": "application/json"}
    )
    event_id = tiny.callback(answer["payment_reference"])

    with caplog.at_level(logging.WARNING):
        outcome = process_event(event_id)

    stored = event(event_id)
    assert stored.status == CallbackStatus.PENDING
    assert "malformed answer" in (stored.last_error or "") and reason in stored.last_error
    assert "try 2" in outcome
    assert attempts() == []
    unpaid = invoice(cent.id)
    assert (unpaid.status, unpaid.paid_minor, unpaid.open_minor) == (InvoiceStatus.ISSUED, 0, 1)
    assert payment_audits(cent.id) == []
    assert not [record for record in caplog.records if record.exc_info]


def _with_number_amount(answer: dict, amount: str) -> bytes:
    marker = "__AMOUNT__"
    body = json.dumps({**answer, "initial_amount": marker, "standing_amount": marker})
    return body.replace(f'"{marker}"', amount).encode()
