"""Passwords and bearer secrets.

Passwords are hashed with argon2id (slow on purpose). API keys, personal tokens and session
tokens are 256-bit random values: guessing is hopeless, so they are stored as SHA-256 digests
and looked up by their public ``key_id`` part, which keeps every authenticated request fast.

A secret reads ``td<kind>_<key_id>_<secret>``, e.g. ``tdk_3f9a1c2b7d4e_Qm…``. The prefix tells
a leaked value's kind at a glance (and to secret scanners).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from takedown.identity.model import IdentityError

_hasher = PasswordHasher()

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


class WeakPassword(IdentityError):
    """A new password is too short or too long."""


class SecretKind(StrEnum):
    api_key = "k"
    staff_token = "p"
    session = "s"


@dataclass(frozen=True)
class IssuedSecret:
    """A freshly made secret. ``value`` is shown once and never stored."""

    kind: SecretKind
    key_id: str
    value: str
    digest: str


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"password must have at most {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when ``password`` matches. Never raises for a wrong or malformed hash."""
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    try:
        return _hasher.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def issue_secret(kind: SecretKind) -> IssuedSecret:
    key_id = secrets.token_hex(6)
    value = f"td{kind.value}_{key_id}_{secrets.token_urlsafe(32)}"
    return IssuedSecret(kind=kind, key_id=key_id, value=value, digest=hash_secret(value))


_SECRET_KINDS = {m.value: m for m in SecretKind}
_KEY_ID = re.compile(r"[0-9a-f]{12}")


def parse_secret(value: str) -> tuple[SecretKind, str] | None:
    """Return (kind, key_id) of a well-formed secret, else None (never raises)."""
    parts = value.split("_", 2)
    if len(parts) != 3 or len(parts[0]) != 3 or not parts[0].startswith("td"):
        return None
    kind = _SECRET_KINDS.get(parts[0][2])
    key_id = parts[1]
    if kind is None or not _KEY_ID.fullmatch(key_id):
        return None
    return kind, key_id


def digests_match(stored: str, presented_value: str) -> bool:
    return hmac.compare_digest(stored, hash_secret(presented_value))
