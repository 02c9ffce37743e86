"""EveryPay's answers recorded a batch per transaction (shared/callbacks/answer_writer.py):
each caller still learns its own outcome, and one answer that cannot be recorded costs
nobody else their payment."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import respx
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlmodel import select

from shared.callbacks import answer_writer, counters, processing
from shared.callbacks.answer_writer import AnswerWriter, writer_index
from shared.callbacks.processing import ask_about, run_claimed_event
from shared.callbacks.queue import ClaimedEvent, claim_due_events
from shared.db import read_session, write_session
from shared.models import CallbackStatus, InvoiceStatus, LedgerEntry
from tests.callbacks.helpers import Shop, answer_with, event, invoice
from tests.utils.factories import make_invoice

ANSWERS = 6


def _claimed_payments(shop: Shop, api: respx.MockRouter) -> list[tuple[int, ClaimedEvent]]:
    """(invoice id, claimed callback) for ANSWERS issued invoices EveryPay says are paid."""
    invoices = [shop.invoice, *(make_invoice(channel=shop.channel) for _ in range(ANSWERS - 1))]
    by_reference = {}
    for inv in invoices:
        answer = shop.answer(order_reference=inv.number)
        answer_with(api, answer)
        shop.callback(answer["payment_reference"])
        by_reference[answer["payment_reference"]] = inv.id
    claimed: list[ClaimedEvent] = []
    # PostgreSQL claims one at a time (each claim skips rows others hold).
    while len(claimed) < ANSWERS and (more := claim_due_events(worker="test", limit=ANSWERS)):
        claimed += more
    assert len(claimed) == ANSWERS
    return [(by_reference[event.payment_reference], event) for event in claimed]


def _hand_over_together(writer: AnswerWriter, work: list) -> list:
    """Runs each callable (each hands the writer one answer) in a thread of its own; the
    writer starts once all of them wait, so their answers form one batch. Returns what
    each returned or raised, in order."""
    results: list = [None] * len(work)

    def run(index: int) -> None:
        try:
            results[index] = work[index]()
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for _ in range(500):
        if sum(answers.qsize() for answers in writer._queues) >= len(work):
            break
        threading.Event().wait(0.01)
    else:
        raise AssertionError(f"{len(work)} callers did not hand their answers over")
    writer.start()
    for thread in threads:
        thread.join(15)
    return results


@pytest.fixture
def queued_writer() -> Iterator[AnswerWriter]:
    # Room for every test answer in one batch, whatever the backend's default.
    writer = AnswerWriter(writers=1, max_batch=ANSWERS)
    yield writer
    writer.stop()


def test_answers_waiting_together_are_committed_in_one_transaction_each_caller_its_own(
    shop: Shop, api: respx.MockRouter, queued_writer: AnswerWriter
) -> None:
    payments = _claimed_payments(shop, api)
    answers = [ask_about(claimed, now=None) for _, claimed in payments]

    results = _hand_over_together(
        queued_writer, [lambda answer=answer: queued_writer.record(answer) for answer in answers]
    )

    assert queued_writer.batches_written == 1
    assert [result.result for result in results] == [counters.APPLIED] * ANSWERS
    assert all(result.money_moved for result in results)
    for invoice_id, claimed in payments:
        assert invoice(invoice_id).status == InvoiceStatus.PAID
        assert event(claimed.id).status == CallbackStatus.DONE


def _a_bug(session) -> None:
    raise RuntimeError("a bug in one booking")


def _a_database_error(session) -> None:
    # On PostgreSQL the transaction is aborted until the savepoint is rolled back.
    session.execute(text("SELECT * FROM no_such_table"))


@pytest.mark.parametrize("failure", [_a_bug, _a_database_error])
def test_an_answer_that_cannot_be_recorded_goes_back_on_the_queue_alone(
    shop: Shop, api: respx.MockRouter, queued_writer: AnswerWriter, monkeypatch, failure
) -> None:
    payments = _claimed_payments(shop, api)
    broken_invoice, broken_event = payments[2]
    apply = processing.apply_payment_status

    def apply_or_fail(session, **kwargs):
        applied = apply(session, **kwargs)  # the payment is booked in the savepoint…
        if kwargs["asked_reference"] == broken_event.payment_reference:
            failure(session)  # …and rolled back with it
        return applied

    monkeypatch.setattr(processing, "apply_payment_status", apply_or_fail)
    _hand_over_together(
        queued_writer,
        [
            lambda claimed=claimed: run_claimed_event(claimed, record=queued_writer.record)
            for _, claimed in payments
        ],
    )

    assert queued_writer.batches_written == 1
    assert invoice(broken_invoice).status != InvoiceStatus.PAID
    returned = event(broken_event.id)
    assert returned.status == CallbackStatus.PENDING
    assert returned.last_error.startswith("internal error: ")
    with read_session() as session:
        assert not session.exec(
            select(LedgerEntry).where(LedgerEntry.invoice_id == broken_invoice)
        ).all()
    for invoice_id, claimed in payments:
        if claimed.id != broken_event.id:
            assert invoice(invoice_id).status == InvoiceStatus.PAID
            assert event(claimed.id).status == CallbackStatus.DONE


def test_a_batch_whose_transaction_fails_writes_nothing_and_fails_every_caller(
    shop: Shop, api: respx.MockRouter, queued_writer: AnswerWriter, monkeypatch
) -> None:
    payments = _claimed_payments(shop, api)
    answers = [ask_about(claimed, now=None) for _, claimed in payments]

    @contextmanager
    def commit_refused():
        with write_session() as session:
            yield session
            raise OperationalError("COMMIT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(answer_writer, "write_session", commit_refused)
    results = _hand_over_together(
        queued_writer, [lambda answer=answer: queued_writer.record(answer) for answer in answers]
    )

    assert all(isinstance(result, OperationalError) for result in results)
    for invoice_id, claimed in payments:
        assert invoice(invoice_id).status != InvoiceStatus.PAID
        assert event(claimed.id).status == CallbackStatus.PROCESSING


def test_answers_about_one_payment_go_to_one_writer_and_every_writer_commits(
    shop: Shop, api: respx.MockRouter
) -> None:
    payments = _claimed_payments(shop, api)
    answers = [ask_about(claimed, now=None) for _, claimed in payments]
    references = [claimed.payment_reference for _, claimed in payments]
    # A duplicate is recorded after its original in the same writer, never beside it in
    # another one; different payments spread over the writers.
    for reference in references:
        index = writer_index(reference, writers=3)
        assert writer_index(reference.upper(), writers=3) == index
    assert len({writer_index(reference, writers=3) for reference in references}) > 1

    writer = AnswerWriter(writers=3, max_batch=ANSWERS + 1)
    try:
        results = _hand_over_together(
            writer,
            [lambda answer=answer: writer.record(answer) for answer in [*answers, answers[0]]],
        )
    finally:
        writer.stop()

    assert 2 <= writer.batches_written <= 3
    # The duplicate books nothing, whichever of the two came first.
    assert sum(result.money_moved for result in results) == ANSWERS
    assert {results[0].money_moved, results[-1].money_moved} == {True, False}
    for invoice_id, claimed in payments:
        assert invoice(invoice_id).status == InvoiceStatus.PAID
        assert event(claimed.id).status == CallbackStatus.DONE
    with read_session() as session:
        entries = session.exec(
            select(LedgerEntry).where(LedgerEntry.invoice_id == payments[0][0])
        ).all()
    assert len(entries) == 1
