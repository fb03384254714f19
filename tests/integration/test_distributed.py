"""The distributed mode on this machine's PostgreSQL and RabbitMQ (each skipped with the reason
where it does not answer): the relay hands outbox events to the broker and a real Celery
worker runs them, once in effect, in order per case; a failed attempt comes back after its
back-off; a lane over a table of its own gets its passes, each schedule's once."""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import ClassVar

import pytest
from celery.contrib.testing.worker import start_worker
from sqlalchemy import select

from takedown.jobs import EventCatalogue, HandlerContext, HandlerRegistry
from takedown.jobs.distributed import CeleryPublisher, WorkerContext, make_app
from takedown.jobs.loop import BackgroundLoop
from takedown.jobs.relay import EVENT, Message, Relay, Schedule
from takedown.retry import RetryPolicy
from takedown.store import Database, SqlAlchemyUnitOfWork
from takedown.store.models import OutboxRow
from tests.integration.outbox_support import effects, record_effect
from tests.waiting import wait_until

pytestmark = pytest.mark.postgres


@dataclass(frozen=True)
class Step:
    event_type: ClassVar[str] = "test.step"
    case_id: int
    n: int


CATALOGUE = EventCatalogue(handled=[Step])


@pytest.fixture
def db(postgres_url):
    database = Database(postgres_url)
    yield database
    database.dispose()


def _publish(db: Database, events) -> list[int]:
    with SqlAlchemyUnitOfWork(db) as uow:
        for event in events:
            uow.publish(event)
        uow.commit()
    with db.session(readonly=True) as s:
        return list(s.scalars(select(OutboxRow.id).order_by(OutboxRow.id)))


def _statuses(db: Database) -> dict[str, int]:
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        return uow.outbox.counts()


def _app(broker_url, prefix, db, registry, *, lanes=None, policy=None):
    app = make_app(broker_url, ["events", "delivery"], prefix=prefix)
    app.takedown_context["context"] = WorkerContext(
        db=db, registry=registry, policy=policy or RetryPolicy(), lanes=lanes or {}
    )
    return app


def test_relayed_events_run_once_each_in_order_per_case_on_four_threads(
    db, broker_url, queue_prefix
):
    _ordered_once(db, broker_url, queue_prefix)


def test_the_same_on_redis(db, redis_broker_url):
    """Redis as the broker: no publisher confirms (each push is answered), the same rules."""
    from tests.cluster_support import delete_queues

    prefix = f"t{uuid.uuid4().hex[:10]}"
    try:
        _ordered_once(db, redis_broker_url, prefix)
    finally:
        delete_queues(redis_broker_url, prefix)


def _ordered_once(db, broker_url, queue_prefix) -> None:
    seen: list[tuple[int, int]] = []
    running: dict[int, int] = {}
    overlaps: list[int] = []
    lock = threading.Lock()

    def handle(event: Step, ctx: HandlerContext) -> None:
        with lock:
            running[event.case_id] = running.get(event.case_id, 0) + 1
            if running[event.case_id] > 1:
                overlaps.append(event.case_id)
        time.sleep(random.random() * 0.01)
        with lock:
            seen.append((event.case_id, event.n))
            running[event.case_id] -= 1

    registry = HandlerRegistry(CATALOGUE)
    registry.register(Step, handle)
    _publish(db, [Step(case, n) for n in range(6) for case in range(5)])
    app = _app(broker_url, queue_prefix, db, registry)
    relay = Relay(db, CeleryPublisher(app), lane_of={Step.event_type: "events"}, poll_seconds=0.02)
    with start_worker(app, concurrency=4, pool="threads", perform_ping_check=False):
        relay.start()
        try:
            wait_until(lambda: len(seen) >= 30, timeout=60, what="30 events handled")
            time.sleep(0.3)  # a duplicate would show by now
        finally:
            relay.stop()
    assert sorted(seen) == [(case, n) for case in range(5) for n in range(6)]  # once each
    for case in range(5):
        assert [n for c, n in seen if c == case] == list(range(6))  # in order
    assert overlaps == []  # never two of one case at once
    assert _statuses(db) == {"done": 30}


def test_a_second_message_for_an_event_does_nothing(db, broker_url, queue_prefix):
    """A relay killed between the broker's confirmation and its commit relays the event
    again: the second message finds it done."""
    from tests.integration.outbox_support import HANDLED, Pinged

    registry = HandlerRegistry(HANDLED)
    registry.register(Pinged, record_effect)
    [event_id] = _publish(db, [Pinged("once")])
    app = _app(broker_url, queue_prefix, db, registry)
    publisher = CeleryPublisher(app)
    publisher.publish([Message(EVENT, "events", event_id)] * 3)
    with start_worker(app, concurrency=2, pool="threads", perform_ping_check=False):
        wait_until(lambda: _statuses(db) == {"done": 1}, timeout=30, what="the event done")
        wait_until(
            lambda: publisher.depths(["events"]) == {"events": 0},
            timeout=30,
            what="the queue emptied",
        )
    assert effects(db, event_id) == 1


def test_a_failed_attempt_is_relayed_again_after_its_backoff(db, broker_url, queue_prefix):
    attempts: list[int] = []

    def flaky(event: Step, ctx: HandlerContext) -> None:
        attempts.append(ctx.attempt)
        if len(attempts) == 1:
            raise RuntimeError("the platform answered 503")

    registry = HandlerRegistry(CATALOGUE)
    registry.register(Step, flaky)
    _publish(db, [Step(1, 0), Step(1, 1)])
    app = _app(broker_url, queue_prefix, db, registry, policy=RetryPolicy(backoff_seconds=0.3))
    relay = Relay(db, CeleryPublisher(app), lane_of={Step.event_type: "events"}, poll_seconds=0.02)
    with start_worker(app, concurrency=2, pool="threads", perform_ping_check=False):
        relay.start()
        try:
            wait_until(lambda: _statuses(db) == {"done": 2}, timeout=30, what="both done")
        finally:
            relay.stop()
    # The case's second event waited for its first, which failed once and was tried again.
    assert attempts == [1, 2, 1]


def test_a_lane_over_its_own_table_gets_each_schedule_once_however_many_relays_run(
    db, broker_url, queue_prefix
):
    class Counting(BackgroundLoop):
        def __init__(self) -> None:
            super().__init__()
            self.passes = 0

        def run_once(self) -> int:
            self.passes += 1
            return 0

    lane = Counting()
    registry = HandlerRegistry(CATALOGUE)
    app = _app(broker_url, queue_prefix, db, registry, lanes={"delivery": lane})
    schedule = Schedule("pass:delivery", "delivery", timedelta(hours=1))
    relays = [
        Relay(db, CeleryPublisher(app), lane_of={}, schedules=[schedule], relay_id=f"r{i}")
        for i in range(3)
    ]
    with start_worker(app, concurrency=2, pool="threads", perform_ping_check=False):
        threads = [threading.Thread(target=r.run_once) for r in relays]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wait_until(lambda: lane.passes >= 1, timeout=30, what="the scheduled pass")
        time.sleep(0.5)
    assert lane.passes == 1


def test_a_relay_that_dies_after_the_broker_confirmed_leaves_the_event_relayed_again_and_run_once(
    db, broker_url, queue_prefix
):
    from tests.integration.outbox_support import HANDLED, Pinged

    class DiesBeforeItsCommit(CeleryPublisher):
        def publish(self, messages):
            super().publish(messages)  # the broker confirmed each
            raise SystemExit("killed")  # the transaction that chose them never commits

    registry = HandlerRegistry(HANDLED)
    registry.register(Pinged, record_effect)
    [event_id] = _publish(db, [Pinged("once")])
    app = _app(broker_url, queue_prefix, db, registry)
    lanes = {Pinged.event_type: "events"}
    with pytest.raises(SystemExit):
        Relay(db, DiesBeforeItsCommit(app), lane_of=lanes, relay_id="dying").relay_events()
    with db.session(readonly=True) as s:
        assert s.get(OutboxRow, event_id).relayed_until is None  # not marked: relayed again
    publisher = CeleryPublisher(app)
    assert Relay(db, publisher, lane_of=lanes, relay_id="next").relay_events() == 1
    assert publisher.depths(["events"]) == {"events": 2}
    with start_worker(app, concurrency=2, pool="threads", perform_ping_check=False):
        wait_until(
            lambda: publisher.depths(["events"]) == {"events": 0}, timeout=30, what="both run"
        )
        wait_until(lambda: _statuses(db) == {"done": 1}, timeout=30, what="the event done")
    assert effects(db, event_id) == 1


def test_relays_side_by_side_hand_each_event_over_once(db, broker_url, queue_prefix):
    from tests.integration.outbox_support import HANDLED, Pinged

    registry = HandlerRegistry(HANDLED)
    ids = _publish(db, [Pinged(f"e{i}") for i in range(300)])
    app = _app(broker_url, queue_prefix, db, registry)
    publishers = [CeleryPublisher(app) for _ in range(3)]
    relays = [
        Relay(db, p, lane_of={Pinged.event_type: "events"}, batch=50, relay_id=f"r{i}")
        for i, p in enumerate(publishers)
    ]
    barrier = threading.Barrier(3)

    def run(relay: Relay) -> None:
        barrier.wait()
        while relay.relay_events():
            pass

    threads = [threading.Thread(target=run, args=(r,)) for r in relays]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert publishers[0].depths(["events"]) == {"events": len(ids)}
    with db.session(readonly=True) as s:
        by = list(s.scalars(select(OutboxRow.relayed_by)))
    assert len(by) == 300 and None not in by


def test_a_long_chain_of_one_cases_events_does_not_hold_up_other_cases(
    db, broker_url, queue_prefix
):
    """600 pending events of one case and one of another, a batch of 500: the other case's
    is relayed in the first pass, beside the first of the chain."""
    ids = _publish(db, [Step(1, n) for n in range(600)] + [Step(2, 0)])
    app = _app(broker_url, queue_prefix, db, HandlerRegistry(CATALOGUE))
    relay = Relay(db, CeleryPublisher(app), lane_of={Step.event_type: "events"}, batch=500)
    assert relay.relay_events() == 2
    with db.session(readonly=True) as s:
        relayed = set(s.scalars(select(OutboxRow.id).where(OutboxRow.relayed_until.is_not(None))))
    assert relayed == {ids[0], ids[-1]}
