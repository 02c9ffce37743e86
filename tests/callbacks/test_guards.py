"""Two guards of the callback pipeline that no other test exercised: each test here fails
when its guard line is removed."""

import httpx
import respx

from shared.callbacks.apply import Applied, apply_payment_status
from shared.callbacks.processing import process_event
from shared.db import write_session
from shared.linkpay.client import parse_payment
from shared.models import CallbackStatus, InvoiceStatus, PaymentAttempt, ReviewKind, utcnow
from tests.callbacks.helpers import Shop, attempts, event, invoice, reviews
from tests.utils.callback_service import new_reference
from tests.utils.factories import make_channel, make_invoice


def test_a_duplicate_received_after_the_api_was_asked_waits_for_its_own_answer(
    shop: Shop, api: respx.MockRouter
) -> None:
    """The payer's bank may settle between our question and the next callback: that
    callback reports something newer than the answer in hand, so it must not be closed
    as a duplicate of the older one (``processing._close``: received_at <= asked_at)."""
    pending = shop.answer(state="sent_for_processing", amount="121.00")
    reference = pending["payment_reference"]
    late: list[int] = []

    def answer_then_receive_another(request: httpx.Request) -> httpx.Response:
        # EveryPay is being asked right now; a new callback arrives meanwhile.
        late.append(shop.callback(reference))
        return httpx.Response(200, json=pending)

    api.get(f"/payments/{reference}").mock(side_effect=answer_then_receive_another)
    first = shop.callback(reference)
    process_event(first)

    assert event(first).status == CallbackStatus.DONE
    [newer] = late
    assert event(newer).status == CallbackStatus.PENDING
    assert "duplicate" not in (event(newer).outcome or "")

    settled = {**pending, "payment_state": "settled"}
    api.get(f"/payments/{reference}").respond(json=settled)
    process_event(newer)
    assert invoice(shop.invoice.id).status == InvoiceStatus.PAID


def _apply(channel_id: int, answer: dict) -> Applied:
    with write_session() as session:
        return apply_payment_status(
            session,
            channel_id=channel_id,
            asked_reference=answer["payment_reference"],
            answer=parse_payment(answer, default_currency="EUR"),
            asked_at=utcnow(),
            source="callback",
        )


def test_a_reference_recorded_for_another_invoice_is_refused(shop: Shop) -> None:
    """A payment reference first seen for one invoice cannot later be booked on another
    of the channel's invoices (``apply.apply_payment_status``)."""
    reference = new_reference()
    assert _apply(shop.channel.id, shop.answer(reference, state="sent_for_processing")).ours
    other = make_invoice(channel=shop.channel)

    applied = _apply(
        shop.channel.id, shop.answer(reference, state="settled", order_reference=other.number)
    )

    assert not applied.ours
    assert "already recorded for another channel or invoice" in applied.outcome
    assert invoice(other.id).paid_minor == 0
    assert invoice(shop.invoice.id).paid_minor == 0
    [attempt] = attempts()
    assert (attempt.invoice_id, attempt.state, attempt.booked_minor) == (
        shop.invoice.id,
        "sent_for_processing",
        0,
    )
    [review] = reviews(ReviewKind.NOT_OURS)
    assert review.channel_id == shop.channel.id and reference in review.reason


def test_a_reference_recorded_for_another_channel_is_refused(shop: Shop) -> None:
    """A payment recorded under one channel (here without an invoice yet) is not booked
    when another channel, with the same API user, reports it for its own invoice."""
    reference = new_reference()
    with write_session() as session:
        session.add(
            PaymentAttempt(
                payment_reference=reference,
                channel_id=shop.channel.id,
                invoice_id=None,
                order_reference="elsewhere",
                state="sent_for_processing",
            )
        )
    second = make_channel()
    target = make_invoice(channel=second)

    applied = _apply(
        second.id, shop.answer(reference, state="settled", order_reference=target.number)
    )

    assert not applied.ours
    assert "already recorded for another channel or invoice" in applied.outcome
    assert invoice(target.id).paid_minor == 0
    [attempt] = attempts()
    assert (attempt.channel_id, attempt.booked_minor) == (shop.channel.id, 0)
    [review] = reviews(ReviewKind.NOT_OURS)
    assert review.channel_id == second.id and reference in review.reason
