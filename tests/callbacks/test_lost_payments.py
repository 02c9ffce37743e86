"""The lost-payment watch: a pay link opened long ago with no payment known since goes on
the exceptions queue once, and the item closes itself when the payment turns up."""

import threading
from datetime import timedelta

import pytest
import respx
from sqlalchemy import update

from shared.callbacks.lost_payments import (
    check_lost_payments,
    count_held_invoices,
    watch_pay_link_opened,
)
from shared.callbacks.processing import process_event
from shared.callbacks.reconciler import reconcile_once
from shared.config import get_settings
from shared.db import write_session
from shared.models import (
    FunnelEvent,
    FunnelStep,
    PaymentAttempt,
    ReviewKind,
    ReviewStatus,
    utcnow,
)
from tests.callbacks.helpers import Shop, answer_with, invoice, reviews
from tests.utils.callback_service import new_reference
from tests.utils.factories import post_payment


def _opened(shop: Shop, *, hours_ago: float) -> None:
    at = utcnow() - timedelta(hours=hours_ago)
    with write_session() as session:
        session.add(
            FunnelEvent(
                invoice_id=shop.invoice.id, step=FunnelStep.LINK_OPENED, detail="pay", at=at
            )
        )
    watch_pay_link_opened(invoice_id=shop.invoice.id, at=at)


def test_a_pay_link_opened_a_day_ago_with_no_payment_goes_on_the_queue_once(shop: Shop) -> None:
    _opened(shop, hours_ago=25)

    report = reconcile_once()

    [item] = reviews(ReviewKind.LOST_PAYMENT)
    assert item.invoice_id == shop.invoice.id and item.status == ReviewStatus.OPEN
    assert item.amount_minor == shop.invoice.open_minor
    assert shop.invoice.number in item.reason and "Find payment" in item.reason
    assert "Reminders for this invoice are held" in item.reason
    assert report.lost_payments.flagged and "Lost-payment check: 1 invoice" in str(report)
    assert invoice(shop.invoice.id).pay_link_opened_at is None
    assert count_held_invoices() == 1
    # The next passes, and a later opening while the item is open, add nothing.
    _opened(shop, hours_ago=24.5)
    reconcile_once()
    assert len(reviews(ReviewKind.LOST_PAYMENT)) == 1


def test_nothing_is_flagged_before_the_setting_s_hours_have_passed(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    _opened(shop, hours_ago=3)
    assert check_lost_payments().flagged == []
    assert invoice(shop.invoice.id).pay_link_opened_at is not None

    monkeypatch.setenv("LINKPAY_LOST_PAYMENT_AFTER_HOURS", "2")
    get_settings.cache_clear()
    assert len(check_lost_payments().flagged) == 1


def test_a_payment_seen_after_the_opening_means_nothing_is_lost(
    shop: Shop, api: respx.MockRouter
) -> None:
    _opened(shop, hours_ago=30)
    reference = new_reference()
    answer_with(api, shop.answer(reference, state="failed"))
    process_event(shop.callback(reference))
    # The attempt is known since the opening: seen now, 30 hours after the opening.
    with write_session() as session:
        session.exec(update(PaymentAttempt).values(created_at=utcnow() - timedelta(hours=29)))
    opened_later = utcnow() - timedelta(hours=1)
    with write_session() as session:
        session.add(
            FunnelEvent(
                invoice_id=shop.invoice.id,
                step=FunnelStep.LINK_OPENED,
                detail="pay",
                at=opened_later,
            )
        )

    report = check_lost_payments()

    assert report.flagged == [] and reviews(ReviewKind.LOST_PAYMENT) == []
    # The watch moves on to the first opening after that payment.
    assert invoice(shop.invoice.id).pay_link_opened_at == opened_later


def test_a_paid_invoice_is_not_flagged(shop: Shop) -> None:
    _opened(shop, hours_ago=48)
    with write_session() as session:
        post_payment(session, invoice_id=shop.invoice.id, amount_minor=shop.invoice.total_minor)

    assert check_lost_payments().flagged == []
    assert reviews(ReviewKind.LOST_PAYMENT) == []
    assert invoice(shop.invoice.id).pay_link_opened_at is None


def test_the_item_closes_itself_when_the_payment_turns_up(
    shop: Shop, api: respx.MockRouter
) -> None:
    _opened(shop, hours_ago=26)
    check_lost_payments()
    [item] = reviews(ReviewKind.LOST_PAYMENT)
    # A late callback (EveryPay's sixth delivery comes after 72 hours) brings the payment.
    reference = new_reference()
    answer_with(api, shop.answer(reference, state="settled"))
    process_event(shop.callback(reference))

    report = check_lost_payments()

    [item] = reviews(ReviewKind.LOST_PAYMENT)
    assert item.status == ReviewStatus.RESOLVED and item.resolved_by == "system"
    assert shop.invoice.number in item.resolution and "paid" in item.resolution
    assert report.resolved and count_held_invoices() == 0


def test_two_checks_at_once_file_one_item_and_neither_fails(shop: Shop) -> None:
    _opened(shop, hours_ago=25)
    start = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def check() -> None:
        start.wait()
        try:
            results.append(len(check_lost_payments().flagged))
        except BaseException as error:  # reported below, with the test's failure
            errors.append(error)

    threads = [threading.Thread(target=check) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == [] and sorted(results) == [0, 1]
    assert len(reviews(ReviewKind.LOST_PAYMENT)) == 1
