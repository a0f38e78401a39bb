"""Optional password sign-in: argon2id hashes (argon2-cffi's recommended parameters).

`verify` always runs one argon2 verification, also for members without a password, so the
time taken does not reveal whether an account (or a password) exists.
"""

from __future__ import annotations

from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from paperfeed.errors import BadRequest

MIN_LENGTH = 10
MAX_LENGTH = 1024


@lru_cache(maxsize=1)
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash("paperfeed-dummy-password-for-constant-time")


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise BadRequest(f"accounts: a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise BadRequest(f"accounts: a password may have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher().hash(password)


def verify(stored_hash: str | None, password: str) -> bool:
    """True when `password` matches `stored_hash`; None (no password set) never matches."""
    try:
        _hasher().verify(stored_hash or _dummy_hash(), password[:MAX_LENGTH])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return stored_hash is not None


def needs_rehash(stored_hash: str) -> bool:
    return _hasher().check_needs_rehash(stored_hash)
