"""A lost key file is never replaced behind the user's back: every command says where the
key was and the two ways out, and `reset-secrets` is the second way, leaving a working app."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.channels import (
    ChannelInput,
    callback_token,
    find_channel_by_token,
    save_linkpay_channel,
)
from shared.config import PROJECT_ROOT, get_settings
from shared.db import read_session, write_session
from shared.linkpay.links import invoice_pay_link
from shared.models import Invoice, PaymentChannel
from shared.operations.key_recovery import NothingToReset, reset_secrets
from shared.security import SecretKeyMissing, decrypt_secret, reset_key_cache
from shared.sending import invoice_by_public_token, public_token
from tests.utils.factories import API_SECRET, make_channel, make_invoice


def _lose_the_key() -> Path:
    key_file = get_settings().resolved_secret_key_file
    key_file.unlink()
    reset_key_cache()
    return key_file


def _cli(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "shared.operations.cli", *arguments],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_lost_key_is_not_replaced_by_a_new_one_while_secrets_need_it(any_db: str) -> None:
    channel = make_channel()
    key_file = _lose_the_key()

    with pytest.raises(SecretKeyMissing) as refused:
        decrypt_secret(channel.api_secret_encrypted)

    assert str(key_file) in str(refused.value)
    assert "Restore the key file from your backup" in str(refused.value)
    assert "reset-secrets --yes" in str(refused.value)
    assert not key_file.exists()


def test_every_command_stops_with_the_key_path_and_the_remedies(db: str) -> None:
    make_channel()
    key_file = _lose_the_key()

    for command in (["channels"], ["callback-service"]):
        done = _cli(*command)
        assert done.returncode == 3, (command, done.stdout, done.stderr)
        [line] = done.stderr.strip().splitlines()
        assert str(key_file) in line and "reset-secrets" in line, line
    assert not key_file.exists()


def test_reset_secrets_leaves_a_working_app_that_says_what_to_re_enter(any_db: str) -> None:
    channel = make_channel()
    invoice = make_invoice(channel=channel)
    old_callback_token = callback_token(channel)
    with read_session() as session:
        old_link_token = public_token(session.get(Invoice, invoice.id))
    _lose_the_key()

    report = reset_secrets(actor="cli")

    assert report.api_secrets_cleared == [f"#{channel.id} {channel.name}"]
    assert report.callback_urls_renewed == [f"#{channel.id} {channel.name}"]
    assert report.invoice_links_renewed == 1
    with read_session() as session:
        stored = session.get(PaymentChannel, channel.id)
        stored_invoice = session.get(Invoice, invoice.id)
        # No Pay online until the API secret is entered again, and the page says why.
        assert stored.api_secret_encrypted == ""
        assert "enter it again" in stored.connection_test_message
        assert invoice_pay_link(session, stored_invoice) is None
        # EveryPay's callbacks to the old URL keep arriving during the grace period.
        assert find_channel_by_token(session, old_callback_token).id == channel.id
        assert callback_token(stored) != old_callback_token
        # The customer's link is new; the one sent before no longer opens the invoice.
        assert invoice_by_public_token(session, old_link_token) is None
        assert invoice_by_public_token(session, public_token(stored_invoice)).id == invoice.id

    with write_session() as session:
        save_linkpay_channel(
            session,
            actor="cli",
            bank_account_id=stored.bank_account_id,
            channel_id=channel.id,
            data=ChannelInput(
                link_token=stored.link_token,
                api_username=stored.api_username,
                api_secret=API_SECRET,
                environment=stored.environment,
                linkpay_prefix=stored.linkpay_prefix,
                api_base=stored.api_base,
                currency=stored.currency,
                url_fields=list(stored.url_fields),
            ),
        )
    with read_session() as session:
        assert invoice_pay_link(session, session.get(Invoice, invoice.id)) is not None


def test_reset_secrets_refuses_when_the_key_opens_everything(any_db: str) -> None:
    make_channel()

    with pytest.raises(NothingToReset):
        reset_secrets(actor="cli")


def test_reset_secrets_asks_for_yes_before_it_replaces_anything(db: str) -> None:
    make_channel()
    key_file = _lose_the_key()

    done = _cli("reset-secrets")

    assert done.returncode == 1 and "--yes" in done.stderr
    assert not key_file.exists()
    assert _cli("reset-secrets", "--yes").returncode == 0
    assert key_file.exists()


def test_health_says_degraded_when_the_key_file_does_not_open_the_secrets(db: str) -> None:
    from cryptography.fernet import Fernet

    from shared.callbacks.health import check_health

    make_channel()
    assert check_health(local_worker_alive=None).secrets_readable is True

    get_settings().resolved_secret_key_file.write_bytes(Fernet.generate_key() + b"\n")
    reset_key_cache()

    health = check_health(local_worker_alive=None)
    assert health.secrets_readable is False
    assert health.payments_waiting
