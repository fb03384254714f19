"""The outbox: events commit with their change, survive a dead worker, run at least once,
and their database effects happen once."""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from takedown.jobs import RetryPolicy, Worker, run_event
from takedown.store import SqlAlchemyUnitOfWork
from takedown.store.models import OutboxRow
from tests.integration.outbox_support import Pinged, effects, record_effect, registry_with

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
    time.sleep(0.1)
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

    restarted = Worker(db, registry_with(record_effect), policy=FAST)
    restarted.run_once()
    assert status(db, event_id).status == "pending", "the lease must still protect the event"
    time.sleep(1.1)
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
    assert run_event(db, registry, event_id, worker_id="w", policy=FAST) == "retry"
    time.sleep(0.2)
    assert run_event(db, registry, event_id, worker_id="w", policy=FAST) == "done"
    assert calls == [1, 2]
    assert effects(db, event_id) == 1


def test_failures_back_off_exponentially_and_end_dead_with_the_error(db):
    def broken(event, ctx):
        raise ValueError("webhook refused: 500")

    registry = registry_with(broken)
    event_id = publish(db)
    delays = []
    for attempt in range(1, FAST.max_attempts + 1):
        before = time.time()
        outcome = run_event(db, registry, event_id, worker_id="w", policy=FAST)
        row = status(db, event_id)
        delays.append(row.available_at.timestamp() - before)
        if attempt < FAST.max_attempts:
            assert outcome == "retry"
            time.sleep(max(0.0, row.available_at.timestamp() - time.time()) + 0.02)
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
    worker.start()
    try:
        time.sleep(0.2)
        event_id = publish(db)
        deadline = time.monotonic() + 5
        while status(db, event_id).status != "done" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert status(db, event_id).status == "done"
    finally:
        worker.stop()


def test_an_event_nobody_handles_is_marked_done(db):
    from takedown.jobs import HandlerRegistry

    event_id = publish(db)
    assert run_event(db, HandlerRegistry(), event_id, worker_id="w", policy=FAST) == "done"


def test_events_nobody_handles_are_completed_in_one_batch_through_the_writer(db):
    """In a web process the worker's batch goes through the group-commit writer (on SQLite a
    second writer would wait on the lock and hold up requests); without one it commits alone.
    Events that are leased by someone else, or already done, are left as they are."""
    from takedown.jobs import HandlerRegistry
    from takedown.store.group_commit import GroupCommitter
    from takedown.store.types import utcnow

    registry = HandlerRegistry()
    registry.register(Pinged)
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


def test_while_a_worker_runs_events_nobody_handles_are_stored_done_when_published(db):
    """Its worker would only mark them done, with a statement of its own; events someone
    handles stay pending for it, and once it stops every event waits for a worker again."""
    from takedown.jobs import HandlerRegistry

    handled = registry_with(record_effect)
    record_only = HandlerRegistry()
    record_only.register(Pinged)
    assert handled.without_handlers() == frozenset()
    assert record_only.without_handlers() == {Pinged.event_type}
    for registry in (record_only, handled):
        worker = Worker(db, registry, policy=FAST)
        worker.start()
        try:
            assert db.done_at_publish == registry.without_handlers()
        finally:
            worker.stop()
        assert db.done_at_publish == frozenset()
    # A worker that stops leaves alone what another, started after it, set.
    first, second = Worker(db, record_only, policy=FAST), Worker(db, record_only, policy=FAST)
    first.start()
    second.start()
    first.stop()
    assert db.done_at_publish == {Pinged.event_type}
    second.stop()
    assert db.done_at_publish == frozenset()

    db.done_at_publish = frozenset({Pinged.event_type})
    done = publish(db, "record-only")
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        row = uow.session.get(OutboxRow, done)
        assert row.status == "done" and row.attempts == 1 and row.handled_at is not None
    db.done_at_publish = frozenset({"another.type"})
    assert status(db, publish(db, "wanted")).status == "pending"
    # A commit of events all stored done does not wake the worker (at 2,000 reports a second
    # it made the worker poll after every group); one with an event left pending does.
    idle = Worker(db, handled, policy=FAST)
    db.done_at_publish = frozenset({Pinged.event_type})
    db.notify_committed(frozenset({Pinged.event_type}))
    assert not idle._wake.is_set()
    db.notify_committed(frozenset({Pinged.event_type, "another.type"}))
    assert idle._wake.is_set()
    db.done_at_publish = frozenset()
    # A worker's pass finds nothing to do for the one stored done.
    assert idle.run_once() == 1
