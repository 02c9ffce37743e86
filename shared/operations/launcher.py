"""Starts the three services (and the demo mail server) as child processes and supervises
them: if one dies, the others are stopped and the exit code says so."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from ipaddress import ip_address

from shared.config import PROJECT_ROOT, Settings, get_settings
from shared.security import current_keyring

DEMO_LOGINS = (
    ("admin", "admin-demo-1"),
    ("finance", "finance-demo-1"),
    ("manager", "manager-demo-1"),
)


# Exit codes of every command, as the README's table lists them.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ENVIRONMENT = 0, 1, 2, 3


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]
    url: str
    host: str = ""
    port: int = 0
    port_setting: str = ""


def services(settings: Settings, *, with_demo_smtp: bool) -> list[Service]:
    python = sys.executable
    found = [
        Service(
            "sandbox",
            [
                python,
                "-m",
                "sandbox",
                "--host",
                settings.sandbox_host,
                "--port",
                str(settings.sandbox_port),
                "--store",
                str(settings.data_dir / "sandbox.db"),
            ],
            settings.resolved_sandbox_public_url,
            settings.sandbox_host,
            settings.sandbox_port,
            "sandbox-port",
        ),
        Service(
            "callback-service",
            [python, "-m", "callback_service"],
            settings.public_base_url,
            settings.callback_host,
            settings.callback_port,
            "callback-port",
        ),
        Service(
            "dashboard",
            [
                python,
                "-m",
                "streamlit",
                "run",
                str(PROJECT_ROOT / "dashboard" / "desk_app.py"),
                "--server.address",
                settings.dashboard_host,
                "--server.port",
                str(settings.dashboard_port),
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
                "--client.toolbarMode",
                "minimal",
                # Per-click overhead: see .streamlit/config.toml for why these two are off.
                "--runner.postScriptGC",
                "false",
                "--server.fileWatcherType",
                "none",
            ],
            settings.resolved_dashboard_base_url,
            settings.dashboard_host,
            settings.dashboard_port,
            "dashboard-port",
        ),
    ]
    if with_demo_smtp:
        found.insert(
            0,
            Service(
                "demo-mail",
                [
                    python,
                    "-m",
                    "shared.operations.demo_smtp",
                    "--host",
                    settings.smtp_host,
                    "--port",
                    str(settings.smtp_port),
                ],
                f"smtp://{settings.smtp_host}:{settings.smtp_port}",
                settings.smtp_host,
                settings.smtp_port,
                "smtp-port",
            ),
        )
    return found


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # SO_REUSEADDR as the servers themselves bind: a port in TIME_WAIT is free to them.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def busy_ports(selected: list[Service]) -> list[str]:
    """One line per service whose port is taken, naming the flag and setting that move it."""
    return [
        f"Port {service.port} on {service.host} ({service.name}) is in use: stop what uses it, "
        f"or choose another with --{service.port_setting} "
        f"(LINKPAY_{service.port_setting.replace('-', '_').upper()})."
        for service in selected
        if service.port and _port_in_use(service.host, service.port)
    ]


def _refuse_busy_ports(selected: list[Service]) -> bool:
    problems = busy_ports(selected)
    for line in problems:
        print(line, file=sys.stderr)
    return bool(problems)


def is_loopback_url(url: str) -> bool:
    import httpx

    host = httpx.URL(url).host
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def live_channels_behind_loopback(settings: Settings) -> str | None:
    """Why the callback service must not start: live EveryPay cannot call a loopback
    address, so every live payment's callbacks would be lost."""
    from sqlmodel import col, select

    from shared.db import read_session
    from shared.models import Environment, PaymentChannel

    if not is_loopback_url(settings.public_base_url):
        return None
    with read_session() as session:
        live = session.exec(
            select(PaymentChannel.name)
            .where(PaymentChannel.environment == Environment.LIVE)
            .where(col(PaymentChannel.active).is_(True))
        ).all()
    if not live:
        return None
    return (
        f"LINKPAY_PUBLIC_BASE_URL is {settings.public_base_url}, which EveryPay cannot reach, "
        f"and {len(live)} live channel(s) need it for their callbacks: set it to the public "
        "HTTPS address in front of the callback service."
    )


def _warn_if_public_address_leads_elsewhere(settings: Settings) -> None:
    """Once the callback service answers on its own address, its public address must lead
    to it too; otherwise EveryPay's callbacks go nowhere and payments stay unpaid."""
    import httpx

    own = f"http://{settings.callback_host}:{settings.callback_port}/health"
    public = f"{settings.public_base_url.rstrip('/')}/health"
    if own == public:
        return
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(own, timeout=2)
            break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        return  # the service did not come up; the supervisor reports that
    try:
        answered = httpx.get(public, timeout=5).status_code in (200, 503)
    except httpx.HTTPError:
        answered = False
    if not answered:
        print(
            f"\nWARNING: the callback service runs, but {public} does not reach it. "
            "EveryPay's callbacks and the customers' invoice links use LINKPAY_PUBLIC_BASE_URL: "
            "fix it, or payments will not be marked paid.\n",
            file=sys.stderr,
            flush=True,
        )


def _check_public_address_in_background(settings: Settings) -> None:
    threading.Thread(
        target=_warn_if_public_address_leads_elsewhere, args=(settings,), daemon=True
    ).start()


def _stop(processes: dict[str, subprocess.Popen]) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 10
    for process in processes.values():
        remaining = max(deadline - time.monotonic(), 0.1)
        try:
            process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            process.kill()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def supervise(selected: list[Service], env: dict[str, str]) -> int:
    # SIGTERM (a service manager stopping us) and SIGINT (also when started in the
    # background, where the shell ignores it) must stop the children too, not orphan them.
    # While children are being started a stop request is only noted: raised inside Popen,
    # it would leave the child being forked running with nobody to stop it.
    stop_requested: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, _frame: stop_requested.append(signum))
    signal.signal(signal.SIGINT, lambda signum, _frame: stop_requested.append(signum))
    processes: dict[str, subprocess.Popen] = {}
    try:
        for service in selected:
            # The commands are built above from our own settings, never from user input.
            processes[service.name] = subprocess.Popen(service.command, env=env)  # noqa: S603
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
        if stop_requested:
            raise KeyboardInterrupt
        while True:
            for name, process in processes.items():
                code = process.poll()
                if code is not None:
                    print(
                        f"\n{name} stopped (exit code {code}); stopping the others.",
                        file=sys.stderr,
                    )
                    _stop(processes)
                    return code or 1
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nStopping…", file=sys.stderr)
        _stop(processes)
        return 0


def _has_users() -> bool:
    from sqlmodel import select

    from shared.db import read_session
    from shared.models import User

    with read_session() as session:
        return session.exec(select(User.id).limit(1)).first() is not None


def run_all(*, seed_demo: bool) -> int:
    from shared.operations.migrate import upgrade_to_head

    settings = get_settings()
    env = dict(os.environ)
    selected = services(settings, with_demo_smtp=seed_demo or settings.demo_smtp)
    # Before anything is written: a run that cannot bind its ports must not leave a seeded
    # database behind that points at addresses nobody serves.
    if _refuse_busy_ports(selected):
        return EXIT_ENVIRONMENT
    upgrade_to_head()
    current_keyring()  # a lost key file stops the start here, with its remedies
    if refusal := live_channels_behind_loopback(settings):
        print(refusal, file=sys.stderr)
        return EXIT_ENVIRONMENT
    if seed_demo:
        from shared.operations.demo import seed_demo as seed

        print(seed())
        env["LINKPAY_DEMO_SMTP"] = "true"
    print("\nLinkPay Desk is starting:")
    for service in selected:
        print(f"  {service.name:<17} {service.url}")
    if seed_demo:
        print("\nDemo logins (username / password):")
        for username, password in DEMO_LOGINS:
            print(f"  {username:<8} / {password}")
    elif not _has_users():
        print(
            "\nNo dashboard user yet: create the first one with\n"
            "  linkpay-desk create-user NAME --role admin"
        )
    print("\nPress Ctrl-C to stop everything.\n", flush=True)
    _check_public_address_in_background(settings)
    return supervise(selected, env)


def run_single(name: str) -> int:
    from shared.operations.migrate import upgrade_to_head

    settings = get_settings()
    selected = [s for s in services(settings, with_demo_smtp=False) if s.name == name]
    if _refuse_busy_ports(selected):
        return EXIT_ENVIRONMENT
    if name != "sandbox":
        upgrade_to_head()
        current_keyring()  # a lost key file stops the start here, with its remedies
    if name == "callback-service":
        if refusal := live_channels_behind_loopback(settings):
            print(refusal, file=sys.stderr)
            return EXIT_ENVIRONMENT
        _check_public_address_in_background(settings)
    print(f"{name}: {selected[0].url}", flush=True)
    return supervise(selected, dict(os.environ))
