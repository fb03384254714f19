"""The one contract with the platform: every request either way is signed.

``Takedown-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``, keyed with the
shared secret (``TAKEDOWN_PLATFORM_WEBHOOK_SECRET``). A request with no body (a GET for
media) signs its method and target instead, ``"<METHOD> <path and query as sent>"``
(``signed_payload``), so a captured signature fetches only the resource it was made for. The
receiver
recomputes the HMAC, compares in constant time, and refuses a timestamp further than
``tolerance`` seconds from its own clock, so a captured request cannot be replayed later.
Several ``v1=`` values may be sent while a secret is being rotated; one matching is enough.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "Takedown-Signature"
DEFAULT_TOLERANCE = 300  # seconds


def _mac(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(
        secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256
    ).hexdigest()


def signed_payload(method: str, target: str, body: bytes) -> bytes:
    """What a request's signature covers: its body, or, with none, ``"<METHOD> <target>"``
    (the path and query exactly as sent, e.g. ``GET /media/post%201?size=full``).

    >>> signed_payload("GET", "/media/p-1", b"")
    b'GET /media/p-1'
    """
    return body if body else f"{method.upper()} {target}".encode()


def sign(secret: str, body: bytes, *, now: float) -> str:
    """The header's value for ``body`` sent at ``now`` (unix seconds)."""
    timestamp = int(now)
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def signature_valid(
    header: str | None,
    secret: str,
    body: bytes,
    *,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE,
) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` at a time within ``tolerance`` of
    ``now``. A malformed header is simply not valid."""
    if not header or not secret:
        return False
    timestamp: int | None = None
    macs: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1" and value:
            macs.append(value)
    if timestamp is None or not macs or abs(now - timestamp) > tolerance:
        return False
    expected = _mac(secret, timestamp, body)
    return any(hmac.compare_digest(expected, mac) for mac in macs)
