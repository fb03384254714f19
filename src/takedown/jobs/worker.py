"""The outbox worker: claim, handle, mark done; retry with exponential backoff.

Delivery is at least once. A claim is a lease (``locked_until``): if the process dies after
claiming, the lease runs out and another worker (or this one after a restart) takes the
event again. Handlers therefore must be idempotent; their database effects commit in the
same transaction as "done", so those happen once.

Operational hazard: every worker process must use a distinct ``worker_id`` (the default
includes the host name and PID); two workers sharing one would steal each other's leases.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from datetime import datetime
from functools import partial

from prometheus_client import Counter

from takedown.clock import SYSTEM_CLOCK, Clock
from takedown.jobs.loop import BackgroundLoop
from takedown.jobs.registry import HandlerContext, HandlerRegistry
from takedown.retry import RetryPolicy
from takedown.store.db import Database
from takedown.store.group_commit import GroupCommitter, commit_work
from takedown.store.uow import SqlAlchemyUnitOfWork, UnitOfWork

log = logging.getLogger("takedown.jobs")

EVENTS_HANDLED = Counter("takedown_events_handled_total", "Outbox events handled", ["event_type"])
EVENTS_FAILED = Counter(
    "takedown_events_failed_total", "Outbox event attempts that raised", ["event_type"]
)
EVENTS_DEAD = Counter(
    "takedown_events_dead_total", "Outbox events parked after their last attempt", ["event_type"]
)


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def run_event(
    db: Database,
    registry: HandlerRegistry,
    event_id: int,
    *,
    worker_id: str,
    policy: RetryPolicy,
    clock: Clock = SYSTEM_CLOCK,
) -> str:
    """Claim and handle one event. Returns ``done``, ``retry``, ``dead`` or ``skipped``
    (someone else holds it, it is not due, or it is handled but not by this process).
    ``clock`` decides what is due and when the lease and a retry's back-off end."""
    now = clock.now()
    with SqlAlchemyUnitOfWork(db) as uow:
        claimed = uow.outbox.claim(
            event_id,
            worker=worker_id,
            now=now,
            until=now + policy.lease,
        )
        uow.commit()
        message = uow.outbox.get(event_id) if claimed else None
    if message is None:
        return "skipped"
    if not registry.has_handlers(message.event_type) and (
        message.event_type not in registry.catalogue.record_only
    ):
        # Handled, but not here: give the claim back for a worker that has the handler.
        with SqlAlchemyUnitOfWork(db) as uow:
            uow.outbox.release(event_id, worker=worker_id)
            uow.commit()
        return "skipped"
    try:
        with SqlAlchemyUnitOfWork(db) as uow:
            event, handlers = registry.decode(message.event_type, message.payload)
            ctx = HandlerContext(event_id=event_id, attempt=message.attempts, uow=uow)
            for handler in handlers:
                handler(event, ctx)
            if not uow.outbox.mark_done(event_id, worker=worker_id, now=clock.now()):
                # Our lease ran out and another worker took the event: leave it to them.
                log.warning("lease lost", extra={"event_id": event_id})
                return "skipped"
            uow.commit()
    except Exception as exc:
        EVENTS_FAILED.labels(message.event_type).inc()
        retry_at = policy.next_try(message.attempts, clock.now())
        dead = retry_at is None
        error = "".join(traceback.format_exception_only(exc)).strip()
        with SqlAlchemyUnitOfWork(db) as uow:
            uow.outbox.mark_failed(event_id, worker=worker_id, error=error, retry_at=retry_at)
            uow.commit()
        log.exception(
            "event handler failed",
            extra={
                "event_id": event_id,
                "event_type": message.event_type,
                "attempt": message.attempts,
                "dead": dead,
            },
        )
        if dead:
            EVENTS_DEAD.labels(message.event_type).inc()
            return "dead"
        return "retry"
    EVENTS_HANDLED.labels(message.event_type).inc()
    return "done"


def _complete_unhandled(uow: UnitOfWork, event_ids: list[int], now: datetime) -> None:
    uow.outbox.complete_unhandled(event_ids, now=now)


class Worker(BackgroundLoop):
    """Runs due outbox events on a background thread until ``stop()``: one lane of the job
    runtime (``jobs.Runtime``), which wakes it when events of its lane commit.

    ``event_types`` are the lane's (None: every type this process has handlers for). The lane
    that ``completes_record_only`` also marks done the record-only events still pending
    (stored before their type was declared record-only), together, in one transaction per
    batch; record-only events are otherwise stored done when published
    (``Database.done_at_publish``, set from the catalogue by the composition root). Each event
    this worker has handlers for gets its own transaction for its effects and "done". It
    takes events in batches, at most every ``pace_seconds`` while busy, and polls every
    ``poll_seconds`` for retries that came due. Handled events it has no handler for are
    left to the workers that have.
    """

    thread_name = "takedown-worker"

    def __init__(
        self,
        db: Database,
        registry: HandlerRegistry,
        *,
        policy: RetryPolicy | None = None,
        poll_seconds: float = 1.0,
        batch: int = 500,
        pace_seconds: float = 0.05,
        worker_id: str | None = None,
        writer: GroupCommitter | None = None,
        clock: Clock = SYSTEM_CLOCK,
        event_types: frozenset[str] | None = None,
        completes_record_only: bool = True,
    ) -> None:
        self.db = db
        # In a web process, writes go through its group-commit writer: on SQLite a second
        # writer in the same process would wait on the file lock (with SQLite's sleeping
        # back-off) and hold up the requests being committed.
        self.writer = writer
        self.registry = registry
        self.policy = policy or RetryPolicy()
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.pace_seconds = pace_seconds
        self.worker_id = worker_id or default_worker_id()
        self.clock = clock
        self.event_types = event_types
        self.completes_record_only = completes_record_only
        super().__init__()

    @property
    def takes(self) -> frozenset[str]:
        """The event types this worker takes from the outbox."""
        runs = self.registry.runs_here
        if self.event_types is not None:
            runs &= self.event_types
        return runs | (
            self.registry.catalogue.record_only if self.completes_record_only else frozenset()
        )

    def run_once(self) -> int:
        """Handle every event due now; returns how many were attempted."""
        takes = self.takes
        with SqlAlchemyUnitOfWork(self.db, readonly=True) as uow:
            due = uow.outbox.due(self.clock.now(), self.batch, event_types=takes)
        record_only = self.registry.catalogue.record_only & takes
        unhandled = [i for i, t in due if t in record_only]
        if unhandled:
            commit_work(
                self.db,
                self.writer,
                partial(_complete_unhandled, event_ids=unhandled, now=self.clock.now()),
            )
            for _, event_type in due:
                if event_type in record_only:
                    EVENTS_HANDLED.labels(event_type).inc()
        for event_id, event_type in due:
            if self._stop.is_set():
                break
            if event_type in takes and event_type not in record_only:
                run_event(
                    self.db,
                    self.registry,
                    event_id,
                    worker_id=self.worker_id,
                    policy=self.policy,
                    clock=self.clock,
                )
        return len(due)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                attempted = self.run_once()
            except Exception:
                log.exception("outbox worker pass failed; retrying")
                attempted = 0
            if attempted < self.batch:
                self._wake.wait(self.poll_seconds)
                if attempted:
                    self._stop.wait(self.pace_seconds)
