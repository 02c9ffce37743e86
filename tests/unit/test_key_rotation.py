"""Every ciphertext names its key, and ``rotate-key`` moves every stored secret to a new
key without changing a link, a Callback URL or a credential, even after a crash."""

import stat
import subprocess
import sys
import threading
import time

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import column, select, table

from shared.channels import callback_url, credentials, rotate_callback_token
from shared.config import get_settings
from shared.db import get_engine, read_session, write_session
from shared.invoicing import DraftInput, LineInput, create_draft
from shared.models import Invoice, PaymentChannel
from shared.operations import key_rotation
from shared.operations.key_rotation import ENCRYPTED_COLUMNS, rotate_key
from shared.operations.migrate import upgrade_to_head
from shared.security import (
    SecretKeyError,
    decrypt_secret,
    encrypt_secret,
    key_id,
    read_keys,
    token_hash,
)
from shared.sending import invoice_by_public_token, public_invoice_url, public_token
from tests.utils.factories import API_SECRET, make_channel, make_customer, make_invoice


def _key_file_keys() -> list[bytes]:
    return read_keys(get_settings().resolved_secret_key_file)


def _stored_ciphertexts(url: str) -> list[str]:
    values = []
    with get_engine(url).connect() as connection:
        for table_name, columns in ENCRYPTED_COLUMNS.items():
            for name in columns:
                query = select(column(name)).select_from(table(table_name))
                values += connection.execute(query).scalars()
    return [value for value in values if value]


def _seen_by_users(channel_id: int, invoice_id: int) -> dict[str, str]:
    """What a person or EveryPay sees of the stored secrets."""
    with read_session() as session:
        channel = session.get(PaymentChannel, channel_id)
        invoice = session.get(Invoice, invoice_id)
        return {
            "callback_url": callback_url(channel),
            "api_secret": credentials(channel).api_secret,
            "invoice_link": public_invoice_url(invoice),
        }


def test_every_ciphertext_names_its_key_and_old_unnamed_ones_still_decrypt(db) -> None:
    ciphertext = encrypt_secret("s3cret-value")
    (key,) = _key_file_keys()
    assert ciphertext.startswith(f"k{key_id(key)}:")
    legacy = Fernet(key).encrypt(b"written-before-key-ids").decode()
    assert decrypt_secret(legacy) == "written-before-key-ids"


def test_rotate_key_reencrypts_every_secret_and_changes_nothing_users_see(any_db) -> None:
    channel = make_channel()
    with write_session() as session:
        # A previous Callback URL in its grace period is a hash only: nothing to re-encrypt.
        rotate_callback_token(session, actor="test", channel_id=channel.id)
    invoices = [make_invoice(channel=channel) for _ in range(3)]
    legacy_token = "legacy-public-token-0123456789"
    (old_key,) = _key_file_keys()
    with write_session() as session:
        # A row encrypted before ciphertexts named their key.
        invoice = session.get(Invoice, invoices[0].id)
        invoice.public_token_hash = token_hash(legacy_token)
        invoice.public_token_encrypted = Fernet(old_key).encrypt(legacy_token.encode()).decode()
        session.add(invoice)
    before = _seen_by_users(channel.id, invoices[1].id)

    report = rotate_key()

    (new_key,) = _key_file_keys()
    assert new_key != old_key
    assert report.new_key_id == key_id(new_key) and report.retired_key_ids == [key_id(old_key)]
    assert report.reencrypted == 2 + len(invoices)
    stored = _stored_ciphertexts(any_db)
    assert len(stored) == 2 + len(invoices)
    for ciphertext in stored:
        prefix, token = ciphertext.split(":", 1)
        assert prefix == f"k{key_id(new_key)}"
        Fernet(new_key).decrypt(token.encode())
        with pytest.raises(InvalidToken):
            Fernet(old_key).decrypt(token.encode())
    assert _seen_by_users(channel.id, invoices[1].id) == before
    with read_session() as session:
        assert invoice_by_public_token(session, legacy_token).id == invoices[0].id
        assert public_token(session.get(Invoice, invoices[0].id)) == legacy_token
    assert stat.S_IMODE(get_settings().resolved_secret_key_file.stat().st_mode) == 0o600


def test_a_crashed_rotation_leaves_everything_readable_and_a_rerun_finishes_it(
    any_db, monkeypatch
) -> None:
    channel = make_channel()
    invoice = make_invoice(channel=channel)
    before = _seen_by_users(channel.id, invoice.id)
    (old_key,) = _key_file_keys()
    calls = 0

    def crash_on_third(plaintext: str) -> str:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt  # the process dies in the middle of the transaction
        return encrypt_secret(plaintext)

    with monkeypatch.context() as patched, pytest.raises(KeyboardInterrupt):
        patched.setattr(key_rotation, "encrypt_secret", crash_on_third)
        rotate_key()

    new_key, kept_old_key = _key_file_keys()
    assert kept_old_key == old_key
    assert all(c.startswith(f"k{key_id(old_key)}:") for c in _stored_ciphertexts(any_db))
    assert _seen_by_users(channel.id, invoice.id) == before  # the services keep working

    report = rotate_key()

    assert report.resumed and report.new_key_id == key_id(new_key)
    assert _key_file_keys() == [new_key]
    assert all(c.startswith(f"k{key_id(new_key)}:") for c in _stored_ciphertexts(any_db))
    assert _seen_by_users(channel.id, invoice.id) == before


def test_a_secret_under_a_key_no_longer_in_the_file_gives_a_clear_error(db) -> None:
    ciphertext = encrypt_secret(API_SECRET)
    rotate_key()
    with pytest.raises(SecretKeyError, match="not the one it was saved with") as error:
        decrypt_secret(ciphertext)
    assert API_SECRET not in str(error.value)


def test_rotate_key_command(db) -> None:
    channel = make_channel()
    invoice = make_invoice(channel=channel)
    before = _seen_by_users(channel.id, invoice.id)
    (old_key,) = _key_file_keys()

    result = subprocess.run(
        [sys.executable, "-m", "shared.operations.cli", "rotate-key"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    (new_key,) = _key_file_keys()
    assert f"new key k{key_id(new_key)}" in result.stdout
    assert "3 stored secrets re-encrypted" in result.stdout
    assert old_key.decode() not in result.stdout + result.stderr
    assert _seen_by_users(channel.id, invoice.id) == before
    assert before["api_secret"] == API_SECRET


@pytest.mark.postgres
def test_a_secret_committed_by_a_transaction_open_across_the_rotation_is_reencrypted(
    postgres_url, monkeypatch
) -> None:
    upgrade_to_head(postgres_url)
    customer = make_customer()
    rotation_waits = threading.Event()  # for transactions begun before the new key
    reencrypted = threading.Event()
    real_wait, real_pass = key_rotation._wait_for_older_transactions, key_rotation._reencrypt_pass

    def wait(**options) -> None:
        rotation_waits.set()
        real_wait(**options)

    def reencrypt(prefix: str) -> int:
        changed = real_pass(prefix)
        reencrypted.set()
        return changed

    monkeypatch.setattr(key_rotation, "_wait_for_older_transactions", wait)
    monkeypatch.setattr(key_rotation, "_reencrypt_pass", reencrypt)
    in_transaction = threading.Event()
    failures: list[BaseException] = []

    def slow_writer() -> None:
        """Encrypts a new invoice's token with the old key and commits only once the
        rotation is under way: waiting for it, or past its re-encryption."""
        try:
            with write_session() as session:
                create_draft(
                    session,
                    actor="test",
                    data=DraftInput(
                        customer_id=customer.id,
                        lines=[LineInput("Consulting", "1", "100.00", "21")],
                    ),
                )
                session.flush()
                in_transaction.set()
                deadline = time.monotonic() + 30
                while not (rotation_waits.is_set() or reencrypted.is_set()):
                    assert time.monotonic() < deadline
                    time.sleep(0.005)
        except BaseException as failure:  # reported below, not lost in the thread
            failures.append(failure)

    writer = threading.Thread(target=slow_writer)
    writer.start()
    try:
        assert in_transaction.wait(timeout=30)
        rotate_key()
    finally:
        writer.join(timeout=30)

    assert not failures
    (new_key,) = _key_file_keys()
    stored = _stored_ciphertexts(postgres_url)
    assert len(stored) == 1
    assert stored[0].startswith(f"k{key_id(new_key)}:")
    with read_session() as session:
        (invoice,) = session.scalars(select(Invoice)).all()
        assert token_hash(public_token(invoice)) == invoice.public_token_hash
