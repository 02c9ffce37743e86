"""`linkpay-desk doctor`: checks a set-up end to end and says, for each problem, what to do.

Each check reads and asks; none writes (the EveryPay check uses the same API call as the
dashboard's Test connection, without recording it).
"""

import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum

import httpx
from sqlmodel import select

from shared.config import Settings, get_settings


class Verdict(StrEnum):
    OK = "ok"
    WARNING = "warning"
    FAILED = "failed"


@dataclass(frozen=True)
class Finding:
    check: str
    verdict: Verdict
    detail: str
    fix: str = ""

    def __str__(self) -> str:
        line = f"[{self.verdict.value:>7}] {self.check}: {self.detail}"
        return f"{line}\n          fix: {self.fix}" if self.fix else line


def _database(settings: Settings) -> Iterator[Finding]:
    from sqlalchemy.engine import make_url

    from shared.operations.migrate import database_revision, head_revision

    shown = make_url(settings.resolved_database_url).render_as_string(hide_password=True)
    try:
        revision = database_revision()
    except Exception as error:
        yield Finding(
            "database",
            Verdict.FAILED,
            f"{shown} cannot be reached: {str(error).splitlines()[0]}",
            "check that the server runs and LINKPAY_DATABASE_URL names it",
        )
        return
    head = head_revision()
    if revision == head:
        yield Finding("database", Verdict.OK, f"{shown}, schema {revision} (latest)")
    elif revision is None:
        yield Finding(
            "database", Verdict.FAILED, f"{shown} has no schema yet", "run linkpay-desk init-db"
        )
    else:
        yield Finding(
            "database",
            Verdict.FAILED,
            f"{shown} is at schema {revision}, this version needs {head}",
            "back up (linkpay-desk backup DEST), then run linkpay-desk init-db",
        )


def _stored_secrets() -> Iterator[tuple[str, str]]:
    """(what, ciphertext) for every encrypted value in the database."""
    from shared.db import read_session
    from shared.models import PaymentChannel

    with read_session() as session:
        for channel in session.exec(select(PaymentChannel)).all():
            yield f"API secret of channel #{channel.id}", channel.api_secret_encrypted
            yield f"Callback URL token of channel #{channel.id}", channel.callback_token_encrypted


def _secrets(settings: Settings) -> Iterator[Finding]:
    from shared.security import SecretKeyError, decrypt_secret

    key_file = settings.resolved_secret_key_file
    try:
        stored = [(what, value) for what, value in _stored_secrets() if value]
    except Exception:
        return
    if not key_file.is_file():
        verdict = Verdict.FAILED if stored else Verdict.OK
        yield Finding(
            "secret key",
            verdict,
            f"{key_file} is missing"
            + (f" and {len(stored)} stored secrets need it" if stored else "; made on first use"),
            "restore the key file from your backup" if stored else "",
        )
        return
    if key_file.stat().st_mode & 0o077:
        yield Finding(
            "secret key",
            Verdict.WARNING,
            f"{key_file} can be read by other users",
            f"chmod 600 {key_file}",
        )
    unreadable = []
    for what, value in stored:
        try:
            decrypt_secret(value)
        except SecretKeyError:
            unreadable.append(what)
    if unreadable:
        yield Finding(
            "secret key",
            Verdict.FAILED,
            f"{key_file} does not open {len(unreadable)} of {len(stored)} stored secrets "
            f"({', '.join(unreadable[:3])}{'…' if len(unreadable) > 3 else ''})",
            "restore the key file these secrets were saved with from your backup",
        )
    else:
        yield Finding("secret key", Verdict.OK, f"{key_file} opens all {len(stored)} secrets")


def _public_address(settings: Settings) -> Iterator[Finding]:
    url = f"{settings.public_base_url.rstrip('/')}/health"
    try:
        response = httpx.get(url, timeout=5)
        answered = response.status_code in (200, 503) and "status" in response.json()
    except (httpx.HTTPError, ValueError) as error:
        yield Finding(
            "public address",
            Verdict.FAILED,
            f"{url} does not answer as the callback service ({error.__class__.__name__})",
            "start the callback service, or set LINKPAY_PUBLIC_BASE_URL to the address "
            "EveryPay and customers reach it at; EveryPay's callbacks go there",
        )
        return
    if not answered:
        yield Finding(
            "public address",
            Verdict.FAILED,
            f"{url} answered {response.status_code}, not the callback service's health",
            "LINKPAY_PUBLIC_BASE_URL must lead to this callback service",
        )
        return
    host = httpx.URL(settings.public_base_url).host
    if host in ("127.0.0.1", "localhost", "::1") or host.startswith("127."):
        yield Finding(
            "public address",
            Verdict.WARNING,
            f"{settings.public_base_url} answers, but only this machine can reach it",
            "fine for the sandbox; for live payments set LINKPAY_PUBLIC_BASE_URL to your "
            "public HTTPS address",
        )
    else:
        yield Finding("public address", Verdict.OK, f"{url} answers")


def _smtp(settings: Settings) -> Iterator[Finding]:
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    try:
        if settings.smtp_security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=5,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=5)
        with client:
            client.ehlo()
            if settings.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if settings.smtp_username:
                client.login(settings.smtp_username, settings.smtp_password or "")
    except (OSError, smtplib.SMTPException) as error:
        yield Finding(
            "mail",
            Verdict.FAILED,
            f"SMTP server {where} ({settings.smtp_security}): {error}",
            "check LINKPAY_SMTP_HOST, _PORT, _SECURITY, _USERNAME and _PASSWORD",
        )
        return
    yield Finding("mail", Verdict.OK, f"SMTP server {where} accepts us ({settings.smtp_security})")


def _everypay() -> Iterator[Finding]:
    from shared.channels import credentials
    from shared.db import read_session
    from shared.linkpay.client import EveryPayClient, Outcome
    from shared.models import PaymentChannel
    from shared.security import SecretKeyError

    try:
        with read_session() as session:
            channels = session.exec(
                select(PaymentChannel).where(PaymentChannel.active.is_(True))  # type: ignore[attr-defined]
            ).all()
    except Exception:
        return
    if not channels:
        yield Finding("EveryPay", Verdict.OK, "no active channel to check")
    for channel in channels:
        name = f"EveryPay, channel #{channel.id} {channel.name}"
        try:
            with EveryPayClient(credentials(channel)) as client:
                result = client.test_connection()
        except SecretKeyError:
            continue  # the secret key check names it
        if result.outcome is Outcome.OK:
            yield Finding(name, Verdict.OK, "the API accepts the username and secret")
        elif result.outcome is Outcome.AUTH_REFUSED:
            yield Finding(
                name,
                Verdict.FAILED,
                "the API refuses the username or secret",
                "copy them again from the EveryPay portal into Bank accounts → Online payments",
            )
        else:
            yield Finding(
                name,
                Verdict.FAILED,
                f"the API cannot be reached ({result.outcome.value}: {result.error or ''})",
                "check the environment or API base, and this machine's outbound HTTPS",
            )


def _ports(settings: Settings) -> Iterator[Finding]:
    for service, host, port in (
        ("dashboard", settings.dashboard_host, settings.dashboard_port),
        ("callback service", settings.callback_host, settings.callback_port),
        ("sandbox", settings.sandbox_host, settings.sandbox_port),
    ):
        with socket.socket() as probe:
            probe.settimeout(1)
            listening = probe.connect_ex((host, port)) == 0
        state = "something listens there (the service, if it runs)" if listening else "free"
        yield Finding("ports", Verdict.OK, f"{service} {host}:{port}: {state}")


CHECKS: tuple[Callable[[Settings], Iterator[Finding]], ...] = (
    _database,
    _secrets,
    _ports,
    _public_address,
    _smtp,
    lambda _settings: _everypay(),
)


def run_checks() -> list[Finding]:
    settings = get_settings()
    return [finding for check in CHECKS for finding in check(settings)]
