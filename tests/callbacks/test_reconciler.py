"""The reconciler: lost callbacks, unfinished payments and crashed workers are caught up."""

from datetime import timedelta

import respx
from sqlalchemy import update
from sqlmodel import col, select

from shared.callbacks.processing import process_event
from shared.callbacks.reconciler import reconcile_attempt, reconcile_once
from shared.db import read_session, write_session
from shared.models import (
    AuditLog,
    CallbackEvent,
    CallbackStatus,
    InvoiceStatus,
    PaymentAttempt,
    ReviewKind,
    utcnow,
)
from tests.callbacks.helpers import Shop, answer_with, attempts, event, invoice, reviews
from tests.utils.callback_service import new_reference


def _checks_due_now() -> None:
    with write_session() as session:
        session.exec(update(PaymentAttempt).values(next_check_at=utcnow()))


def test_a_pending_payment_is_paid_when_the_callback_for_settled_never_comes(
    shop: Shop, api: respx.MockRouter
) -> None:
    reference = new_reference()
    answer_with(api, shop.answer(reference, state="sent_for_processing"))
    process_event(shop.callback(reference))
    # The bank confirms; EveryPay's callback about it is lost.
    answer_with(api, shop.answer(reference, state="settled"))
    _checks_due_now()

    report = reconcile_once()

    assert invoice(shop.invoice.id).status == InvoiceStatus.PAID
    assert report.payments_checked == 1
    assert f"{shop.invoice.number}: payment settled" in str(report)
    [attempt] = attempts()
    assert (attempt.is_final, attempt.next_check_at) == (True, None)
    # Final now: the next pass leaves it alone.
    assert reconcile_once().payments_checked == 0


def test_nothing_is_asked_before_the_next_check_is_due(shop: Shop, api: respx.MockRouter) -> None:
    reference = new_reference()
    route = answer_with(api, shop.answer(reference, state="waiting_for_sca"))
    process_event(shop.callback(reference))

    report = reconcile_once()

    assert report.payments_checked == 0
    assert route.call_count == 1


def test_a_callback_left_behind_by_a_crashed_worker_is_processed(
    shop: Shop, api: respx.MockRouter
) -> None:
    answer = shop.answer()
    answer_with(api, answer)
    event_id = shop.callback(answer["payment_reference"])
    # A worker claimed it and died: the claim's lease ran out a moment ago.
    with write_session() as session:
        session.exec(
            update(CallbackEvent)
            .where(col(CallbackEvent.id) == event_id)
            .values(
                status=CallbackStatus.PROCESSING,
                claimed_by="worker@dead-host:1.1",
                claimed_until=utcnow() - timedelta(seconds=1),
                attempts=1,
            )
        )

    report = reconcile_once()

    assert report.callbacks_processed == 1
    assert event(event_id).status == CallbackStatus.DONE
    assert invoice(shop.invoice.id).status == InvoiceStatus.PAID


def test_a_live_claim_is_not_taken_over(shop: Shop, api: respx.MockRouter) -> None:
    answer = shop.answer()
    route = answer_with(api, answer)
    event_id = shop.callback(answer["payment_reference"])
    with write_session() as session:
        session.exec(
            update(CallbackEvent)
            .where(col(CallbackEvent.id) == event_id)
            .values(
                status=CallbackStatus.PROCESSING,
                claimed_by="worker@busy-host:1.1",
                claimed_until=utcnow() + timedelta(seconds=60),
            )
        )

    assert reconcile_once().callbacks_processed == 0
    assert "being processed" in process_event(event_id)
    assert route.call_count == 0


def test_a_payment_pending_for_over_an_hour_goes_to_review(
    shop: Shop, api: respx.MockRouter
) -> None:
    reference = new_reference()
    started = (utcnow() - timedelta(hours=2)).isoformat()
    answer_with(api, shop.answer(reference, state="waiting_for_3ds_response", created_at=started))
    process_event(shop.callback(reference))
    _checks_due_now()
    reconcile_once()

    [item] = reviews(ReviewKind.STUCK_PENDING)
    assert item.invoice_id == shop.invoice.id
    [attempt] = attempts()
    # Old pending payments are asked about less often, but still asked.
    assert utcnow() + timedelta(minutes=4) < attempt.next_check_at < utcnow() + timedelta(hours=1)


def test_gateway_trouble_is_reported_and_the_check_postponed(
    shop: Shop, api: respx.MockRouter
) -> None:
    reference = new_reference()
    route = answer_with(api, shop.answer(reference, state="authorised"))
    process_event(shop.callback(reference))
    route.respond(503)
    _checks_due_now()

    report = reconcile_once()

    assert report.problems and "HTTP 503" in report.problems[0]
    assert attempts()[0].next_check_at > utcnow()
    assert invoice(shop.invoice.id).status == InvoiceStatus.ISSUED


def test_reconcile_now_from_the_dashboard_is_audited(shop: Shop, api: respx.MockRouter) -> None:
    reference = new_reference()
    answer_with(api, shop.answer(reference, state="sent_for_processing"))
    process_event(shop.callback(reference))
    answer_with(api, shop.answer(reference, state="settled"))
    [attempt] = attempts()

    text = reconcile_attempt(attempt_id=attempt.id, actor="finance")

    assert "invoice paid" in text
    assert invoice(shop.invoice.id).status == InvoiceStatus.PAID
    with read_session() as session:
        [entry] = session.exec(
            select(AuditLog).where(AuditLog.action == "payment_attempt.reconcile")
        ).all()
    assert (entry.actor, entry.entity_id, entry.outcome) == ("finance", str(attempt.id), "ok")
    assert "does not exist" in reconcile_attempt(attempt_id=9999, actor="finance")
