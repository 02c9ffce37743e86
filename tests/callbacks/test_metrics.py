"""/metrics gives monitoring the numbers /health has, in Prometheus' text format, and counts
this process's callback answers by status."""

from datetime import timedelta

import respx
from fastapi.testclient import TestClient
from sqlalchemy import update

from callback_service.app import create_app
from shared.callbacks.processing import process_event
from shared.callbacks.reconciler import reconcile_once
from shared.callbacks.worker import beat, heartbeat_name
from shared.db import read_session, write_session
from shared.models import PaymentAttempt, WorkerHeartbeat, utcnow
from tests.callbacks.helpers import Shop, answer_with, make_shop
from tests.utils.callback_service import new_reference


def _samples(text: str) -> dict[str, float]:
    """name{labels} → value, for every sample line."""
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


def test_metrics_count_answers_and_report_the_waiting_callbacks(db: str) -> None:
    shop: Shop = make_shop()
    with TestClient(create_app(start_background=False)) as client:
        url = f"/callbacks/linkpay/{shop.token}"
        order = {"order_reference": shop.invoice.number}
        for _ in range(2):
            stored = client.get(url, params={**order, "payment_reference": new_reference()})
            assert stored.status_code == 200
        assert client.get(url, params={**order, "payment_reference": "not-hex"}).status_code == 400
        assert client.get("/callbacks/linkpay/unknown-token-123", params=order).status_code == 404

        response = client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = _samples(response.text)
    assert samples['linkpay_callback_requests_total{status="200"}'] == 2
    assert samples['linkpay_callback_requests_total{status="400"}'] == 1
    assert samples['linkpay_callback_requests_total{status="404"}'] == 1
    assert samples["linkpay_database_up"] == 1
    assert samples["linkpay_callback_backlog"] == 2
    assert samples["linkpay_callback_oldest_pending_seconds"] >= 0
    assert "# TYPE linkpay_callback_requests_total counter" in response.text


def test_metrics_say_when_callbacks_wait_on_a_failing_gateway(db: str) -> None:
    shop = make_shop()  # its API base answers nothing: every try fails
    event_id = shop.callback(new_reference())
    process_event(event_id)

    with TestClient(create_app(start_background=False)) as client:
        samples = _samples(client.get("/metrics").text)

    assert samples["linkpay_callback_retrying"] == 1
    assert samples["linkpay_degraded"] == 1


def _worker_samples(client: TestClient, worker: str) -> dict[str, float]:
    label = f'worker="{worker}"'
    return {
        name: value
        for name, value in _samples(client.get("/metrics").text).items()
        if label in name
    }


def test_metrics_show_what_each_worker_process_did_through_its_heartbeat(
    shop: Shop, api: respx.MockRouter
) -> None:
    # The worker runs in another process in production: what it counts reaches /metrics
    # only through the heartbeat row it writes.
    worker = heartbeat_name().partition("@")[2]
    beat()
    with TestClient(create_app(start_background=False)) as client:
        before = _worker_samples(client, worker)
        paid = shop.answer()
        answer_with(api, paid)
        unknown = new_reference()
        api.get(f"/payments/{unknown}").respond(404, json={"error": {"code": 4004}})
        process_event(shop.callback(paid["payment_reference"]))
        process_event(shop.callback(unknown))
        unchanged = _worker_samples(client, worker)
        beat()
        after = _worker_samples(client, worker)

    def grew(name: str) -> float:
        return after.get(name, 0) - before.get(name, 0)

    assert unchanged == before  # nothing is reported before the worker's next heartbeat
    assert grew(f'linkpay_worker_callbacks_total{{worker="{worker}",result="applied"}}') == 1
    assert (
        grew(f'linkpay_worker_callbacks_total{{worker="{worker}",result="unknown_reference"}}') == 1
    )
    assert grew(f'linkpay_worker_bookings_total{{worker="{worker}"}}') == 1
    assert grew(f'linkpay_everypay_api_calls_total{{worker="{worker}",outcome="ok"}}') == 1
    assert grew(f'linkpay_everypay_api_calls_total{{worker="{worker}",outcome="not_found"}}') == 1
    assert grew(f'linkpay_everypay_api_seconds_total{{worker="{worker}"}}') > 0


def test_the_reconcilers_look_ups_and_bookings_count_with_the_workers(
    shop: Shop, api: respx.MockRouter
) -> None:
    worker = heartbeat_name().partition("@")[2]
    reference = new_reference()
    answer_with(api, shop.answer(reference, state="sent_for_processing"))
    process_event(shop.callback(reference))
    beat()
    with TestClient(create_app(start_background=False)) as client:
        before = _worker_samples(client, worker)
        # The bank confirms; EveryPay's callback about it is lost: the reconciler books it.
        answer_with(api, shop.answer(reference, state="settled"))
        with write_session() as session:
            session.exec(update(PaymentAttempt).values(next_check_at=utcnow()))
        assert reconcile_once().payments_checked == 1
        beat()
        after = _worker_samples(client, worker)

    def grew(name: str) -> float:
        return after.get(name, 0) - before.get(name, 0)

    assert grew(f'linkpay_everypay_api_calls_total{{worker="{worker}",outcome="ok"}}') == 1
    assert grew(f'linkpay_worker_bookings_total{{worker="{worker}"}}') == 1
    assert grew(f'linkpay_worker_callbacks_total{{worker="{worker}",result="applied"}}') == 0


def test_a_worker_process_that_stopped_beating_is_not_reported_and_its_row_goes(
    any_db: str,
) -> None:
    gone = "callback-worker@old-host:4242"
    with write_session() as session:
        session.add(
            WorkerHeartbeat(
                name=gone,
                beat_at=utcnow() - timedelta(hours=2),
                counters={"callbacks": {"applied": 7}, "bookings": 7},
            )
        )
    with TestClient(create_app(start_background=False)) as client:
        assert _worker_samples(client, "old-host:4242") == {}

    beat()

    with read_session() as session:
        assert session.get(WorkerHeartbeat, gone) is None
        assert session.get(WorkerHeartbeat, heartbeat_name()) is not None
