"""The ``maintenance`` lane: what keeps the store in shape on a schedule rather than after an
event. Each run is claimed in the ``schedules`` table, so one process does it per period
however many carry the lane (web processes in the embedded mode, workers in the distributed
one)."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from takedown.jobs.loop import BackgroundLoop
from takedown.services import evidence
from takedown.store.uow import UnitOfWork

log = logging.getLogger("takedown.maintenance")

SCHEDULE = "maintenance"
BANK_CHANGES_KEPT = timedelta(days=7)  # a process that has not looked for longer rebuilds
PURGE_BATCH = 1000


class Maintenance(BackgroundLoop):
    """Every ``every`` (``TAKEDOWN_EVIDENCE_PURGE_HOURS``): the evidence purge
    (``evidence.purge``, a backlog in batches of its own transactions) and the bank change
    log pruned to ``BANK_CHANGES_KEPT`` (``Matcher.reload``)."""

    thread_name = "takedown-maintenance"

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        *,
        now: Callable[[], datetime],
        every: timedelta,
        retention: timedelta,
        poll_seconds: float = 60.0,
    ) -> None:
        self.uow = uow
        self.now = now
        self.every = every
        self.retention = retention
        self.poll_seconds = poll_seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        super().__init__()

    def run_once(self) -> int:
        """The period's run, if it is ours; how many evidence items were purged."""
        now = self.now()
        with self.uow() as uow:
            if not uow.schedules.claim(SCHEDULE, now=now, next_at=now + self.every, by=self.name):
                return 0
            uow.commit()
        with self.uow() as uow:
            uow.bank_entries.prune_changes(now - BANK_CHANGES_KEPT)
            uow.commit()
        purged = 0
        while True:
            done = evidence.purge(
                uow=self.uow(), now=now, batch=PURGE_BATCH, retention=self.retention
            )
            purged += done
            if done < PURGE_BATCH:
                break
        if purged:
            log.info("evidence purged", extra={"items": purged})
        return purged

    def _more_waiting(self, worked: int) -> bool:
        return False
