"""`linkpay-desk run` supervises its services: one dies, all stop, the exit code says so."""

import os
import signal
import subprocess
import sys

import httpx
import pytest

from tests.utils.sandbox_server import free_port, wait_until


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _children(parent: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True)
    return [int(pid) for pid in out.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited but is not yet reaped by its parent.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def _cmdline(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as handle:
        return handle.read()


@pytest.fixture
def stack(isolated_settings, monkeypatch):
    ports = {name: free_port() for name in ("DASHBOARD", "CALLBACK", "SANDBOX", "SMTP")}
    env = dict(os.environ)
    for name, port in ports.items():
        env[f"LINKPAY_{name}_PORT"] = str(port)
    env["LINKPAY_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{ports['CALLBACK']}"
    process = subprocess.Popen(
        [sys.executable, "-m", "shared.operations.cli", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until(lambda: _answers(f"http://127.0.0.1:{ports['CALLBACK']}/health"), timeout=60)
        wait_until(lambda: _answers(f"http://127.0.0.1:{ports['SANDBOX']}/health"), timeout=30)
        wait_until(
            lambda: _answers(f"http://127.0.0.1:{ports['DASHBOARD']}/_stcore/health"), timeout=60
        )
        yield process, ports
    finally:
        if process.poll() is None:
            process.kill()
        for child in _children(process.pid):
            os.kill(child, signal.SIGKILL)


@pytest.mark.slow
def test_one_service_dying_stops_the_others_with_a_non_zero_exit(stack):
    process, ports = stack
    children = _children(process.pid)
    assert len(children) == 4  # demo mail, sandbox, callback service, dashboard
    sandbox = next(pid for pid in children if b"sandbox" in _cmdline(pid))
    os.kill(sandbox, signal.SIGKILL)
    assert process.wait(timeout=30) != 0
    output = process.stdout.read()
    assert "sandbox stopped" in output
    assert "finance" in output and "finance-demo-1" in output  # the demo login is printed
    wait_until(lambda: not any(_alive(pid) for pid in children), timeout=15)
    assert not _answers(f"http://127.0.0.1:{ports['CALLBACK']}/health")


@pytest.mark.slow
def test_sigterm_stops_everything_cleanly(stack):
    process, ports = stack
    children = _children(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0
    wait_until(lambda: not any(_alive(pid) for pid in children), timeout=15)
    assert not _answers(f"http://127.0.0.1:{ports['DASHBOARD']}/_stcore/health")
