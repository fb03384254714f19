"""Time, from one object that can be handed in and moved: the worker's leases and retries,
the credential cache, the matcher's refresh, triage's deadlines and the rate limits all ask
a ``Clock``. Tests hand in a ``MovableClock`` and move it, instead of sleeping until a
lease, a back-off or a 48-hour deadline runs out. Imports nothing of ours."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime


class Clock:
    """The real clocks: ``now`` (aware UTC), ``time`` (Unix seconds) and ``monotonic``
    (for intervals; never jumps)."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class MovableClock(Clock):
    """The real clocks plus an offset that only grows: ``advance(seconds)`` moves all three
    ahead at once, as if that much time had passed. ``frozen``: time stands still from the
    moment the clock is made, and moves only when advanced (for exact intervals)."""

    def __init__(self, *, frozen: bool = False) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()
        self._frozen = (time.time(), time.monotonic()) if frozen else None

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock only moves ahead")
        with self._lock:
            self._offset += seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)

    def time(self) -> float:
        base = self._frozen[0] if self._frozen else time.time()
        return base + self._offset

    def monotonic(self) -> float:
        base = self._frozen[1] if self._frozen else time.monotonic()
        return base + self._offset


SYSTEM_CLOCK = Clock()
