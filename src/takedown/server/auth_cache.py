"""A short-lived cache of checked API keys, so the upload and report paths do not read the
database for the caller on every request.

Only platform, flagger and police keys (``tdk_…``) are cached: their scopes never change, and
the one thing that can happen to them is revocation. A revocation committed in this process
empties the cache at once (it publishes ``CredentialRevoked``); one made by another process
(the CLI, another web process) takes effect within ``ttl_seconds``. Staff sessions and
personal tokens are checked every time, since a role change or a disabled account must bite
at once. The cache keys on the SHA-256 of the secret, never the secret itself.
"""

from __future__ import annotations

import hashlib
import threading
import time

from takedown.identity import CredentialRevoked, Principal, PrincipalKind

MAX_ENTRIES = 10_000


class CredentialCache:
    def __init__(self, ttl_seconds: float) -> None:
        self.ttl = ttl_seconds
        self._entries: dict[bytes, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(secret: str) -> bytes:
        return hashlib.sha256(secret.encode()).digest()

    def get(self, secret: str) -> Principal | None:
        if self.ttl <= 0:
            return None
        entry = self._entries.get(self._key(secret))
        if entry is None or entry[0] < time.monotonic():
            return None
        return entry[1]

    def put(self, secret: str, principal: Principal) -> None:
        if self.ttl <= 0 or principal.kind is not PrincipalKind.api_key:
            return
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[self._key(secret)] = (time.monotonic() + self.ttl, principal)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def on_commit(self, event_types: frozenset[str]) -> None:
        """``Database.on_commit`` listener: a revocation here empties the cache."""
        if CredentialRevoked.event_type in event_types:
            self.clear()
