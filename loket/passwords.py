"""Password hashing with argon2id; callers get booleans, never exceptions or hashes to log."""

from __future__ import annotations

import contextlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# argon2-cffi's defaults (RFC 9106 low-memory profile: argon2id, t=3, m=64 MiB, p=4).
_hasher = PasswordHasher()

# Verified against when the account is unknown or has no password, so a sign-in costs
# the same work whether or not the email address has an account.
DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(32))


def _secret(password: str) -> bytes:
    """The password's bytes: UTF-8, a lone surrogate (which has no UTF-8 form) passed
    through, so that any text is a password and never an exception."""
    return password.encode("utf-8", "surrogatepass")


def hash_password(password: str) -> str:
    """An argon2id hash (`$argon2id$...`) with a fresh salt, under the current parameters."""
    return _hasher.hash(_secret(password))


def verify(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches `password_hash`. A missing or malformed hash is a
    mismatch, found after the same work as a real check."""
    if password_hash is None:
        _check(DUMMY_HASH, password)
        return False
    try:
        return _hasher.verify(password_hash, _secret(password))
    except VerifyMismatchError:
        return False
    except (VerificationError, InvalidHashError):
        _check(DUMMY_HASH, password)
        return False


def _check(password_hash: str, password: str) -> None:
    with contextlib.suppress(VerificationError):
        _hasher.verify(password_hash, _secret(password))


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made under other parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True
