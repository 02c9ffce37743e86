"""A payment state EveryPay adds after this code was written, and the spellings other
integrations use, through the real path: callback → API answer → apply, on both backends."""

import respx

from shared.callbacks.processing import process_event
from shared.models import CallbackStatus, InvoiceStatus, ReviewKind, ReviewStatus
from tests.callbacks.helpers import (
    Shop,
    answer_with,
    attempts,
    event,
    invoice,
    payment_audits,
    reviews,
    state_changes,
)
from tests.utils.callback_service import new_reference

# Not an EveryPay state today; a settled-sounding name, so that treating it as "money
# stays" would pay the invoice.
NEW_STATE = "settled_pending_payout"


def test_an_unknown_state_books_nothing_and_goes_to_review(
    shop: Shop, api: respx.MockRouter
) -> None:
    reference = new_reference()
    answer_with(api, shop.answer(reference, state=NEW_STATE, amount="121.00"))
    first = shop.callback(reference)
    outcome = process_event(first)
    process_event(shop.callback(reference))  # the same answer again: still one review

    unpaid = invoice(shop.invoice.id)
    assert (unpaid.status, unpaid.paid_minor, unpaid.open_minor) == (InvoiceStatus.ISSUED, 0, 12100)
    assert "nothing booked, sent to review" in outcome
    assert event(first).status == CallbackStatus.DONE
    [attempt] = attempts()
    assert (attempt.state, attempt.booked_minor, attempt.is_final) == (NEW_STATE, 0, False)
    assert attempt.next_check_at is not None  # the reconciler keeps asking
    assert state_changes(attempt.id) == [(None, NEW_STATE)]
    assert payment_audits(shop.invoice.id) == []
    [item] = reviews(ReviewKind.UNKNOWN_STATE)
    assert item.status == ReviewStatus.OPEN
    assert (item.invoice_id, item.payment_attempt_id) == (shop.invoice.id, attempt.id)
    assert NEW_STATE in item.reason and reference in item.reason

    # Once EveryPay reports a state this code knows, the payment is applied as usual.
    answer_with(api, shop.answer(reference, state="settled", amount="121.00"))
    process_event(shop.callback(reference))
    assert invoice(shop.invoice.id).status == InvoiceStatus.PAID


def test_an_unknown_state_after_settling_takes_nothing_back(
    shop: Shop, api: respx.MockRouter
) -> None:
    reference = new_reference()
    answer_with(api, shop.answer(reference, state="settled", amount="121.00"))
    process_event(shop.callback(reference))
    answer_with(api, shop.answer(reference, state=NEW_STATE, amount="121.00", standing="0"))
    process_event(shop.callback(reference))

    paid = invoice(shop.invoice.id)
    assert (paid.status, paid.paid_minor) == (InvoiceStatus.PAID, 12100)
    assert attempts()[0].booked_minor == 12100
    assert [a.details["kind"] for a in payment_audits(shop.invoice.id)] == ["payment"]
    assert len(reviews(ReviewKind.UNKNOWN_STATE)) == 1


def test_other_integrations_spellings_are_read_as_the_documented_states(
    shop: Shop, api: respx.MockRouter
) -> None:
    reference = new_reference()
    answer_with(api, shop.answer(reference, state="settled"))
    process_event(shop.callback(reference))
    answer_with(api, shop.answer(reference, state=" Charged_Back "))
    process_event(shop.callback(reference, event_name="chargebacked"))

    reopened = invoice(shop.invoice.id)
    assert (reopened.status, reopened.open_minor, reopened.returned_minor) == (
        InvoiceStatus.ISSUED,
        12100,
        12100,
    )
    [attempt] = attempts()
    assert attempt.state == "chargebacked"
    assert len(reviews(ReviewKind.CHARGEBACK)) == 1
    assert reviews(ReviewKind.UNKNOWN_STATE) == []
