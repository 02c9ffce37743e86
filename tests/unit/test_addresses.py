"""One source of truth for addresses: moving a port moves every link with it, a busy port is
refused before anything is written, and the service commands take --host/--port."""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from shared.channels import (
    ChannelInput,
    callback_url,
    channel_hosts,
    create_bank_account,
    credentials,
    save_linkpay_channel,
)
from shared.config import PROJECT_ROOT, get_settings
from shared.db import read_session, write_session
from shared.linkpay.links import invoice_pay_link
from shared.models import AccountType, Environment, Invoice, PaymentChannel
from tests.utils.callback_service import free_port, wait_until
from tests.utils.factories import make_invoice


def _use(monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(f"LINKPAY_{name}", value)
    get_settings.cache_clear()


def _channel(environment: str = Environment.SANDBOX) -> PaymentChannel:
    with write_session() as session:
        account = create_bank_account(
            session, actor="test", name="Merchant", account_type=AccountType.MERCHANT
        )
        return save_linkpay_channel(
            session,
            actor="test",
            bank_account_id=account.id,
            data=ChannelInput(
                link_token="abc123",
                api_username="demo-user",
                api_secret="demo-secret-123456",
                environment=environment,
                currency="EUR",
                url_fields=["transaction_amount", "order_reference"],
            ),
        )


def test_callback_urls_follow_the_callback_port_when_no_public_address_is_set(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(monkeypatch, CALLBACK_PORT="8123")
    channel = _channel()

    assert callback_url(channel).startswith("http://127.0.0.1:8123/callbacks/linkpay/")

    _use(monkeypatch, PUBLIC_BASE_URL="https://pay.example.lv")
    assert callback_url(channel).startswith("https://pay.example.lv/callbacks/linkpay/")


def test_a_sandbox_channel_follows_the_sandbox_to_its_new_port(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _use(monkeypatch, SANDBOX_PORT="8020")
    channel = _channel()
    invoice = make_invoice(channel=channel)

    _use(monkeypatch, SANDBOX_PORT="8765")

    with read_session() as session:
        stored = session.get(PaymentChannel, channel.id)
        link = invoice_pay_link(session, session.get(Invoice, invoice.id))
    assert link is not None and link.startswith("http://127.0.0.1:8765/lp")
    assert credentials(stored).api_base == "http://127.0.0.1:8765/api/v4"
    assert channel_hosts(stored) == ("http://127.0.0.1:8765/lp", "http://127.0.0.1:8765/api/v4")


CLI = (sys.executable, "-m", "shared.operations.cli")


@contextmanager
def _listening(port: int) -> Iterator[None]:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        yield


def _cli(*arguments: str, data_dir: Path, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKPAY_")}
    env["PYTHONPATH"] = str(PROJECT_ROOT)
    return subprocess.run(
        [*CLI, "--data-dir", str(data_dir), *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=data_dir.parent,
    )


def test_run_on_a_busy_port_says_which_flag_moves_it_and_writes_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    busy = free_port()
    with _listening(busy):
        done = _cli(
            "run",
            "--callback-port",
            str(busy),
            "--dashboard-port",
            str(free_port()),
            "--sandbox-port",
            str(free_port()),
            "--smtp-port",
            str(free_port()),
            data_dir=data_dir,
        )

    assert done.returncode == 3, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == [
        f"Port {busy} on 127.0.0.1 (callback-service) is in use: stop what uses it, or choose "
        "another with --callback-port (LINKPAY_CALLBACK_PORT)."
    ]
    assert not (data_dir / "linkpay.db").exists()
    assert not (data_dir / "sandbox.db").exists()


def test_sandbox_command_listens_where_its_port_flag_says(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKPAY_")}
    log = tmp_path / "sandbox.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*CLI, "--data-dir", str(tmp_path), "sandbox", "--port", str(port)],
            env={**env, "PYTHONPATH": str(PROJECT_ROOT)},
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )

    def answers() -> bool:
        assert process.poll() is None, log.read_text()
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_until(answers, timeout=30, message=f"the sandbox on port {port}")
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_callback_service_refuses_to_start_for_live_channels_behind_a_loopback_address(
    db: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from shared.operations.launcher import run_single

    _use(monkeypatch, CALLBACK_PORT=str(free_port()))
    _channel(Environment.LIVE)

    assert run_single("callback-service") == 3
    assert "live channel(s) need it for their callbacks" in capsys.readouterr().err


def test_a_public_address_that_does_not_lead_to_the_callback_service_is_warned_about(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKPAY_")}
    env |= {
        "PYTHONPATH": str(PROJECT_ROOT),
        "LINKPAY_PUBLIC_BASE_URL": f"http://127.0.0.1:{free_port()}",
    }
    process = subprocess.Popen(
        [*CLI, "--data-dir", str(tmp_path), "callback-service", "--port", str(free_port())],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert process.stderr is not None
        warning = next((line for line in process.stderr if line.startswith("WARNING:")), "(exited)")
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "does not reach it" in warning and "LINKPAY_PUBLIC_BASE_URL" in warning
