"""Processing stored callbacks on both backends: money moves once however often a payment
is reported, never for someone else's payment, never backwards; unusable answers are
retried and handed to a person in the end. The API is mocked with respx."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import respx
from sqlalchemy import update
from sqlmodel import col, select

from shared.callbacks.apply import apply_payment_status
from shared.callbacks.processing import process_event, reprocess_event
from shared.channels import ChannelInput, save_linkpay_channel
from shared.config import get_settings
from shared.db import read_session, write_session
from shared.linkpay.client import basic_auth_header, parse_payment
from shared.models import (
    AuditLog,
    CallbackEvent,
    CallbackStatus,
    Environment,
    InvoiceStatus,
    PaymentChannel,
    ReviewKind,
    ReviewStatus,
    utcnow,
)
from shared.review import accept_partial_payment
from tests.callbacks.helpers import (
    Shop,
    answer_with,
    attempts,
    channel,
    event,
    invoice,
    payment_audits,
    reviews,
    state_changes,
)
from tests.utils.callback_service import new_reference
from tests.utils.factories import API_SECRET, API_USERNAME


def _make_due(event_id: int) -> None:
    """Fast-forwards the backoff instead of sleeping through it."""
    with write_session() as session:
        session.exec(
            update(CallbackEvent)
            .where(col(CallbackEvent.id) == event_id)
            .values(next_attempt_at=utcnow())
        )


def test_settled_payment_of_the_open_balance_marks_the_invoice_paid_once(
    shop: Shop, api: respx.MockRouter
) -> None:
    answer = shop.answer(state="settled", amount="121.00")
    answer_with(api, answer)
    first = shop.callback(answer["payment_reference"])
    duplicate = shop.callback(answer["payment_reference"])

    outcome = process_event(first)
    replay = shop.callback(answer["payment_reference"])
    process_event(replay)

    paid = invoice(shop.invoice.id)
    assert "invoice paid" in outcome
    assert (paid.status, paid.paid_minor, paid.open_minor) == (InvoiceStatus.PAID, 12100, 0)
    assert paid.paid_at is not None
    [attempt] = attempts()
    assert (attempt.state, attempt.booked_minor, attempt.card_last4) == ("settled", 12100, "1002")
    assert state_changes(attempt.id) == [(None, "settled")]
    [audit] = payment_audits(shop.invoice.id)
    assert audit.actor == "system"
    assert audit.details["from_status"] == InvoiceStatus.ISSUED
    assert audit.details["to_status"] == InvoiceStatus.PAID
    # The duplicate waiting in the queue was settled by the same answer, without an API call.
    assert event(duplicate).status == CallbackStatus.DONE
    assert "duplicate of callback" in (event(duplicate).outcome or "")
    assert event(first).payment_attempt_id == attempt.id
    assert event(first).invoice_id == shop.invoice.id
    assert event(first).processed_at is not None
    assert channel(shop.channel.id).first_settled_at is not None
    assert api.calls.call_count == 2  # the first callback and the later replay


def _refused_callback(
    shop: Shop, api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch, *, max_attempts: int
) -> tuple[dict, respx.Route, int]:
    """A stored callback whose API calls EveryPay refuses (wrong secret), given up on
    after ``max_attempts`` tries: its answer, the API route, the event id."""
    monkeypatch.setenv("LINKPAY_CALLBACK_MAX_ATTEMPTS", str(max_attempts))
    get_settings.cache_clear()
    answer = shop.answer()
    route = api.get(f"/payments/{answer['payment_reference']}").respond(401)
    return answer, route, shop.callback(answer["payment_reference"])


def test_exhausted_retries_need_attention_and_recover_when_the_api_answers(
    shop: Shop, api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    answer, route, event_id = _refused_callback(shop, api, monkeypatch, max_attempts=2)

    process_event(event_id)
    _make_due(event_id)
    outcome = process_event(event_id)

    stored = event(event_id)
    assert stored.status == CallbackStatus.NEEDS_ATTENTION
    assert "needs attention" in outcome
    assert "API username or secret" in (stored.last_error or "")
    [item] = reviews(ReviewKind.UNVERIFIED_CALLBACK)
    assert item.status == ReviewStatus.OPEN and item.callback_event_id == event_id

    # The merchant fixes the credentials; someone presses "Reprocess".
    route.respond(json=answer)
    outcome = reprocess_event(event_id=event_id, actor="finance")

    assert "invoice paid" in outcome
    assert event(event_id).status == CallbackStatus.DONE
    assert invoice(shop.invoice.id).status == InvoiceStatus.PAID
    [item] = reviews(ReviewKind.UNVERIFIED_CALLBACK)
    assert item.status == ReviewStatus.RESOLVED


def test_a_later_callback_verified_at_once_resolves_the_unverified_item_of_its_duplicate(
    shop: Shop, api: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first callback was given up on (its item is open); EveryPay's redelivery is then
    # verified on its first try and settles the waiting one too: the item must not stay.
    answer, route, given_up = _refused_callback(shop, api, monkeypatch, max_attempts=1)
    process_event(given_up)
    assert event(given_up).status == CallbackStatus.NEEDS_ATTENTION
    [item] = reviews(ReviewKind.UNVERIFIED_CALLBACK)
    assert item.status == ReviewStatus.OPEN

    route.respond(json=answer)
    redelivered = shop.callback(answer["payment_reference"])
    outcome = process_event(redelivered)

    assert "invoice paid" in outcome
    assert event(given_up).status == CallbackStatus.DONE
    [item] = reviews(ReviewKind.UNVERIFIED_CALLBACK)
    assert item.status == ReviewStatus.RESOLVED


def test_unknown_reference_at_everypay_is_recorded_as_unverified(
    shop: Shop, api: respx.MockRouter
) -> None:
    forged = [new_reference() for _ in range(3)]
    for reference in forged:
        api.get(f"/payments/{reference}").respond(404, json={"error": {"code": 4004}})
    event_ids = [shop.callback(reference) for reference in forged]

    outcomes = [process_event(event_id) for event_id in event_ids]

    assert all("unverified" in outcome for outcome in outcomes)
    assert {event(e).status for e in event_ids} == {CallbackStatus.NOT_OURS}
    assert invoice(shop.invoice.id).status == InvoiceStatus.ISSUED
    assert attempts() == []
    # One reminder per channel and day that unknown references arrive, not one per forgery.
    assert len(reviews(ReviewKind.UNVERIFIED_CALLBACK)) == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"api_username": "someone-else"}, "API user 'someone-else'"),
        ({"order_reference": "SHOP-ORDER-77"}, "not an invoice of this channel"),
    ],
    ids=["foreign-api-username", "foreign-order-reference"],
)
def test_payments_that_are_not_ours_change_nothing(
    shop: Shop, api: respx.MockRouter, change: dict[str, str], reason: str
) -> None:
    answer = shop.answer(**change)
    answer_with(api, answer)
    first = shop.callback(answer["payment_reference"])
    process_event(first)
    replay = shop.callback(answer["payment_reference"])
    outcome = process_event(replay)

    assert reason in outcome
    assert {event(first).status, event(replay).status} == {CallbackStatus.NOT_OURS}
    assert invoice(shop.invoice.id).status == InvoiceStatus.ISSUED
    assert attempts() == []
    assert len(reviews(ReviewKind.NOT_OURS)) == 1


def test_less_than_the_balance_accepted_as_partial_payment_and_the_rest_can_follow(
    shop: Shop, api: respx.MockRouter
) -> None:
    first = shop.answer(amount="50.00")
    answer_with(api, first)
    outcome = process_event(shop.callback(first["payment_reference"]))
    assert "less than the open balance, sent to review" in outcome
    assert invoice(shop.invoice.id).paid_minor == 0
    [item] = reviews(ReviewKind.AMOUNT_MISMATCH)
    with write_session() as session:
        accept_partial_payment(session, actor="finance", review_id=item.id)

    partly = invoice(shop.invoice.id)
    assert (partly.status, partly.paid_minor, partly.open_minor) == (
        InvoiceStatus.PARTIALLY_PAID,
        5000,
        7100,
    )
    # EveryPay takes one settled payment per order reference: the next link carries "-2".
    rest = shop.answer(amount="71.00", order_reference=f"{shop.invoice.number}-2")
    answer_with(api, rest)
    process_event(shop.callback(rest["payment_reference"]))

    paid = invoice(shop.invoice.id)
    assert (paid.status, paid.paid_minor, paid.open_minor) == (InvoiceStatus.PAID, 12100, 0)
    assert [a.details["to_status"] for a in payment_audits(shop.invoice.id)] == [
        InvoiceStatus.PARTIALLY_PAID,
        InvoiceStatus.PAID,
    ]


def test_refund_takes_back_what_no_longer_stays_paid(shop: Shop, api: respx.MockRouter) -> None:
    reference = new_reference()
    answer_with(api, shop.answer(reference, state="settled"))
    process_event(shop.callback(reference))
    answer_with(api, shop.answer(reference, state="refunded", standing="21.00"))
    outcome = process_event(shop.callback(reference, event_name="refunded"))

    refunded = invoice(shop.invoice.id)
    assert "100.00 EUR went back to the payer" in outcome
    # Received and paid back are both on the ledger; the 100.00 is open until finance
    # credits it or decides the customer owes it (the refund review).
    assert (
        refunded.status,
        refunded.paid_minor,
        refunded.returned_minor,
        refunded.open_minor,
    ) == (InvoiceStatus.PARTIALLY_PAID, 12100, 10000, 10000)
    assert attempts()[0].booked_minor == 2100
    [item] = reviews(ReviewKind.REFUND)
    assert item.amount_minor == 10000
    assert [a.details["kind"] for a in payment_audits(shop.invoice.id)] == [
        "payment",
        "money_back",
    ]


def test_an_older_failed_attempt_never_unpays_the_invoice(
    shop: Shop, api: respx.MockRouter
) -> None:
    settled, failed = shop.answer(state="settled"), shop.answer(state="failed")
    answer_with(api, settled)
    answer_with(api, failed)
    process_event(shop.callback(settled["payment_reference"]))
    process_event(shop.callback(failed["payment_reference"]))

    assert invoice(shop.invoice.id).status == InvoiceStatus.PAID
    assert len(payment_audits(shop.invoice.id)) == 1
    assert [a.state for a in attempts()] == ["settled", "failed"]


def test_a_stale_answer_does_not_overwrite_a_newer_one(shop: Shop, api: respx.MockRouter) -> None:
    reference = new_reference()
    answer_with(api, shop.answer(reference, state="settled"))
    process_event(shop.callback(reference))
    # An answer fetched before the one already applied (a slow worker) arrives late.
    stale_answer = shop.answer(reference, state="sent_for_processing")
    stale = parse_payment(stale_answer, default_currency="EUR")
    with write_session() as session:
        applied = apply_payment_status(
            session,
            channel_id=shop.channel.id,
            asked_reference=reference,
            answer=stale,
            asked_at=utcnow() - timedelta(minutes=1),
            source="callback",
        )

    assert "newer answer" in applied.outcome
    assert attempts()[0].state == "settled"


def test_reprocessing_is_audited_and_never_books_twice(shop: Shop, api: respx.MockRouter) -> None:
    answer = shop.answer()
    answer_with(api, answer)
    event_id = shop.callback(answer["payment_reference"])
    process_event(event_id)

    outcome = reprocess_event(event_id=event_id, actor="finance")

    assert "already booked" in outcome
    assert invoice(shop.invoice.id).paid_minor == 12100
    assert len(payment_audits(shop.invoice.id)) == 1
    with read_session() as session:
        query = select(AuditLog).where(AuditLog.action == "callback.reprocess")
        [entry] = session.exec(query).all()
    assert entry.actor == "finance" and entry.entity_id == str(event_id)


def test_concurrent_attempts_on_one_invoice_are_applied_without_conflicts(
    shop: Shop, api: respx.MockRouter
) -> None:
    # The payer's card is declined, they retry at once and pay: both attempts' callbacks
    # (and their redeliveries) are processed at the same moment by different workers.
    failed, settled = shop.answer(state="failed"), shop.answer(state="settled")
    answer_with(api, failed)
    answer_with(api, settled)
    event_ids = [shop.callback(answer["payment_reference"]) for answer in (failed, settled) * 6]
    start = threading.Barrier(len(event_ids))

    def process(event_id: int) -> str:
        start.wait()
        return process_event(event_id)

    with ThreadPoolExecutor(max_workers=len(event_ids)) as pool:
        outcomes = list(pool.map(process, event_ids))

    assert not [outcome for outcome in outcomes if "internal error" in outcome]
    assert invoice(shop.invoice.id).status == InvoiceStatus.PAID
    assert len(payment_audits(shop.invoice.id)) == 1
    assert sorted(a.state for a in attempts()) == ["failed", "settled"]


def test_an_edited_api_secret_is_used_for_the_very_next_callback(
    shop: Shop, api: respx.MockRouter
) -> None:
    # The worker keeps the decrypted credentials between callbacks; an edit must not wait
    # for a restart, or every callback after it would be refused until someone noticed.
    first, second = (
        shop.answer(state="settled", amount="50.00"),
        shop.answer(state="sent_for_processing"),
    )
    routes = [answer_with(api, first), answer_with(api, second)]
    process_event(shop.callback(first["payment_reference"]))

    with write_session() as session:
        current = session.get(PaymentChannel, shop.channel.id)
        assert current is not None
        save_linkpay_channel(
            session,
            actor="test",
            bank_account_id=current.bank_account_id,
            channel_id=current.id,
            data=ChannelInput(
                link_token=current.link_token,
                api_username="renamed-user",
                api_secret="a-new-secret-from-the-portal",
                environment=Environment.CUSTOM,
                linkpay_prefix=current.linkpay_prefix,
                api_base=current.api_base,
                currency=current.currency,
                url_fields=list(current.url_fields),
            ),
        )
    process_event(shop.callback(second["payment_reference"]))

    used = [route.calls.last.request for route in routes]
    assert used[0].headers["Authorization"] == basic_auth_header(API_USERNAME, API_SECRET)
    assert used[1].headers["Authorization"] == basic_auth_header(
        "renamed-user", "a-new-secret-from-the-portal"
    )
    assert used[1].url.params["api_username"] == "renamed-user"
