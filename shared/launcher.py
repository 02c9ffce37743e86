"""Starts the three services (and the demo mail server) as child processes and supervises
them: if one dies, the others are stopped and the exit code says so."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from shared.config import PROJECT_ROOT, Settings, get_settings

DEMO_LOGINS = (
    ("admin", "admin-demo-1"),
    ("finance", "finance-demo-1"),
    ("manager", "manager-demo-1"),
)


@dataclass(frozen=True)
class Service:
    name: str
    command: list[str]
    url: str


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
        ),
        Service(
            "callback-service",
            [python, "-m", "callback_service"],
            settings.public_base_url,
        ),
        Service(
            "dashboard",
            [
                python,
                "-m",
                "streamlit",
                "run",
                str(PROJECT_ROOT / "dashboard" / "streamlit_app.py"),
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
                    "shared.demo_smtp",
                    "--host",
                    settings.smtp_host,
                    "--port",
                    str(settings.smtp_port),
                ],
                f"smtp://{settings.smtp_host}:{settings.smtp_port}",
            ),
        )
    return found


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
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    processes: dict[str, subprocess.Popen] = {}
    try:
        for service in selected:
            # The commands are built above from our own settings, never from user input.
            processes[service.name] = subprocess.Popen(service.command, env=env)  # noqa: S603
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


def run_all(*, seed_demo: bool) -> int:
    from shared.migrate import upgrade_to_head

    settings = get_settings()
    env = dict(os.environ)
    upgrade_to_head()
    if seed_demo:
        from shared.demo import seed_demo as seed

        print(seed())
        env["LINKPAY_DEMO_SMTP"] = "true"
    demo_smtp = seed_demo or settings.demo_smtp
    selected = services(settings, with_demo_smtp=demo_smtp)
    print("\nLinkPay Desk is starting:")
    for service in selected:
        print(f"  {service.name:<17} {service.url}")
    if seed_demo:
        print("\nDemo logins (username / password):")
        for username, password in DEMO_LOGINS:
            print(f"  {username:<8} / {password}")
    print("\nPress Ctrl-C to stop everything.\n", flush=True)
    return supervise(selected, env)


def run_single(name: str) -> int:
    from shared.migrate import upgrade_to_head

    settings = get_settings()
    if name != "sandbox":
        upgrade_to_head()
    selected = [s for s in services(settings, with_demo_smtp=False) if s.name == name]
    print(f"{name}: {selected[0].url}", flush=True)
    return supervise(selected, dict(os.environ))
