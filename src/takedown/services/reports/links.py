"""The reporter's secrets: status links, the public form's keys, and anonymous reporters'
pseudonyms, all keyed by the installation's status-link key (``status_key``).

A status link is ``/status/{token}``: the report's receipt time and an HMAC of who submitted
it and their idempotency key (or of a nonce) under the key, so the same request twice gives
the same link while only a digest is stored (``status_digest``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

from takedown.store.uow import UnitOfWork


def form_key(key: bytes) -> str:
    """An idempotency key for one showing of the public form: a random nonce and its MAC
    under ``key`` (the status-link key), so the server knows the keys it gave out and a
    guessed or made-up one is ignored (``checked_form_key``)."""
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_form_mac(key, nonce)}"


def checked_form_key(key: bytes, value: str | None) -> str | None:
    """``value`` if it is a key ``form_key`` made under ``key``, else None (the submission
    is then stored as a new report)."""
    if not value or value.count(".") != 1:
        return None
    nonce, mac = value.split(".")
    # As bytes: ``compare_digest`` refuses strings with characters outside ASCII.
    expected = _form_mac(key, nonce).encode()
    return value if hmac.compare_digest(mac.encode(), expected) else None


def _form_mac(key: bytes, nonce: str) -> str:
    digest = hmac.digest(key, f"report-form\x00{nonce}".encode(), "sha256")
    return base64.urlsafe_b64encode(digest[:18]).decode()


def anonymous_reporter(key: bytes, client_address: str) -> str:
    """A pseudonym for an anonymous reporter: a keyed digest of their client address (the
    address itself is never stored)."""
    return hmac.digest(key, f"reporter\x00{client_address}".encode(), "sha256").hex()[:40]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_STAMPED = re.compile(r"[0-9a-f]{14}[A-Za-z0-9_-]{32}")


def status_token(key: bytes, submitter: str, nonce: str, received_at: datetime) -> str:
    """A report's status link token: the time it was received (microseconds since 1970, 14
    hex digits) and a MAC of its submitter, nonce and that time under the status-link key.
    The MAC makes it unguessable; the time in front makes ``status_digest`` sort by time, so
    each new report's digest goes at the end of the digests' unique index instead of on a
    random page of it (random digests were a fifth of what intake wrote to SQLite's WAL).
    The time says no more than the status page itself: when the report was received."""
    stamp = f"{(received_at - _EPOCH) // _MICROSECOND:014x}"
    # ``hmac.digest``: one call into OpenSSL (``hmac.new`` builds its object in Python).
    mac = hmac.digest(key, f"{submitter}\x00{nonce}\x00{stamp}".encode(), "sha256")
    return stamp + base64.urlsafe_b64encode(mac[:24]).decode()


def unstamped_status_token(key: bytes, submitter: str, nonce: str) -> str:
    """The token of a report stored before tokens carried their time (still honoured)."""
    mac = hmac.digest(key, f"{submitter}\x00{nonce}".encode(), "sha256")
    return base64.urlsafe_b64encode(mac[:24]).decode()


def status_url(base_url: str, token: str) -> str:
    """A reporter's private status link on ``base_url`` (the address reporters reach)."""
    return f"{base_url.rstrip('/')}/status/{token}"


def status_digest(token: str) -> str:
    """What is stored to find a report by its token (never the token itself): for a token
    with its time, that time and 50 hex digits of its SHA-256; for an older token, its
    SHA-256. Both 64 characters, in the same unique column."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    if _STAMPED.fullmatch(token):
        return token[:14] + digest[:50]
    return digest


def status_key(uow: UnitOfWork) -> bytes:
    """The installation's key for status links (made by the migration)."""
    with uow:
        value = uow.instance_secrets.get("status_link_key")
    if value is None:
        raise RuntimeError("the status link key is missing: run `takedown db upgrade`")
    return bytes.fromhex(value)
