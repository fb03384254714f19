"""The ``maintenance`` lane: what keeps the store in shape on a schedule rather than after an
event. Each run is claimed in the ``schedules`` table, so one process does it per period
however many carry the lane (web processes in the embedded mode, workers in the distributed
one): the evidence purge, the bank change log's pruning, and the bank snapshot that processes
start from (``matcher.snapshot_banks``)."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta

from takedown.jobs.loop import BackgroundLoop
from takedown.services import evidence
from takedown.services.matcher import snapshot_banks
from takedown.store.uow import UnitOfWork

log = logging.getLogger("takedown.maintenance")

SCHEDULE = "maintenance"
SNAPSHOT_SCHEDULE = "bank-snapshot"
BANK_CHANGES_KEPT = timedelta(days=7)  # a process that has not looked for longer rebuilds
PURGE_BATCH = 1000


class Maintenance(BackgroundLoop):
    """Every ``every`` (``TAKEDOWN_EVIDENCE_PURGE_HOURS``; None: never): the evidence purge
    (``evidence.purge``, a backlog in batches of its own transactions) and the bank change
    log pruned to ``BANK_CHANGES_KEPT`` (``Matcher.reload``). Every ``snapshot_every``
    (``TAKEDOWN_BANK_SNAPSHOT_MINUTES``; None: never): a bank snapshot, if the banks changed
    since the last."""

    thread_name = "takedown-maintenance"

    def __init__(
        self,
        uow: Callable[[], UnitOfWork],
        *,
        now: Callable[[], datetime],
        every: timedelta | None,
        retention: timedelta,
        snapshot_every: timedelta | None = None,
        poll_seconds: float = 60.0,
    ) -> None:
        self.uow = uow
        self.now = now
        self.every = every
        self.snapshot_every = snapshot_every
        self.retention = retention
        self.poll_seconds = poll_seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        super().__init__()

    def run_once(self) -> int:
        """The period's run, if it is ours; how many evidence items were purged."""
        now = self.now()
        if self._claimed(SNAPSHOT_SCHEDULE, now, self.snapshot_every):
            snapshot_banks(self.uow, now=now)
        if not self._claimed(SCHEDULE, now, self.every):
            return 0
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

    def _claimed(self, schedule: str, now: datetime, every: timedelta | None) -> bool:
        if every is None:
            return False
        with self.uow() as uow:
            if not uow.schedules.claim(schedule, now=now, next_at=now + every, by=self.name):
                return False
            uow.commit()
        return True

    def _more_waiting(self, worked: int) -> bool:
        return False
