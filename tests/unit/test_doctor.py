"""`linkpay-desk doctor` finds each broken set-up and says how to fix it; a sound one passes."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet

from callback_service.app import create_app
from shared.config import get_settings
from shared.operations.doctor import Finding, Verdict, run_checks
from shared.security import reset_key_cache
from tests.sending.conftest import Inbox, free_port
from tests.utils.callback_service import FakeEveryPay, running_app, running_fake_everypay
from tests.utils.factories import make_channel


def _set(monkeypatch: pytest.MonkeyPatch, **settings: str) -> None:
    for name, value in settings.items():
        monkeypatch.setenv(f"LINKPAY_{name}", value)
    get_settings.cache_clear()


def _failed(findings: list[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings if f.verdict is Verdict.FAILED}


@pytest.fixture
def sound_setup(db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeEveryPay]:
    """A migrated database, a channel EveryPay accepts, a callback service at
    PUBLIC_BASE_URL and a mail server that answers."""
    mail = Controller(Inbox(), hostname="127.0.0.1", port=free_port())
    mail.start()
    _set(monkeypatch, SMTP_HOST="127.0.0.1", SMTP_PORT=str(mail.port))
    try:
        with (
            running_fake_everypay() as everypay,
            running_app(create_app(start_background=False)) as service_url,
        ):
            _set(monkeypatch, PUBLIC_BASE_URL=service_url)
            make_channel(api_base=everypay.url)
            yield everypay
    finally:
        mail.stop()


def test_a_sound_setup_has_no_failed_check(sound_setup: FakeEveryPay) -> None:
    findings = run_checks()

    assert _failed(findings) == {}
    checks = {f.check for f in findings}
    assert {"database", "secret key", "public address", "mail"} <= checks
    assert any(c.startswith("EveryPay, channel #") for c in checks)


def test_a_replaced_key_file_is_found_with_its_remedy(
    sound_setup: FakeEveryPay, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = get_settings().resolved_secret_key_file
    key_file.write_bytes(Fernet.generate_key())
    reset_key_cache()

    failed = _failed(run_checks())

    assert "does not open 2 of 2 stored secrets" in failed["secret key"].detail
    assert "restore the key file" in failed["secret key"].fix


def test_a_missing_schema_a_silent_public_address_and_no_mail_server_are_each_named(
    isolated_settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _set(
        monkeypatch,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{free_port()}",
        SMTP_PORT=str(free_port()),
    )

    failed = _failed(run_checks())

    assert failed["database"].fix == "run linkpay-desk init-db"
    assert "LINKPAY_PUBLIC_BASE_URL" in failed["public address"].fix
    assert "LINKPAY_SMTP_HOST" in failed["mail"].fix


def test_everypay_refusing_the_credentials_is_named_per_channel(
    sound_setup: FakeEveryPay, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_channel(api_base=sound_setup.url, api_secret="not-the-real-secret-123")

    failed = _failed(run_checks())

    refused = [f for check, f in failed.items() if check.startswith("EveryPay, channel #")]
    assert len(refused) == 1
    assert "refuses the username or secret" in refused[0].detail
