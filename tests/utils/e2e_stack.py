"""The whole product as real processes, for the browser tests in ``tests/e2e``.

``running_stack`` starts, on free 127.0.0.1 ports and with a fresh data directory and
SQLite file: the EveryPay sandbox, the callback service and the Streamlit dashboard, each
as the launcher would start it, plus an SMTP server inside the test process (``Mailbox``)
that keeps every message the product sends. Each service writes its output to a log file,
so a failing test can show what the services said.
"""

import base64
import email
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import httpx
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.utils.sandbox_server import PROJECT_ROOT, free_port, wait_until

CHROMIUM = Path("/usr/bin/chromium")
# Playwright cannot download its own browsers here; Debian's Chromium needs these to run
# headless in a container without talking to Google's services.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
ARTIFACTS_ENV = "LINKPAY_E2E_ARTIFACTS"
# Streamlit's first start compiles and imports a lot; a loaded CI machine needs the margin.
STARTUP_SECONDS = 90.0
STOP_SECONDS = 10.0


@dataclass(frozen=True)
class Login:
    username: str
    password: str
    role: str


FINANCE = Login("finance", "finance-e2e-pass-1", "finance")
MANAGER = Login("manager", "manager-e2e-pass-1", "manager")
LOGINS = (FINANCE, MANAGER)


def chromium_available() -> bool:
    return CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)


def artifacts_root() -> Path:
    configured = os.environ.get(ARTIFACTS_ENV)
    return Path(configured).resolve() if configured else PROJECT_ROOT / "test-artifacts" / "e2e"


# --- mail ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedMail:
    envelope_to: tuple[str, ...]
    message: EmailMessage

    @property
    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content() if part is not None else ""

    @property
    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    def inline_images(self) -> dict[str, tuple[str, bytes]]:
        """Content-ID → (content type, bytes) of the images the HTML part refers to."""
        return {
            str(part["Content-ID"]).strip("<> "): (
                part.get_content_type(),
                part.get_payload(decode=True) or b"",
            )
            for part in self.message.walk()
            if part.get_content_maintype() == "image" and part["Content-ID"]
        }

    def html_for_browser(self) -> str:
        """The HTML part with its cid: images inlined, as a mail program would show it."""
        html = self.html
        for cid, (content_type, data) in self.inline_images().items():
            encoded = base64.b64encode(data).decode("ascii")
            html = html.replace(f"cid:{cid}", f"data:{content_type};base64,{encoded}")
        return html

    def attachments(self) -> list[tuple[str, str, bytes]]:
        """(file name, content type, bytes) of every attachment."""
        return [
            (
                part.get_filename() or "",
                part.get_content_type(),
                part.get_payload(decode=True) or b"",
            )
            for part in self.message.iter_attachments()
        ]


class Mailbox:
    """An aiosmtpd handler that keeps what it receives, parsed, for the test to read."""

    def __init__(self) -> None:
        self._messages: list[ReceivedMail] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        parsed = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self._messages.append(ReceivedMail(tuple(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[ReceivedMail]:
        with self._lock:
            return list(self._messages)

    def to(self, address: str) -> list[ReceivedMail]:
        wanted = address.lower()
        return [m for m in self.messages if wanted in (a.lower() for a in m.envelope_to)]

    def wait_for(self, address: str, *, count: int = 1, timeout: float = 30.0) -> ReceivedMail:
        """The ``count``-th message addressed to ``address``, once it has arrived."""
        found = wait_until(
            lambda: mails if len(mails := self.to(address)) >= count else None,
            timeout=timeout,
            interval=0.1,
        )
        return found[count - 1]


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[str, str]] = []
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.anchors.append((" ".join("".join(self._text).split()), self._href))
            self._href = None


def links_in_html(html: str) -> list[tuple[str, str]]:
    """(visible text, href) of every link, in document order."""
    parser = _Anchors()
    parser.feed(html)
    return parser.anchors


def link_by_text(html: str, text: str) -> str:
    hrefs = [href for label, href in links_in_html(html) if label == text]
    if not hrefs:
        raise AssertionError(f"no link named {text!r} in the HTML; links: {links_in_html(html)}")
    return hrefs[0]


# --- services -----------------------------------------------------------------------------


@dataclass
class Service:
    name: str
    command: list[str]
    health_url: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()


@dataclass
class Stack:
    """Addresses, settings and processes of one running product."""

    work_dir: Path
    data_dir: Path
    logs_dir: Path
    database_url: str
    env: dict[str, str]
    dashboard_url: str
    public_base_url: str
    sandbox_url: str
    mailbox: Mailbox
    smtp_port: int
    services: list[Service] = field(default_factory=list)

    def linkpay_desk(self, *args: str, stdin: str | None = None) -> str:
        """Runs the ``linkpay-desk`` console script against this stack's settings."""
        script = Path(sys.executable).with_name("linkpay-desk")
        command = (
            [str(script)] if script.exists() else [sys.executable, "-m", "shared.operations.cli"]
        )
        result = subprocess.run(
            [*command, *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=self.work_dir,
            env=self.env,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"linkpay-desk {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout}\n{result.stderr}"
            )
        return result.stdout

    def dead_services(self) -> list[str]:
        return [
            f"{s.name} (exit code {s.exited()})" for s in self.services if s.exited() is not None
        ]

    def logs_report(self, *, max_chars: int = 20_000) -> str:
        """Every service's log, the end of each when long, for a failure report."""
        parts = []
        for service in self.services:
            text = service.log()
            if len(text) > max_chars:
                text = f"… ({len(text) - max_chars} characters before)\n{text[-max_chars:]}"
            state = service.exited()
            status = "running" if state is None else f"exited with {state}"
            parts.append(f"===== {service.name} ({status}) — {service.log_path} =====\n{text}")
        return "\n".join(parts)


def _child_env(data_dir: Path, database_url: str, ports: dict[str, int]) -> dict[str, str]:
    # A developer's own LINKPAY_ settings must not leak into the stack.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKPAY_")}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")])),
            "PYTHONUNBUFFERED": "1",
            # Plain text in the log files (Streamlit prints tracebacks through rich).
            "NO_COLOR": "1",
            "LINKPAY_DATA_DIR": str(data_dir),
            "LINKPAY_DATABASE_URL": database_url,
            "LINKPAY_PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['callback']}",
            "LINKPAY_DASHBOARD_BASE_URL": f"http://127.0.0.1:{ports['dashboard']}",
            "LINKPAY_CALLBACK_HOST": "127.0.0.1",
            "LINKPAY_CALLBACK_PORT": str(ports["callback"]),
            "LINKPAY_DASHBOARD_HOST": "127.0.0.1",
            "LINKPAY_DASHBOARD_PORT": str(ports["dashboard"]),
            "LINKPAY_SANDBOX_HOST": "127.0.0.1",
            "LINKPAY_SANDBOX_PORT": str(ports["sandbox"]),
            "LINKPAY_SANDBOX_PUBLIC_URL": f"http://127.0.0.1:{ports['sandbox']}",
            "LINKPAY_SMTP_HOST": "127.0.0.1",
            "LINKPAY_SMTP_PORT": str(ports["smtp"]),
            "LINKPAY_SMTP_SECURITY": "none",
            "LINKPAY_MAIL_FROM": "E2E Test Company <invoices@e2e.example>",
            "LINKPAY_DEMO_SMTP": "false",
            # Short intervals: a lost callback or a pending payment resolves within a test.
            "LINKPAY_RECONCILE_INTERVAL_SECONDS": "5",
            "LINKPAY_WORKER_POLL_SECONDS": "0.2",
            "LINKPAY_LOG_LEVEL": "INFO",
        }
    )
    return env


def _services(stack: Stack, ports: dict[str, int]) -> list[Service]:
    python = sys.executable
    logs = stack.logs_dir
    return [
        Service(
            "sandbox",
            [
                python,
                "-m",
                "sandbox",
                "--host",
                "127.0.0.1",
                "--port",
                str(ports["sandbox"]),
                "--store",
                str(stack.data_dir / "sandbox.db"),
                # Callbacks and bank settlement within a second or two, not the real minutes.
                "--callback-schedule",
                "0.5,1,2,4",
                "--bank-settle-seconds",
                "1",
                "--public-url",
                stack.sandbox_url,
            ],
            f"{stack.sandbox_url}/health",
            logs / "sandbox.log",
        ),
        Service(
            "callback-service",
            [python, "-m", "callback_service"],
            f"{stack.public_base_url}/health",
            logs / "callback-service.log",
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
                "127.0.0.1",
                "--server.port",
                str(ports["dashboard"]),
                "--server.headless",
                "true",
                "--browser.gatherUsageStats",
                "false",
                # As the launcher starts it: no Deploy button, no menu of Streamlit's own
                # (English) developer and viewer options.
                "--client.toolbarMode",
                "minimal",
                # Colleagues edit dashboard files while the suite runs; a file watcher would
                # rerun the app under the test's feet.
                "--server.fileWatcherType",
                "none",
                "--server.runOnSave",
                "false",
            ],
            f"{stack.dashboard_url}/_stcore/health",
            logs / "dashboard.log",
        ),
    ]


def _start(service: Service, *, cwd: Path, env: dict[str, str]) -> None:
    with service.log_path.open("wb") as log:
        # Its own session, so stopping it also stops anything it started (and only that).
        service.process = subprocess.Popen(
            service.command,
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _healthy(service: Service) -> bool:
    code = service.exited()
    if code is not None:
        raise RuntimeError(
            f"{service.name} exited with code {code} while starting:\n{service.log()[-8000:]}"
        )
    try:
        return httpx.get(service.health_url, timeout=2.0).status_code == 200
    except httpx.TransportError:
        return False


def _stop(service: Service) -> None:
    process = service.process
    if process is None or process.poll() is not None:
        return
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_SECONDS)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_SECONDS)


def _start_smtp(mailbox: Mailbox) -> tuple[Controller, int]:
    # free_port() can race with another process; a second try on a new port is enough.
    for attempt in range(3):
        port = free_port()
        controller = Controller(mailbox, hostname="127.0.0.1", port=port)
        try:
            controller.start()
        except Exception:
            if attempt == 2:
                raise
            continue
        return controller, port
    raise AssertionError("unreachable")


@contextmanager
def running_stack(work_dir: Path, logs_dir: Path) -> Iterator[Stack]:
    """Starts everything, waits until each service answers its health check, and stops
    everything on exit, whatever happened."""
    data_dir = work_dir / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    if logs_dir.exists():
        shutil.rmtree(logs_dir)
    logs_dir.mkdir(parents=True)
    mailbox = Mailbox()
    controller, smtp_port = _start_smtp(mailbox)
    ports = {
        "callback": free_port(),
        "dashboard": free_port(),
        "sandbox": free_port(),
        "smtp": smtp_port,
    }
    database_url = f"sqlite:///{data_dir / 'linkpay.db'}"
    stack = Stack(
        work_dir=work_dir,
        data_dir=data_dir,
        logs_dir=logs_dir,
        database_url=database_url,
        env=_child_env(data_dir, database_url, ports),
        dashboard_url=f"http://127.0.0.1:{ports['dashboard']}",
        public_base_url=f"http://127.0.0.1:{ports['callback']}",
        sandbox_url=f"http://127.0.0.1:{ports['sandbox']}",
        mailbox=mailbox,
        smtp_port=smtp_port,
    )
    try:
        stack.linkpay_desk("init-db")
        for login in LOGINS:
            stack.linkpay_desk(
                "create-user",
                login.username,
                "--role",
                login.role,
                "--password-stdin",
                stdin=f"{login.password}\n",
            )
        stack.services = _services(stack, ports)
        for service in stack.services:
            _start(service, cwd=work_dir, env=stack.env)
        deadline = time.monotonic() + STARTUP_SECONDS
        for service in stack.services:
            try:
                wait_until(
                    lambda service=service: _healthy(service),
                    timeout=max(deadline - time.monotonic(), 1.0),
                    interval=0.2,
                )
            except AssertionError:
                raise RuntimeError(
                    f"{service.name} did not answer {service.health_url} within "
                    f"{STARTUP_SECONDS:g} s:\n{service.log()[-8000:]}"
                ) from None
        yield stack
    finally:
        for service in reversed(stack.services):
            _stop(service)
        controller.stop()
