"""The relay: the distributed mode's hand-over of deferred work from the outbox to a broker.

Where ``TAKEDOWN_BROKER_URL`` is set, no process runs the outbox's lanes on threads of its
own; ``takedown relay`` moves each due event to the broker as a message for its lane's queue,
and ``takedown worker`` processes (``jobs.distributed``) run the same handlers, one message at
a time. The rules it keeps:

- **Confirmed, then marked.** An event is marked relayed (``relayed_until``) only after the
  broker confirmed its message, in the transaction that chose it. A relay that dies between
  the confirmation and its commit leaves the event unmarked: it is relayed again, and the
  worker's claim (``jobs.worker.run_event``) makes the second message a no-op.
- **Relayed again when no worker finished it.** The hand-over stands for ``lease``; an event
  still pending after that (its message lost with a broker's disk, or a worker died after
  taking it) is relayed again. A failed attempt ends the hand-over at once, so a retry is
  relayed when its back-off ends.
- **One relay per event.** On PostgreSQL the relay locks the rows it chose (``SKIP LOCKED``)
  until it has marked them, so relays running side by side take different events.
- **In order per case.** Of a case's pending events of one lane, only the oldest is relayed;
  the next waits until it is done (or parked), so two workers never run them at once or out
  of order. Events of other cases and other lanes go on.
- **Lanes over tables of their own** (delivery, filing, the exchanges) have no events to
  relay: a commit that publishes an event that wakes one makes the relay send that lane a
  *pass* (a worker runs one of the lane's passes), and every ``Schedule`` sends its pass when
  due, claimed in the database so it is sent once however many relays run.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from prometheus_client import Counter, Gauge

from takedown.clock import SYSTEM_CLOCK, Clock
from takedown.jobs.loop import BackgroundLoop
from takedown.store.db import Database
from takedown.store.outbox_repos import RelayCandidate
from takedown.store.uow import SqlAlchemyUnitOfWork

log = logging.getLogger("takedown.jobs.relay")

RELAYED = Counter(
    "takedown_relay_messages_total", "Messages the relay handed to the broker", ["lane", "kind"]
)
UNRELAYED = Gauge("takedown_relay_unrelayed_events", "Events due with no broker hand-over")
OLDEST_UNRELAYED = Gauge(
    "takedown_relay_oldest_unrelayed_seconds",
    "How long the oldest event due has waited for the relay",
)
QUEUE_DEPTH = Gauge(
    "takedown_queue_depth", "Messages waiting in a lane's queue at the broker", ["lane"]
)

EVENT, PASS = "event", "pass"
FORGET_AFTER = timedelta(hours=1)  # a part not seen for this long is dropped from the list


@dataclass(frozen=True)
class Message:
    """What a worker is asked to do: run outbox event ``arg`` (``kind`` ``event``), or one
    pass of lane ``arg`` (``pass``); it goes to ``lane``'s queue."""

    kind: str
    lane: str
    arg: int | str


class Publisher(Protocol):
    """The broker, as the relay needs it (``jobs.distributed.CeleryPublisher``)."""

    def publish(self, messages: Sequence[Message]) -> None:
        """Hand every message to the broker, in order; return only once the broker has
        confirmed each; raise if it did not."""

    def depths(self, lanes: Sequence[str]) -> dict[str, int]:
        """Messages waiting in each lane's queue."""


@dataclass(frozen=True)
class Schedule:
    """A periodic pass: ``lane``'s, every ``every``, sent once per period by whichever relay
    claims it (``name`` is its row in ``schedules``)."""

    name: str
    lane: str
    every: timedelta


def default_relay_id() -> str:
    return f"relay:{socket.gethostname()}:{os.getpid()}"


class Relay(BackgroundLoop):
    """Example::

    Relay(db, publisher, lane_of={"evidence.wanted": "evidence"},
          wakes={"delivery": frozenset({"actions.planned"})},
          schedules=[Schedule("delivery", "delivery", timedelta(seconds=1))]).start()

    ``lane_of``: the lane of each event type workers handle (what is relayed). ``wakes``: the
    event types whose publication sends a lane over a table of its own a pass.
    ``record_only``: the types kept only as the record, which the relay marks done where a
    process that did not know them stored them pending (as the in-process ``events`` lane
    does).
    """

    thread_name = "takedown-relay"

    def __init__(
        self,
        db: Database,
        publisher: Publisher,
        *,
        lane_of: Mapping[str, str],
        wakes: Mapping[str, frozenset[str]] | None = None,
        schedules: Sequence[Schedule] = (),
        record_only: frozenset[str] = frozenset(),
        lease: timedelta = timedelta(minutes=5),
        batch: int = 500,
        poll_seconds: float = 0.1,
        gauge_seconds: float = 5.0,
        clock: Clock = SYSTEM_CLOCK,
        relay_id: str | None = None,
    ) -> None:
        self.db = db
        self.publisher = publisher
        self.lane_of = dict(lane_of)
        self.wakes = dict(wakes or {})
        self.schedules = list(schedules)
        self.record_only = record_only
        self.lease = lease
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.gauge_seconds = gauge_seconds
        self.clock = clock
        self.relay_id = relay_id or default_relay_id()
        self._seen: int | None = None  # the newest event id looked at for wakes
        self._gauged_at = 0.0
        super().__init__()

    def run_once(self) -> int:
        """One pass: the due events, the lanes woken since the last pass, the schedules
        due. Returns how many messages went to the broker."""
        self.complete_record_only()
        sent = self.relay_events() + self.relay_wakes() + self.relay_schedules()
        self._gauge()
        return sent

    def _more_waiting(self, worked: int) -> bool:
        return worked >= self.batch

    def complete_record_only(self) -> int:
        if not self.record_only:
            return 0
        now = self.clock.now()
        with SqlAlchemyUnitOfWork(self.db) as uow:
            due = uow.outbox.due(now, self.batch, event_types=self.record_only)
            if due:
                uow.outbox.complete_unhandled([i for i, _ in due], now=now)
                uow.commit()
        return len(due)

    def relay_events(self) -> int:
        now = self.clock.now()
        with SqlAlchemyUnitOfWork(self.db) as uow:
            candidates = uow.outbox.relay_candidates(now, self.batch, event_types=self.lane_of)
            if not candidates:
                return 0
            keys = {c.ordering_key for c in candidates if c.ordering_key is not None}
            chosen = self._in_order(candidates, uow.outbox.pending_with_keys(keys))
            if not chosen:
                return 0
            self.publisher.publish(
                [Message(EVENT, self.lane_of[c.event_type], c.id) for c in chosen]
            )
            uow.outbox.mark_relayed(
                [c.id for c in chosen], by=self.relay_id, until=now + self.lease
            )
            uow.commit()
        for c in chosen:
            RELAYED.labels(self.lane_of[c.event_type], EVENT).inc()
        return len(chosen)

    def _in_order(
        self, candidates: list[RelayCandidate], pending: list[tuple[int, str, str]]
    ) -> list[RelayCandidate]:
        """The candidates that are the oldest pending event of their case in their lane."""
        first: dict[tuple[str, str], int] = {}
        for event_id, event_type, key in pending:
            lane = self.lane_of.get(event_type)
            if lane is not None and event_id < first.get((key, lane), event_id + 1):
                first[(key, lane)] = event_id
        return [
            c
            for c in candidates
            if c.ordering_key is None
            or first.get((c.ordering_key, self.lane_of[c.event_type]), c.id) == c.id
        ]

    def relay_wakes(self) -> int:
        """A pass for each lane over a table of its own whose waking events were published
        since the last look (from the newest event when the relay started: the schedules'
        passes take what was there before)."""
        types = frozenset().union(*self.wakes.values()) if self.wakes else frozenset()
        if not types:
            return 0
        with SqlAlchemyUnitOfWork(self.db, readonly=True) as uow:
            if self._seen is None:
                self._seen = uow.outbox.last_id()
                return 0
            self._seen, published = uow.outbox.types_since(self._seen, types)
        lanes = sorted(lane for lane, wakers in self.wakes.items() if wakers & published)
        if lanes:
            self.publisher.publish([Message(PASS, lane, lane) for lane in lanes])
            for lane in lanes:
                RELAYED.labels(lane, PASS).inc()
        return len(lanes)

    def relay_schedules(self) -> int:
        sent = 0
        for schedule in self.schedules:
            now = self.clock.now()
            with SqlAlchemyUnitOfWork(self.db) as uow:
                if not uow.schedules.claim(
                    schedule.name, now=now, next_at=now + schedule.every, by=self.relay_id
                ):
                    continue
                # Sent before the claim commits: a relay that fails here leaves it due.
                self.publisher.publish([Message(PASS, schedule.lane, schedule.lane)])
                uow.commit()
            RELAYED.labels(schedule.lane, PASS).inc()
            sent += 1
        return sent

    def _gauge(self) -> None:
        """The relay's lag and the queues' depths, every ``gauge_seconds``."""
        if time.monotonic() - self._gauged_at < self.gauge_seconds:
            return
        self._gauged_at = time.monotonic()
        now = self.clock.now()
        with SqlAlchemyUnitOfWork(self.db, readonly=True) as uow:
            count, oldest = uow.outbox.unrelayed(now, event_types=self.lane_of)
        lag = (now - oldest).total_seconds() if oldest is not None else 0.0
        UNRELAYED.set(count)
        OLDEST_UNRELAYED.set(lag)
        lanes = sorted(
            set(self.lane_of.values()) | set(self.wakes) | {s.lane for s in self.schedules}
        )
        depths: dict[str, int] = {}
        try:
            depths = self.publisher.depths(lanes)
            for lane, depth in depths.items():
                QUEUE_DEPTH.labels(lane).set(depth)
        except Exception as error:  # the gauges wait for the broker; the relay goes on
            log.warning("could not read the queues' depths: %s", error)
        # Every web process's /readyz and /metrics read this (``services.system.parts``).
        with SqlAlchemyUnitOfWork(self.db) as uow:
            uow.heartbeats.beat(
                self.relay_id,
                "relay",
                now=now,
                details={"unrelayed": count, "oldest_seconds": round(lag, 3), "depths": depths},
            )
            uow.heartbeats.forget(now - FORGET_AFTER)
            uow.commit()
