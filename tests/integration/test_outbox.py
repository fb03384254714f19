"""The outbox: events commit with their change, survive a dead worker, run at least once,
and their database effects happen once."""

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from takedown.clock import MovableClock
from takedown.flows import SYSTEM_EVENTS
from takedown.jobs import HandlerRegistry, RetryPolicy, Runtime, Worker, run_event
from takedown.server.container import Container
from takedown.store import SqlAlchemyUnitOfWork
from takedown.store.models import OutboxRow
from tests.integration.outbox_support import (
    RECORD_ONLY,
    Pinged,
    effects,
    record_effect,
    registry_with,
)
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
FAST = RetryPolicy(max_attempts=3, backoff_seconds=0.05, lease_seconds=1.0)


def publish(db, label="x") -> int:
    """Publish one event; its outbox id (the newest, since tests publish one at a time)."""
    with SqlAlchemyUnitOfWork(db) as uow:
        uow.publish(Pinged(label=label))
        uow.commit()
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        return int(uow.session.scalar(select(func.max(OutboxRow.id))))


def status(db, event_id):
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        return uow.outbox.get(event_id)


def test_event_committed_while_the_worker_is_stopped_is_handled_after_restart(db):
    registry = registry_with(record_effect)
    first = Worker(db, registry, policy=FAST)
    first.start()
    first.stop()
    event_id = publish(db)  # committed; nothing is running to handle it
    assert status(db, event_id).status == "pending" and effects(db) == 0
    restarted = Worker(db, registry, policy=FAST)
    assert restarted.run_once() == 1
    assert status(db, event_id).status == "done"
    assert restarted.run_once() == 0
    assert effects(db, event_id) == 1


def test_a_worker_killed_after_claiming_leaves_the_event_for_the_next_one(db, database_url):
    event_id = publish(db, "killed")
    # A real worker process claims the event and dies (SIGKILL) before its handler runs.
    script = f"""
import os, signal
from takedown.jobs import RetryPolicy, Worker
from takedown.store import Database
from tests.integration.outbox_support import registry_with

def die(event, ctx):
    os.kill(os.getpid(), signal.SIGKILL)

db = Database({database_url!r})
Worker(db, registry_with(die), policy=RetryPolicy(lease_seconds=1.0)).run_once()
"""
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
    )
    assert proc.returncode == -9, proc.stderr
    held = status(db, event_id)
    assert held.status == "pending" and held.attempts == 1 and held.locked_by
    assert effects(db) == 0

    clock = MovableClock()
    restarted = Worker(db, registry_with(record_effect), policy=FAST, clock=clock)
    restarted.run_once()
    assert status(db, event_id).status == "pending", "the lease must still protect the event"
    clock.advance(1.1)  # past the dead worker's lease
    restarted.run_once()
    assert status(db, event_id).status == "done"
    assert effects(db, event_id) == 1


def test_effects_of_a_failed_attempt_roll_back_so_a_retry_does_them_once(db):
    calls = []

    def flaky(event, ctx):
        record_effect(event, ctx)
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            raise RuntimeError("receiver timed out")

    registry = registry_with(flaky)
    event_id = publish(db)
    clock = MovableClock()
    assert run_event(db, registry, event_id, worker_id="w", policy=FAST, clock=clock) == "retry"
    clock.advance(0.2)  # past the back-off
    assert run_event(db, registry, event_id, worker_id="w", policy=FAST, clock=clock) == "done"
    assert calls == [1, 2]
    assert effects(db, event_id) == 1


def test_failures_back_off_exponentially_and_end_dead_with_the_error(db):
    def broken(event, ctx):
        raise ValueError("webhook refused: 500")

    registry = registry_with(broken)
    event_id = publish(db)
    clock = MovableClock(frozen=True)  # still while an attempt runs: each delay is exact
    delays = []
    for attempt in range(1, FAST.max_attempts + 1):
        before = clock.time()
        outcome = run_event(db, registry, event_id, worker_id="w", policy=FAST, clock=clock)
        row = status(db, event_id)
        delays.append(row.available_at.timestamp() - before)
        if attempt < FAST.max_attempts:
            assert outcome == "retry"
            clock.advance(max(0.0, row.available_at.timestamp() - clock.time()) + 0.02)
    assert outcome == "dead"
    final = status(db, event_id)
    assert final.status == "dead" and final.attempts == FAST.max_attempts
    assert "webhook refused: 500" in final.last_error
    # base 0.05 s, doubling, ±20% jitter
    assert 0.03 <= delays[0] <= 0.1 and 0.07 <= delays[1] <= 0.16


def test_retry_delay_doubles_and_is_capped():
    policy = RetryPolicy(backoff_seconds=2, max_backoff_seconds=60)
    assert timedelta(seconds=1.6) <= policy.delay(1) <= timedelta(seconds=2.4)
    assert timedelta(seconds=6.4) <= policy.delay(3) <= timedelta(seconds=9.6)
    assert policy.delay(30) <= timedelta(seconds=72)


def test_the_worker_thread_wakes_when_events_commit(db):
    worker = Worker(db, registry_with(record_effect), policy=FAST, poll_seconds=30)
    Runtime(db, {}).add("events", worker)
    worker.start()
    try:
        event_id = publish(db)
        wait_until(lambda: status(db, event_id).status == "done", timeout=5, what="handling")
    finally:
        worker.stop()


def test_an_event_nobody_handles_is_marked_done(db):
    event_id = publish(db)
    registry = HandlerRegistry(RECORD_ONLY)
    assert run_event(db, registry, event_id, worker_id="w", policy=FAST) == "done"


def test_a_handled_event_without_a_handler_here_is_left_for_a_worker_that_has_one(db):
    event_id = publish(db)
    here = Worker(db, registry_with(), policy=FAST)
    assert here.run_once() == 0  # not even claimed
    assert run_event(db, registry_with(), event_id, worker_id="w", policy=FAST) == "skipped"
    left = status(db, event_id)
    assert (left.status, left.attempts, left.locked_by) == ("pending", 0, None)
    assert Worker(db, registry_with(record_effect), policy=FAST).run_once() == 1
    assert status(db, event_id).status == "done" and effects(db, event_id) == 1


def test_events_nobody_handles_are_completed_in_one_batch_through_the_writer(db):
    """In a web process the worker's batch goes through the group-commit writer (on SQLite a
    second writer would wait on the lock and hold up requests); without one it commits alone.
    Events that are leased by someone else, or already done, are left as they are."""
    from takedown.store.group_commit import GroupCommitter
    from takedown.store.types import utcnow

    registry = HandlerRegistry(RECORD_ONLY)
    ids = [publish(db, f"batch-{i}") for i in range(5)]
    with SqlAlchemyUnitOfWork(db) as uow:
        now = utcnow()
        assert uow.outbox.claim(ids[0], worker="other", now=now, until=now + timedelta(hours=1))
        uow.commit()
    writer = GroupCommitter(db)
    writer.start()
    try:
        worker = Worker(db, registry, policy=FAST, writer=writer)
        assert worker.run_once() == 4  # the leased one is not due
        assert writer.items == 1  # one batch, committed by the writer
    finally:
        writer.stop()
    assert status(db, ids[0]).status == "pending"
    for event_id in ids[1:]:
        message = status(db, event_id)
        assert message.status == "done" and message.attempts == 1
    assert Worker(db, registry, policy=FAST).run_once() == 0


def test_every_process_stores_record_only_events_done_when_published(db, settings):
    """Whether a type is handled is the catalogue's, not a process's: a container sets its
    database to store the catalogue's record-only types done at publish (a worker would only
    mark them so, with a statement of its own), whether or not it runs a worker, and leaves a
    handled type pending even with no handler of its own."""
    Container(settings=settings, db=db, registry=HandlerRegistry(RECORD_ONLY))
    assert db.done_at_publish == {Pinged.event_type}
    done = publish(db, "record-only")
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        row = uow.session.get(OutboxRow, done)
        assert row.status == "done" and row.attempts == 1 and row.handled_at is not None
    Container(settings=settings, db=db, registry=registry_with())
    assert db.done_at_publish == frozenset()
    assert status(db, publish(db, "wanted")).status == "pending"
    # A commit of events all stored done does not wake the worker (at 2,000 reports a second
    # it made the worker poll after every group); one with an event left pending does.
    idle = Worker(db, registry_with(record_effect), policy=FAST)
    Runtime(db, {}).add("events", idle)
    db.done_at_publish = frozenset({Pinged.event_type})
    db.notify_committed(frozenset({Pinged.event_type}))
    assert not idle._wake.is_set()
    db.notify_committed(frozenset({Pinged.event_type, "another.type"}))
    assert idle._wake.is_set()


def test_the_systems_catalogue_declares_every_published_event_once():
    from takedown.cases import ReporterEmailQueued, ReportReceived

    assert ReporterEmailQueued.event_type in SYSTEM_EVENTS.handled
    assert ReportReceived.event_type in SYSTEM_EVENTS.record_only
    assert not SYSTEM_EVENTS.handled & SYSTEM_EVENTS.record_only
    with pytest.raises(ValueError, match="not declared handled"):
        HandlerRegistry(SYSTEM_EVENTS).register(ReportReceived, lambda event, ctx: None)


def test_the_runtime_runs_a_handled_type_that_no_lane_names(db, settings):
    """The default lane takes every handled type of the registry's catalogue that the table
    of reactions gives no lane (a catalogue of a process's own), so none waits for ever."""
    from takedown import bootstrap
    from takedown.clock import Clock

    registry = registry_with(record_effect)
    runtime = bootstrap.runtime(settings, db, registry, writer=None, clock=Clock(), vault=None)
    event_id = publish(db)
    assert runtime.run_once() == 1
    assert status(db, event_id).status == "done" and effects(db, event_id) == 1
