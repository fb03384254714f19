"""Envelope encryption of preserved evidence. Pure: no I/O.

Every item is encrypted with a data key of its own (AES-256-GCM, a fresh 96-bit nonce, the
item's identity as associated data, so a sealed item cannot be passed off as another); the
data key is wrapped by the installation's master key (AES-256-GCM again). Only wrapped keys
are stored. Rotating the master key re-wraps the data keys; the media is never decrypted to
do it. A master key is named by its fingerprint (the first 16 hex digits of its SHA-256), so a
stored item says which key wrapped it.

Exceptions::

    VaultError
     ├── BadKey      a master key that is not 32 bytes (64 hex digits)
     └── WrongKey    the key that wrapped an item is not given, or the item was altered
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE = 12


class VaultError(Exception):
    pass


class BadKey(VaultError):
    pass


class WrongKey(VaultError):
    pass


@dataclass(frozen=True)
class MasterKey:
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != 32:
            raise BadKey("a master key is 32 bytes (64 hex digits)")

    @classmethod
    def from_hex(cls, value: str) -> MasterKey:
        try:
            key = bytes.fromhex(value.strip())
        except ValueError:
            raise BadKey("a master key is 64 hex digits") from None
        return cls(key)

    @classmethod
    def new(cls) -> MasterKey:
        return cls(os.urandom(32))

    @property
    def hex(self) -> str:
        return self.key.hex()

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.key).hexdigest()[:16]


@dataclass(frozen=True)
class Sealed:
    """An encrypted item: what is stored."""

    ciphertext: bytes  # nonce + AES-GCM output (with its tag)
    wrapped_key: bytes  # nonce + the data key under the master key
    key_fingerprint: str  # which master key wrapped it


def seal(plaintext: bytes, master: MasterKey, *, identity: str) -> Sealed:
    """Encrypt ``plaintext`` under a new data key wrapped by ``master``. ``identity`` (the
    item's id) is bound to both as associated data."""
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE)
    ciphertext = nonce + AESGCM(data_key).encrypt(nonce, plaintext, identity.encode())
    return Sealed(
        ciphertext=ciphertext,
        wrapped_key=_wrap(data_key, master, identity),
        key_fingerprint=master.fingerprint,
    )


def unseal(sealed: Sealed, masters: list[MasterKey], *, identity: str) -> bytes:
    """The plaintext. Raises ``WrongKey`` when none of ``masters`` wrapped it, or when the
    item or its key was altered."""
    data_key = _unwrap(sealed, masters, identity)
    nonce, body = sealed.ciphertext[:NONCE], sealed.ciphertext[NONCE:]
    try:
        return AESGCM(data_key).decrypt(nonce, body, identity.encode())
    except InvalidTag:
        raise WrongKey("the evidence item was altered, or is not this item") from None


def rewrap(sealed: Sealed, old: list[MasterKey], new: MasterKey, *, identity: str) -> Sealed:
    """The same item with its data key wrapped by ``new`` (the media is not decrypted)."""
    data_key = _unwrap(sealed, old, identity)
    return Sealed(
        ciphertext=sealed.ciphertext,
        wrapped_key=_wrap(data_key, new, identity),
        key_fingerprint=new.fingerprint,
    )


def _wrap(data_key: bytes, master: MasterKey, identity: str) -> bytes:
    nonce = os.urandom(NONCE)
    return nonce + AESGCM(master.key).encrypt(nonce, data_key, b"takedown-key:" + identity.encode())


def _unwrap(sealed: Sealed, masters: list[MasterKey], identity: str) -> bytes:
    master = next((m for m in masters if m.fingerprint == sealed.key_fingerprint), None)
    if master is None:
        raise WrongKey(
            f"the evidence was sealed with key {sealed.key_fingerprint}, which is not configured"
        )
    nonce, body = sealed.wrapped_key[:NONCE], sealed.wrapped_key[NONCE:]
    try:
        return AESGCM(master.key).decrypt(nonce, body, b"takedown-key:" + identity.encode())
    except InvalidTag:
        raise WrongKey("the evidence key does not open this item") from None
