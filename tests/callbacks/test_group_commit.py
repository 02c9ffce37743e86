"""Group commit: a burst of callbacks shares transactions, and every request still gets its
own answer only after its own row is stored."""

import asyncio

import pytest
from sqlmodel import col, select

from shared.callbacks import group_commit
from shared.callbacks.group_commit import IntakeWriter
from shared.callbacks.intake import CallbackRequest, receive_callbacks
from shared.db import read_session
from shared.models import CallbackEvent, CallbackStatus, PaymentChannel
from tests.callbacks.helpers import Shop
from tests.utils.callback_service import new_reference


def _request(shop: Shop, reference: str, *, token: str | None = None) -> CallbackRequest:
    return CallbackRequest(
        channel_token=token or shop.token,
        params={"payment_reference": reference, "order_reference": shop.invoice.number or ""},
        http_method="GET",
        remote_addr="127.0.0.1",
    )


async def _burst(writer: IntakeWriter, requests: list[CallbackRequest]) -> list:
    return await asyncio.gather(
        *(writer.submit(request) for request in requests), return_exceptions=True
    )


def _stored() -> list[CallbackEvent]:
    with read_session() as session:
        return list(session.exec(select(CallbackEvent).order_by(col(CallbackEvent.id))).all())


def test_a_burst_is_stored_in_shared_transactions_each_answered_for_its_own_row(
    shop: Shop,
) -> None:
    references = [new_reference() for _ in range(300)]
    requests = [_request(shop, reference) for reference in references]
    requests[7] = _request(shop, "not a reference!")  # 400, still recorded
    requests[11] = _request(shop, new_reference(), token="no-such-channel-token")  # 404, not kept
    writer = IntakeWriter()
    try:
        results = asyncio.run(_burst(writer, requests))
    finally:
        writer.stop()

    statuses = [result.http_status for result in results]
    assert statuses.count(200) == 298
    assert (statuses[7], statuses[11]) == (400, 404)
    stored = {event.id: event for event in _stored()}
    assert len(stored) == 299
    for index, (request, result) in enumerate(zip(requests, results, strict=True)):
        if index == 11:
            continue
        event = stored[result.event_id]  # each answer names the row holding its callback
        assert event.payment_reference == request.params["payment_reference"][:64]
    assert stored[results[7].event_id].status == CallbackStatus.REJECTED
    assert results[11].event_id is None
    assert stored[results[0].event_id].status == CallbackStatus.PENDING
    # One commit time per transaction: the burst did not cost 300 of them.
    assert len({event.received_at for event in stored.values()}) < 100
    with read_session() as session:
        channel = session.get(PaymentChannel, shop.channel.id)
    assert channel is not None and channel.first_callback_at is not None


def test_one_unstorable_callback_fails_alone_and_its_neighbours_are_kept(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    poison = new_reference()

    def failing_on_poison(*, requests, max_wait_seconds):
        # Fault injection: the database refuses any transaction holding this row.
        if any(request.params["payment_reference"] == poison for request in requests):
            raise RuntimeError("the database refused the row")
        return receive_callbacks(requests=requests, max_wait_seconds=max_wait_seconds)

    monkeypatch.setattr(group_commit, "receive_callbacks", failing_on_poison)
    references = [new_reference() for _ in range(40)]
    references[20] = poison
    writer = IntakeWriter()
    try:
        results = asyncio.run(_burst(writer, [_request(shop, ref) for ref in references]))
    finally:
        writer.stop()

    # Answered 503 with a Retry-After (not 500): EveryPay sends it again.
    assert (results[20].http_status, results[20].event_id) == (503, None)
    assert results[20].retry_after_seconds is not None and results[20].retry_after_seconds >= 1
    assert all(result.http_status == 200 for i, result in enumerate(results) if i != 20)
    stored_references = {event.payment_reference for event in _stored()}
    assert stored_references == set(references) - {poison}


def test_stop_stores_what_is_already_queued(shop: Shop) -> None:
    writer = IntakeWriter()

    async def submit_then_stop() -> list:
        pending = [
            asyncio.ensure_future(writer.submit(_request(shop, new_reference()))) for _ in range(50)
        ]
        await asyncio.sleep(0)  # every request is queued before the service shuts down
        await asyncio.to_thread(writer.stop)
        return await asyncio.gather(*pending)

    results = asyncio.run(submit_then_stop())

    assert [result.http_status for result in results] == [200] * 50
    assert len(_stored()) == 50
    assert not writer.alive


def test_the_workers_are_woken_once_per_stored_batch_and_not_for_unknown_urls(
    shop: Shop,
) -> None:
    # Without the wake-up a stored callback waits for the workers' next poll; with one per
    # request a burst costs the handlers and the worker process a wake-up per callback.
    wakes: list[int] = []
    writer = IntakeWriter(on_stored=lambda: wakes.append(len(_stored())))
    try:
        asyncio.run(_burst(writer, [_request(shop, new_reference()) for _ in range(200)]))
        woken_by_burst = len(wakes)
        asyncio.run(_burst(writer, [_request(shop, new_reference(), token="no-such-token")]))
    finally:
        writer.stop()

    assert 1 <= woken_by_burst < 200
    assert wakes[-1] == 200  # the last wake-up came after every row was committed
    assert len(wakes) == woken_by_burst
