"""Forged callbacks that name real payments which are not this channel's: each is recorded
as not ours, and together they open one review per channel and day, not one each."""

import respx

from shared.callbacks.processing import process_event
from shared.models import CallbackStatus, InvoiceStatus, ReviewKind
from tests.callbacks.helpers import Shop, answer_with, attempts, event, invoice, make_shop, reviews


def test_forgeries_naming_real_references_open_one_review_per_channel_and_day(
    shop: Shop, api: respx.MockRouter
) -> None:
    other = make_shop()  # a second channel on the same EveryPay API
    foreign = [
        shop.answer(api_username="another-shop"),  # someone else's EveryPay account
        shop.answer(order_reference="WEBSHOP-ORDER-77"),  # this account, not an invoice
        *(shop.answer(api_username="another-shop") for _ in range(8)),
    ]
    for answer in foreign:
        answer_with(api, answer)

    events = [shop.callback(answer["payment_reference"]) for answer in foreign]
    outcomes = [process_event(event_id) for event_id in events]
    other_event = other.callback(foreign[0]["payment_reference"])
    process_event(other_event)

    assert all(outcome.startswith("not ours") for outcome in outcomes)
    assert {event(event_id).status for event_id in events} == {CallbackStatus.NOT_OURS}
    assert attempts() == [] and invoice(shop.invoice.id).status == InvoiceStatus.ISSUED
    found = reviews(ReviewKind.NOT_OURS)
    assert sorted(item.channel_id for item in found) == sorted([shop.channel.id, other.channel.id])
    assert foreign[0]["payment_reference"] in found[0].reason  # the first is named
