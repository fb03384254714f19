"""A short-lived cache of checked API keys, so the upload and report paths do not read the
database for the caller on every request.

Only platform, flagger and police keys (``tdk_…``) are cached: their scopes never change, and
the one thing that can happen to them is revocation. A revocation committed in this process
empties the cache at once (it publishes ``CredentialRevoked``); one made by another process
(the CLI, another web process) takes effect within ``ttl_seconds``. Staff sessions and
personal tokens are checked every time, since a role change or a disabled account must bite
at once. The cache keys on the SHA-256 of the secret, never the secret itself.

One check at a time (``principal``): the requests that find a key missing or expired while
its check runs wait for that check instead of each reading the database, and a key in use is
checked again in the background once ``REFRESH_SHARE`` of its time has passed, so it does not
expire under load: a burst of checks when a busy key expires would hold up every request in
flight (``bench/RECORD.md``). An entry is never used past its time, so a revocation in
another process still bites within ``ttl_seconds``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections.abc import Awaitable, Callable

from takedown.clock import SYSTEM_CLOCK, Clock
from takedown.identity import CredentialRevoked, IdentityError, Principal, PrincipalKind

MAX_ENTRIES = 10_000
REFRESH_SHARE = 0.8
"""After this share of an entry's time, a use of it starts a check in the background."""
log = logging.getLogger(__name__)


class CredentialCache:
    def __init__(self, ttl_seconds: float, *, clock: Clock = SYSTEM_CLOCK) -> None:
        self.ttl = ttl_seconds
        self._monotonic = clock.monotonic
        # key -> (expires, refresh from, principal), on the monotonic clock
        self._entries: dict[bytes, tuple[float, float, Principal]] = {}
        self._lock = threading.Lock()
        self._checks: dict[bytes, asyncio.Task[Principal]] = {}

    @staticmethod
    def _key(secret: str) -> bytes:
        return hashlib.sha256(secret.encode()).digest()

    def get(self, secret: str) -> Principal | None:
        if self.ttl <= 0:
            return None
        entry = self._entries.get(self._key(secret))
        if entry is None or entry[0] < self._monotonic():
            return None
        return entry[2]

    def put(self, secret: str, principal: Principal) -> None:
        if self.ttl <= 0 or principal.kind is not PrincipalKind.api_key:
            return
        now = self._monotonic()
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[self._key(secret)] = (
                now + self.ttl,
                now + self.ttl * REFRESH_SHARE,
                principal,
            )

    def drop(self, secret: str) -> None:
        with self._lock:
            self._entries.pop(self._key(secret), None)

    async def principal(self, secret: str, check: Callable[[], Awaitable[Principal]]) -> Principal:
        """The principal for a bearer secret: from the cache while its entry lasts (starting
        one check in the background once it is due), else from ``check``, run once for all
        the requests that ask meanwhile; its error (``NotAuthenticated``) reaches each."""
        if self.ttl <= 0:
            return await check()
        key = self._key(secret)
        entry = self._entries.get(key)
        now = self._monotonic()
        if entry is not None and now < entry[0]:
            if now >= entry[1] and key not in self._checks:
                self._start(key, secret, check).add_done_callback(_retrieved)
            return entry[2]
        task = self._checks.get(key)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = self._start(key, secret, check)  # (another loop's check: a closed test loop)
        return await asyncio.shield(task)

    def _start(
        self, key: bytes, secret: str, check: Callable[[], Awaitable[Principal]]
    ) -> asyncio.Task[Principal]:
        async def run() -> Principal:
            try:
                principal = await check()
            except IdentityError:
                self.drop(secret)  # revoked, or its account disabled: checked again next time
                raise
            finally:
                self._checks.pop(key, None)
            self.put(secret, principal)
            return principal

        task = asyncio.ensure_future(run())
        self._checks[key] = task
        return task

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def on_commit(self, event_types: frozenset[str]) -> None:
        """``Database.on_commit`` listener: a revocation here empties the cache."""
        if CredentialRevoked.event_type in event_types:
            self.clear()


def _retrieved(task: asyncio.Task[Principal]) -> None:
    """A background check's outcome: a refused key was dropped (``_start``); anything else
    is logged, and the entry serves until its time is up."""
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None and not isinstance(exc, IdentityError):
        log.warning("checking a cached API key again failed", exc_info=exc)
