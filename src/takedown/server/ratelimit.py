"""A per-client sliding-window limit for the public forms, kept in the process's memory.

Behind a reverse proxy, run uvicorn with ``--proxy-headers`` (and ``FORWARDED_ALLOW_IPS``) so
the client address is the visitor's and not the proxy's. With several web processes each
keeps its own count, so a client gets at most ``limit`` times the number of processes."""

from __future__ import annotations

import threading
import time
from collections import deque


class SlidingWindowLimiter:
    def __init__(self, limit: int, window_seconds: float, *, max_clients: int = 100_000) -> None:
        self.limit = limit
        self.window = window_seconds
        self.max_clients = max_clients
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, client: str, *, now: float | None = None) -> bool:
        """Count one attempt by ``client``; False when it is over the limit."""
        now = time.monotonic() if now is None else now
        cutoff = now - self.window
        with self._lock:
            hits = self._hits.get(client)
            if hits is None:
                if len(self._hits) >= self.max_clients:
                    self._forget_idle(cutoff)
                hits = self._hits[client] = deque()
            while hits and hits[0] <= cutoff:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            return True

    def retry_after(self, client: str, *, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.get(client)
            if not hits:
                return 0
            return max(1, int(hits[0] + self.window - now) + 1)

    def _forget_idle(self, cutoff: float) -> None:
        for client in [c for c, h in self._hits.items() if not h or h[-1] <= cutoff]:
            del self._hits[client]
