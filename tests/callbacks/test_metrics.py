"""/metrics gives monitoring the numbers /health has, in Prometheus' text format, and counts
this process's callback answers by status."""

from fastapi.testclient import TestClient

from callback_service.app import create_app
from shared.callbacks.processing import process_event
from tests.callbacks.helpers import Shop, make_shop
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
