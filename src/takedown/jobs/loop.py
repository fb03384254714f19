"""A background thread that works until stopped: the outbox worker's and the action
deliverer's. A subclass writes ``_loop`` (it reads ``_stop`` and waits on ``_wake``);
``wake`` makes it look for work at once, ``stop`` ends it."""

from __future__ import annotations

import threading


class BackgroundLoop:
    thread_name = "takedown-loop"

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        raise NotImplementedError

    def wake(self) -> None:
        """Look for work now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
