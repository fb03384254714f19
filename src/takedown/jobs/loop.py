"""A background thread that works until stopped: a lane of the job runtime (``jobs.Runtime``):
an outbox worker's, the action deliverer's, the NCMEC filer's. A subclass writes ``run_once``
(one pass: the work due now, and how much it took); the loop runs passes until stopped,
waiting ``poll_seconds`` after one that found nothing (``_more_waiting`` says when not to
wait), and ``wake`` makes it look for work at once, ``stop`` ends it. ``StoreLoop`` adds
the store: ``_write`` runs a piece of work in its own transaction, through the process's
group-commit writer where it runs (SQLite has one writer), and commits it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from takedown.clock import SYSTEM_CLOCK, Clock
from takedown.store.db import Database
from takedown.store.group_commit import GroupCommitter, commit_work
from takedown.store.uow import UnitOfWork

MAX_BACKOFF_SECONDS = 5.0


class BackgroundLoop:
    thread_name = "takedown-loop"
    log_name = "takedown.jobs"  # the logger a failed pass is reported to
    poll_seconds = 1.0

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        raise NotImplementedError

    def _more_waiting(self, worked: int) -> bool:
        """Whether a pass that took ``worked`` may have left work due (then the next pass
        starts at once rather than after ``poll_seconds``)."""
        return worked > 0

    def _loop(self) -> None:
        """Pass after pass until stopped: a pass that raises counts as idle, so one fault
        never ends the lane. Passes failing in a row (the database or the broker away) are
        tried again less often, up to every ``MAX_BACKOFF_SECONDS``; the first failure is
        logged with its traceback, then one line a minute until a pass succeeds."""
        log = logging.getLogger(self.log_name)
        failures, said_at = 0, 0.0
        while not self._stop.is_set():
            self._wake.clear()
            try:
                worked = self.run_once()
            except Exception as error:
                failures += 1
                if failures == 1:
                    log.exception("a pass of the %s lane failed; trying again", self.thread_name)
                    said_at = time.monotonic()
                elif time.monotonic() - said_at >= 60:
                    log.warning("the %s lane has failed %d passes in a row: %s",
                                self.thread_name, failures, error)  # fmt: skip
                    said_at = time.monotonic()
                self._stop.wait(
                    min(self.poll_seconds * 2 ** min(failures, 10), MAX_BACKOFF_SECONDS)
                )
                continue
            if failures:
                log.warning("the %s lane works again after %d failed passes",
                            self.thread_name, failures)  # fmt: skip
                failures = 0
            if not self._more_waiting(worked):
                self._wake.wait(self.poll_seconds)

    def drain(self, limit: int) -> int:
        """Passes one after another, while a pass says more waits (at most ``limit``); how
        much they took. What a distributed worker runs for one of the lane's messages."""
        worked = 0
        for _ in range(limit):
            done = self.run_once()
            worked += done
            if not self._more_waiting(done):
                break
        return worked

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


class StoreLoop(BackgroundLoop):
    def __init__(
        self, db: Database, *, writer: GroupCommitter | None = None, clock: Clock = SYSTEM_CLOCK
    ) -> None:
        self.db = db
        self.writer = writer
        self.clock = clock
        super().__init__()

    def _write(self, work: Callable[[UnitOfWork], Any]) -> Any:
        """Run ``work`` and commit it: through the process's writer where it has one."""
        return commit_work(self.db, self.writer, work)
