import stat

import pytest
from argon2 import extract_parameters

from shared.config import get_settings
from shared.db import dispose_engines, read_session
from shared.models import PaymentChannel
from shared.security import (
    SecretKeyError,
    decrypt_secret,
    encrypt_secret,
    hash_password,
    reset_key_cache,
    verify_password,
)
from shared.users import DUMMY_PASSWORD_HASH
from tests.utils.factories import make_channel

SECRET = "s3cr3t-API-value-9f8e7d6c5b4a"


def test_secret_round_trip_and_key_file_is_private(db) -> None:
    ciphertext = encrypt_secret(SECRET)
    assert SECRET not in ciphertext
    assert decrypt_secret(ciphertext) == SECRET
    key_file = get_settings().resolved_secret_key_file
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_database_file_holds_no_plaintext_secret(db) -> None:
    channel = make_channel(api_secret=SECRET)
    with read_session() as session:
        stored = session.get(PaymentChannel, channel.id)
        assert stored.api_secret_last4 == SECRET[-4:]
    dispose_engines()  # checkpoint the WAL so the main file holds everything
    data_dir = get_settings().data_dir
    for path in data_dir.glob("linkpay.db*"):
        raw = path.read_bytes()
        assert SECRET.encode() not in raw, path.name
        assert SECRET[:-4].encode() not in raw, path.name


def test_wrong_key_file_gives_a_clear_error(db, tmp_path, monkeypatch) -> None:
    ciphertext = encrypt_secret(SECRET)
    monkeypatch.setenv("LINKPAY_SECRET_KEY_FILE", str(tmp_path / "other.key"))
    get_settings.cache_clear()
    reset_key_cache()
    with pytest.raises(SecretKeyError, match="not the one it was saved with") as error:
        decrypt_secret(ciphertext)
    assert SECRET not in str(error.value)


def test_channel_credentials_repr_hides_the_secret(db) -> None:
    from shared.channels import credentials

    channel = make_channel(api_secret=SECRET)
    assert SECRET not in repr(credentials(channel))


def test_passwords_are_hashed_with_argon2() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2")
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "wrong horse")
    assert not verify_password("garbage", "correct horse")


def test_the_unknown_user_hash_costs_what_a_real_password_hash_costs() -> None:
    # An unknown username is answered after verifying against DUMMY_PASSWORD_HASH: with
    # cheaper parameters than real hashes, the answer time would tell which users exist.
    assert extract_parameters(DUMMY_PASSWORD_HASH) == extract_parameters(hash_password("x" * 12))
    assert not verify_password(DUMMY_PASSWORD_HASH, "not-a-real-password-either")
