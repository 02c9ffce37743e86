"""The service as real processes (``python -m callback_service``): killed mid-work, and
several of them sharing one database. Nothing may be lost and nothing paid twice."""

import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from shared.models import CallbackStatus, InvoiceStatus
from tests.callbacks.helpers import (
    Shop,
    attempts,
    event,
    invoice,
    make_shop,
    payment_audits,
)
from tests.utils.callback_service import (
    FakeEveryPay,
    running_fake_everypay,
    running_service_process,
    wait_until,
)

pytestmark = pytest.mark.slow

# A short lease so the restarted service may take over the dead one's claim quickly.
SERVICE_ENV = {"LINKPAY_WORKER_LEASE_SECONDS": "2", "LINKPAY_LOG_LEVEL": "INFO"}


@pytest.fixture
def everypay(any_db: str) -> Iterator[FakeEveryPay]:
    with running_fake_everypay() as fake:
        yield fake


def _callback(base_url: str, shop: Shop, reference: str) -> httpx.Response:
    return httpx.get(
        f"{base_url}/callbacks/linkpay/{shop.token}",
        params={"payment_reference": reference, "order_reference": shop.invoice.number},
        timeout=30,
    )


def test_killed_while_asking_everypay_the_restarted_service_pays_once(
    everypay: FakeEveryPay, tmp_path: Path
) -> None:
    shop = make_shop(api_base=everypay.url)
    reference = everypay.add(shop.answer())
    everypay.set_mode("hang")  # EveryPay does not answer: the worker is stuck mid-call
    log_path = tmp_path / "service.log"

    with running_service_process(log_path=log_path, env=SERVICE_ENV) as service:
        response = _callback(service.base_url, shop, reference)
        assert response.status_code == 200
        event_id = 1
        wait_until(
            lambda: event(event_id).status == CallbackStatus.PROCESSING,
            message="a worker to claim the callback",
        )
        os.kill(service.process.pid, signal.SIGKILL)
        service.process.wait(timeout=10)

    assert invoice(shop.invoice.id).status == InvoiceStatus.ISSUED
    everypay.set_mode("up")
    with running_service_process(log_path=log_path, env=SERVICE_ENV):
        wait_until(
            lambda: invoice(shop.invoice.id).status == InvoiceStatus.PAID,
            timeout=20,
            message="the restarted service to apply the callback",
        )
        wait_until(lambda: event(event_id).status == CallbackStatus.DONE, message="event done")

    assert invoice(shop.invoice.id).paid_minor == 12100
    assert len(attempts()) == 1
    assert len(payment_audits(shop.invoice.id)) == 1
    log = log_path.read_text()
    assert "/callbacks/linkpay/***" in log  # the access log is on…
    assert shop.token not in log  # …and never shows the Callback URL's secret


def test_two_service_processes_share_the_work_and_pay_once(
    everypay: FakeEveryPay, tmp_path: Path
) -> None:
    shop = make_shop(api_base=everypay.url)
    reference = everypay.add(shop.answer())

    with (
        running_service_process(log_path=tmp_path / "a.log", env=SERVICE_ENV) as first,
        running_service_process(log_path=tmp_path / "b.log", env=SERVICE_ENV) as second,
    ):
        targets = [first.base_url, second.base_url] * 15
        with ThreadPoolExecutor(max_workers=10) as pool:
            statuses = list(
                pool.map(lambda url: _callback(url, shop, reference).status_code, targets)
            )
        wait_until(
            lambda: all(event(i).status == CallbackStatus.DONE for i in range(1, 31)),
            timeout=20,
            message="all callbacks processed",
        )

    assert statuses == [200] * 30
    paid = invoice(shop.invoice.id)
    assert (paid.status, paid.paid_minor) == (InvoiceStatus.PAID, 12100)
    assert len(attempts()) == 1
    assert len(payment_audits(shop.invoice.id)) == 1
    for log in (tmp_path / "a.log", tmp_path / "b.log"):
        assert "database is locked" not in log.read_text()
        assert "Traceback" not in log.read_text()


def _background_pids(service_pid: int) -> list[int]:
    """The service's child processes (its background worker process), whichever of its
    threads started them."""
    pids: list[int] = []
    for children in Path(f"/proc/{service_pid}/task").glob("*/children"):
        try:
            pids += [int(pid) for pid in children.read_text().split()]
        except OSError:
            continue  # that thread ended meanwhile
    return [pid for pid in pids if _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return status.exists() and "State:\tZ" not in status.read_text()


def test_a_dead_worker_process_is_replaced_and_a_killed_service_takes_it_along(
    everypay: FakeEveryPay, tmp_path: Path
) -> None:
    shop = make_shop(api_base=everypay.url)
    reference = everypay.add(shop.answer())

    with running_service_process(log_path=tmp_path / "service.log", env=SERVICE_ENV) as service:
        wait_until(lambda: len(_background_pids(service.process.pid)) == 1, message="worker")
        [first] = _background_pids(service.process.pid)
        os.kill(first, signal.SIGKILL)
        wait_until(
            lambda: _background_pids(service.process.pid) not in ([], [first]),
            timeout=15,
            message="a new worker process",
        )
        # The new worker applies callbacks as the first one did.
        assert _callback(service.base_url, shop, reference).status_code == 200
        wait_until(
            lambda: invoice(shop.invoice.id).status == InvoiceStatus.PAID,
            timeout=15,
            message="the replacement worker to apply the callback",
        )
        [second] = _background_pids(service.process.pid)
        os.kill(service.process.pid, signal.SIGKILL)
        service.process.wait(timeout=10)
        # No orphan keeps working (or holding claims) after its service crashed.
        wait_until(lambda: not _alive(second), timeout=10, message="the worker to die too")

    assert "starting it again" in (tmp_path / "service.log").read_text()


def test_the_background_process_yields_the_cpu_to_the_service(tmp_path: Path) -> None:
    """Acknowledging EveryPay comes first when the cores are short: the workers' process
    runs at the configured lower priority, the service at its own."""
    with running_service_process(
        log_path=tmp_path / "service.log", env={"LINKPAY_BACKGROUND_NICE": "7"}
    ) as service:
        wait_until(lambda: len(_background_pids(service.process.pid)) == 1, message="worker")
        [worker] = _background_pids(service.process.pid)
        service_nice = os.getpriority(os.PRIO_PROCESS, service.process.pid)
        wait_until(
            lambda: os.getpriority(os.PRIO_PROCESS, worker) == service_nice + 7,
            message="the worker process to lower its priority",
        )
