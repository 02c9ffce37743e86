"""The booking path as the callback worker runs it: each callback keeps when it was
claimed, answered and booked (where its time went), and booking a payment costs few
statements inside the write lock (SQLite has one writer: every statement there delays
every other callback)."""

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import respx
from sqlalchemy import event as sa_event

from shared.callbacks.processing import ask_about, record_alone
from shared.callbacks.queue import claim_event
from shared.db import get_engine
from shared.models import CallbackStatus, InvoiceStatus, utcnow
from tests.callbacks.helpers import Shop, answer_with, attempts, channel, event, invoice

# Measured with benchmarks/booking_profile.py: 18 before the booking path was slimmed
# (13 now, plus marking the channel's first settled payment).
MAX_STATEMENTS_PER_BOOKING = 14


@contextmanager
def counted_statements() -> Iterator[Counter[str]]:
    counts: Counter[str] = Counter()

    def count(_conn, _cursor, statement, _params, _context, _many) -> None:
        verb = statement.split(None, 1)[0].upper()
        if verb in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            counts[verb] += 1

    engine = get_engine()
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        yield counts
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)


def test_a_callback_keeps_when_it_was_claimed_answered_and_booked(
    shop: Shop, api: respx.MockRouter
) -> None:
    answer = shop.answer(state="settled", amount="121.00")
    called_at = []

    def everypay(request):
        called_at.append(utcnow())
        return respx.MockResponse(json=answer)

    api.get(f"/payments/{answer['payment_reference']}").mock(side_effect=everypay)
    stored = shop.callback(answer["payment_reference"])

    claimed = claim_event(event_id=stored, worker="test")
    assert claimed is not None
    record_alone(ask_about(claimed, now=None))

    done = event(stored)
    assert done.status == CallbackStatus.DONE
    assert done.claimed_at is not None and done.answered_at is not None
    assert done.processed_at is not None
    assert done.received_at <= done.claimed_at <= called_at[0]
    assert called_at[0] <= done.answered_at <= done.processed_at


def test_a_new_settled_payment_is_booked_with_few_statements_and_exactly_once(
    shop: Shop, api: respx.MockRouter
) -> None:
    answer = shop.answer(state="settled", amount="121.00")
    answer_with(api, answer)
    first = claim_event(event_id=shop.callback(answer["payment_reference"]), worker="test")
    assert first is not None

    everypay_says = ask_about(first, now=None)
    with counted_statements() as counts:
        recorded = record_alone(everypay_says)

    assert recorded.money_moved is True
    assert sum(counts.values()) <= MAX_STATEMENTS_PER_BOOKING, counts
    paid = invoice(shop.invoice.id)
    assert (paid.status, paid.paid_minor, paid.open_minor) == (InvoiceStatus.PAID, 12100, 0)
    [attempt] = attempts()
    assert (attempt.booked_minor, attempt.state, attempt.is_final) == (12100, "settled", True)
    assert channel(shop.channel.id).first_settled_at is not None

    # A redelivery takes the path for a known attempt and books nothing more.
    again = claim_event(event_id=shop.callback(answer["payment_reference"]), worker="test")
    assert again is not None
    assert record_alone(ask_about(again, now=None)).money_moved is False
    assert invoice(shop.invoice.id).paid_minor == 12100
    assert [a.booked_minor for a in attempts()] == [12100]
