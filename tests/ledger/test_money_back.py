"""Refunds and chargebacks as money going back: EveryPay's answer reopens the invoice for
the amount, the customer is not dunned for it while it is under review, and finance
settles it with a credit note (or says the customer still owes it)."""

import threading
from datetime import timedelta

import pytest
from sqlmodel import select

from shared.callbacks.apply import apply_payment_status
from shared.db import read_session, write_session
from shared.errors import ValidationError
from shared.ledger.credit_notes import credit_note_lines, issue_credit_note
from shared.ledger.holds import collection_held_reason
from shared.linkpay.client import parse_payment
from shared.models import Invoice, InvoiceStatus, ReviewItem, ReviewKind, ReviewStatus, utcnow
from shared.reminders import send_due_reminders, set_reminders
from shared.review import (
    credit_money_back,
    dispute_chargeback,
    link_credit_note,
    money_back_options,
)
from tests.callbacks.helpers import Shop, make_shop
from tests.utils.callback_service import new_reference


@pytest.fixture
def shop(any_db: str) -> Shop:
    return make_shop()


def _answer(shop: Shop, reference: str, *, state: str, standing: str | None = None) -> str:
    """Applies EveryPay's answer about the payment as the callback worker does."""
    answer = parse_payment(
        shop.answer(reference, state=state, standing=standing), default_currency="EUR"
    )
    with write_session() as session:
        return apply_payment_status(
            session,
            channel_id=shop.channel.id,
            asked_reference=reference,
            answer=answer,
            asked_at=utcnow(),
            source="callback",
        ).outcome


def _invoice(shop: Shop) -> Invoice:
    with read_session() as session:
        return session.get(Invoice, shop.invoice.id)


def _item(kind: str) -> ReviewItem:
    with read_session() as session:
        return session.exec(select(ReviewItem).where(ReviewItem.kind == kind)).one()


def _held(shop: Shop) -> str | None:
    with read_session() as session:
        return collection_held_reason(session, invoice_id=shop.invoice.id)


def _overdue_with_reminders(shop: Shop) -> None:
    """Due 30 days ago with reminders on: today's run owes the customer a reminder."""
    with write_session() as session:
        invoice = session.get(Invoice, shop.invoice.id)
        invoice.due_date = utcnow().date() - timedelta(days=30)
        session.add(invoice)
    set_reminders(invoice_id=shop.invoice.id, enabled=True, actor="finance")


def test_refund_reopens_the_amount_holds_reminders_and_its_credit_note_settles_it(shop):
    reference = new_reference()
    _answer(shop, reference, state="settled")
    _overdue_with_reminders(shop)

    _answer(shop, reference, state="refunded", standing="81.00")

    refunded = _invoice(shop)
    assert (refunded.open_minor, refunded.returned_minor) == (4000, 4000)
    item = _item(ReviewKind.REFUND)
    assert item.amount_minor == 4000
    assert "went back to the payer" in item.reason and "credit note" in item.reason
    assert "40.00 EUR" in (_held(shop) or "")
    report = send_due_reminders(today=utcnow().date())
    assert report.sent == report.failed == 0
    assert [reason for reason in report.skipped if "held" in reason and "refund" in reason]

    options = money_back_options(review_id=item.id)
    assert options is not None and options.can_credit
    with write_session() as session:
        note = credit_money_back(session, actor="finance", review_id=item.id)
        [line] = credit_note_lines(session, credit_note_id=note.id)

    assert note.total_minor == 4000
    # The customer reads Latvian: the line says so in their language.
    assert (line.description, line.vat_rate, line.net_minor, line.vat_minor) == (
        f"Atmaksāts maksājums {reference}",
        "21",
        3306,
        694,
    )
    settled = _invoice(shop)
    assert (settled.open_minor, settled.credited_minor, settled.status) == (
        0,
        4000,
        InvoiceStatus.PAID,
    )
    assert _item(ReviewKind.REFUND).status == ReviewStatus.RESOLVED
    assert note.number in _item(ReviewKind.REFUND).resolution
    assert _held(shop) is None
    # A second click (another tab) issues nothing more.
    with write_session() as session, pytest.raises(ValidationError, match="already resolved"):
        credit_money_back(session, actor="finance", review_id=item.id)
    assert _invoice(shop).credited_minor == 4000


def test_a_refund_is_resolved_by_linking_a_credit_note_issued_by_hand(shop):
    reference = new_reference()
    _answer(shop, reference, state="settled")
    _answer(shop, reference, state="refunded", standing="0.00")
    item = _item(ReviewKind.REFUND)
    with write_session() as session:
        note = issue_credit_note(
            session, actor="finance", invoice_id=shop.invoice.id, reason="Refunded", full=True
        )
    assert money_back_options(review_id=item.id).credit_notes == (
        (note.id, f"{note.number} · 121.00 EUR"),
    )
    with write_session() as session:
        link_credit_note(session, actor="finance", review_id=item.id, credit_note_id=note.id)

    assert _held(shop) is None
    assert _invoice(shop).open_minor == 0
    assert _invoice(shop).status == InvoiceStatus.CREDITED


def test_accepting_a_chargeback_credits_what_went_back(shop):
    reference = new_reference()
    _answer(shop, reference, state="settled")
    _answer(shop, reference, state="chargebacked")
    item = _item(ReviewKind.CHARGEBACK)
    assert item.amount_minor == 12100 and _held(shop) is not None
    assert _invoice(shop).status == InvoiceStatus.ISSUED

    with write_session() as session:
        credit_money_back(session, actor="finance", review_id=item.id)

    closed = _invoice(shop)
    assert (closed.open_minor, closed.status) == (0, InvoiceStatus.CREDITED)
    assert _held(shop) is None


def test_disputing_a_chargeback_keeps_the_invoice_open_and_lifts_the_hold(shop):
    reference = new_reference()
    _answer(shop, reference, state="settled")
    _answer(shop, reference, state="chargebacked")
    item = _item(ReviewKind.CHARGEBACK)
    with write_session() as session, pytest.raises(ValidationError, match="still owes"):
        dispute_chargeback(session, actor="finance", review_id=item.id, comment=" ")

    with write_session() as session:
        dispute_chargeback(
            session, actor="finance", review_id=item.id, comment="Goods were delivered."
        )

    assert _invoice(shop).open_minor == 12100
    assert _invoice(shop).credited_minor == 0
    assert _held(shop) is None
    assert "still owes 121.00 EUR" in _item(ReviewKind.CHARGEBACK).resolution


def test_a_refund_of_money_never_booked_asks_for_no_credit_note(shop):
    reference = new_reference()
    _answer(shop, reference, state="refunded", standing="0.00")

    item = _item(ReviewKind.REFUND)
    assert "balance is unchanged" in item.reason
    assert _invoice(shop).open_minor == 12100
    options = money_back_options(review_id=item.id)
    assert options is not None and not options.can_credit
    with write_session() as session, pytest.raises(ValidationError, match="no credit note"):
        credit_money_back(session, actor="finance", review_id=item.id)


def test_two_people_crediting_one_refund_at_once_issue_one_credit_note(shop):
    reference = new_reference()
    _answer(shop, reference, state="settled")
    _answer(shop, reference, state="refunded", standing="81.00")
    item = _item(ReviewKind.REFUND)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def click() -> None:
        barrier.wait(timeout=30)
        try:
            with write_session() as session:
                outcomes.append(
                    credit_money_back(session, actor="finance", review_id=item.id).number
                )
        except ValidationError as error:
            outcomes.append(str(error))

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    number, refused = sorted(outcomes)
    assert number.startswith("KR-") and number.endswith("-0001")
    assert refused == "That exception is already resolved."
    assert (_invoice(shop).credited_minor, _invoice(shop).open_minor) == (4000, 0)
