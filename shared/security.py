"""Secrets at rest, passwords and unguessable tokens.

API secrets, callback tokens and invoice public tokens are encrypted with Fernet
(AES-128-CBC + HMAC-SHA256) under a key kept in a 0600 file outside the database, so a
copied database file alone reveals no credential and no customer link.

Every ciphertext names its key: ``k<key id>:<Fernet token>``, the id being the first eight
hex digits of the key's SHA-256. The key file holds one key per line; the first encrypts,
any further line is an older key that ``linkpay-desk rotate-key`` keeps only until every
stored secret has been re-encrypted (see shared/operations/key_rotation.py). Ciphertexts written
before key ids existed have no prefix and are tried against every key in the file.

Each process re-reads the key file when it changes (a ``stat`` per use), so a rotation
takes effect in running services without a restart.
"""

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.config import get_settings

_password_hasher = PasswordHasher()
_KEY_ID_PREFIX = re.compile(r"k([0-9a-f]{8}):")
_WRONG_KEY = (
    "A stored secret cannot be decrypted: the secret key file is not the one it was saved with."
)


class SecretKeyError(RuntimeError):
    """The key file is missing, unreadable or not the key the data was encrypted with."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def ciphertext_prefix(key: bytes) -> str:
    """What every ciphertext made under ``key`` starts with."""
    return f"k{key_id(key)}:"


def create_private_file(path: Path) -> None:
    """Makes sure ``path`` exists readable by its owner only: data files hold customer data
    and credentials, and the default umask would leave them world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    make_private(path)


def make_private(path: Path) -> None:
    """Narrows an existing file, made before data files were kept private, to 0600."""
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    except FileNotFoundError:
        pass


class SecretKeyMissing(SecretKeyError):
    """The key file is gone while the database holds secrets encrypted with it."""


def _encrypted_data_exists() -> bool:
    """Whether the database holds any ciphertext. Asked before a new key file is made: a
    new key over existing ciphertexts would make them unreadable for good, and would hide
    the loss of the real key until the first payment fails."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from shared.db import get_engine

    queries = (
        "SELECT 1 FROM payment_channel WHERE api_secret_encrypted <> '' "
        "OR callback_token_encrypted <> '' LIMIT 1",
        "SELECT 1 FROM invoice WHERE public_token_encrypted <> '' LIMIT 1",
    )
    engine = get_engine()
    for query in queries:
        with engine.connect() as connection:
            try:
                if engine.dialect.name == "postgresql":
                    # A migration may be rewriting the table in another transaction right
                    # now (it is what asks for the first key): never wait for it.
                    connection.execute(text("SET LOCAL lock_timeout = '2s'"))
                if connection.execute(text(query)).first() is not None:
                    return True
            except DBAPIError:
                # No such table or column yet (a database older than its ciphertexts), or
                # the table locked by a migration: nothing encrypted there to lose.
                continue
    return False


def key_missing_message(path: Path) -> str:
    return (
        f"The secret key file {path} is missing, and the database holds secrets encrypted "
        "with it. Restore the key file from your backup (linkpay-desk restore puts back both), "
        "or run `linkpay-desk reset-secrets --yes` to start a new key: the API secrets must "
        "then be entered again in the dashboard and each channel gets a new Callback URL."
    )


def _create_key_file(path: Path, *, over_existing_data: bool = False) -> None:
    if not over_existing_data and _encrypted_data_exists():
        raise SecretKeyMissing(key_missing_message(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two processes starting together must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(Fernet.generate_key() + b"\n")
        handle.flush()
        os.fsync(handle.fileno())


def create_key_file_over_lost_key() -> None:
    """For reset-secrets only: a new key where the old one is lost, although the database
    holds ciphertexts made with it (they are replaced right after)."""
    path = get_settings().resolved_secret_key_file
    if not path.exists():
        _create_key_file(path, over_existing_data=True)


def read_keys(path: Path) -> list[bytes]:
    """The keys in the key file, current first; the file is created on first use."""
    if not path.exists():
        _create_key_file(path)
    keys = [line.strip() for line in path.read_bytes().splitlines() if line.strip()]
    if not keys:
        raise ValueError("the file holds no key")
    return keys


def write_keys(path: Path, keys: list[bytes]) -> None:
    """Replaces the key file in one step (temporary file, fsync, rename): a crash leaves
    either the old file or the new one, never half of one."""
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(b"".join(key + b"\n" for key in keys))
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


@dataclass(frozen=True)
class Keyring:
    current_id: str
    by_id: dict[str, Fernet]
    any_key: MultiFernet


@lru_cache(maxsize=8)
def _keyring(path: Path, _version: tuple[int, int, int]) -> Keyring:
    try:
        make_private(path)
        keys = read_keys(path)
        fernets = {key_id(key): Fernet(key) for key in keys}
    except (OSError, ValueError) as error:
        raise SecretKeyError(f"Secret key file {path.name} cannot be used: {error}") from None
    return Keyring(key_id(keys[0]), fernets, MultiFernet(list(fernets.values())))


def current_keyring() -> Keyring:
    path = get_settings().resolved_secret_key_file
    try:
        found = path.stat()
    except FileNotFoundError:
        _create_key_file(path)
        found = path.stat()
    # A rotation replaces the file (new inode), so a changed file is a changed cache key.
    return _keyring(path, (found.st_ino, found.st_mtime_ns, found.st_size))


def encrypt_secret(plaintext: str) -> str:
    keyring = current_keyring()
    token = keyring.by_id[keyring.current_id].encrypt(plaintext.encode("utf-8"))
    return f"k{keyring.current_id}:{token.decode('ascii')}"


def decrypt_secret(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    keyring = current_keyring()
    named = _KEY_ID_PREFIX.match(ciphertext)
    if named:
        fernet = keyring.by_id.get(named.group(1))
        if fernet is None:
            raise SecretKeyError(f"{_WRONG_KEY} (It was encrypted under key k{named.group(1)}.)")
        token = ciphertext[named.end() :]
    else:
        fernet, token = keyring.any_key, ciphertext
    try:
        return fernet.decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise SecretKeyError(_WRONG_KEY) from None


def seal_token(token: str) -> tuple[str, str]:
    """A bearer token as stored: its SHA-256 to find it by, its ciphertext to show it again."""
    return token_hash(token), encrypt_secret(token)


def last_four(secret: str) -> str:
    return secret[-4:] if len(secret) > 8 else ""


def mask_secret(last4: str) -> str:
    return f"•••• {last4}" if last4 else "••••"


def new_token(nbytes: int = 24) -> str:
    """URL-safe random token; 24 bytes = 192 bits, well above the 128 required."""
    return secrets.token_urlsafe(nbytes)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def tokens_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def signing_keys(purpose: bytes) -> tuple[bytes, ...]:
    """HMAC keys for one ``purpose``, derived from the secret key file's keys, current
    first: a key rotation keeps what was signed valid until the old key is dropped, and a
    signature made for one purpose is worthless for another."""
    path = get_settings().resolved_secret_key_file
    if not path.exists():
        read_keys(path)
    found = path.stat()
    return _derived_keys(path, (found.st_ino, found.st_mtime_ns, found.st_size), purpose)


@lru_cache(maxsize=16)
def _derived_keys(path: Path, _version: tuple[int, int, int], purpose: bytes) -> tuple[bytes, ...]:
    return tuple(hmac.new(key, purpose, hashlib.sha256).digest() for key in read_keys(path))


def reset_key_cache() -> None:
    _keyring.cache_clear()
