"""Secrets at rest, passwords and unguessable tokens.

API secrets and callback tokens are encrypted with Fernet (AES-128-CBC + HMAC-SHA256)
under a key kept in a 0600 file outside the database, so a copied database file alone
reveals no credential.
"""

import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

from shared.config import get_settings

_password_hasher = PasswordHasher()


class SecretKeyError(RuntimeError):
    """The key file is missing, unreadable or not the key the data was encrypted with."""


def _load_or_create_key(path: Path) -> bytes:
    if path.exists():
        return path.read_bytes().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    # O_EXCL: two processes starting together must not write two different keys.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


@lru_cache
def _fernet(path: Path) -> Fernet:
    try:
        return Fernet(_load_or_create_key(path))
    except (OSError, ValueError) as error:
        raise SecretKeyError(f"Secret key file {path.name} cannot be used: {error}") from None


def _current_fernet() -> Fernet:
    return _fernet(get_settings().resolved_secret_key_file)


def encrypt_secret(plaintext: str) -> str:
    return _current_fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt_secret(ciphertext: str) -> str:
    if not ciphertext:
        return ""
    try:
        return _current_fernet().decrypt(ciphertext.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise SecretKeyError(
            "A stored secret cannot be decrypted: the secret key file is not the one it was "
            "saved with."
        ) from None


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


def reset_key_cache() -> None:
    _fernet.cache_clear()
