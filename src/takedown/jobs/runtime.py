"""The one runtime for deferred work in a process: its lanes, each a loop on a thread of its
own, and the one rule that wakes them.

A lane is a ``BackgroundLoop`` under a name: an outbox ``Worker`` for the events of that lane
(``events``, ``evidence``, ``email``, ``banks``), or a loop over a table of its own
(``delivery``: actions for the platform's webhook; ``filing``: reports to NCMEC). Every lane
claims work with a lease, tries failed work again and parks it for an operator by the one
``RetryPolicy`` (``takedown.retry``), with its own values. Lanes run side by side, so a slow
NCMEC or a platform whose media server hangs never holds up removals.

Waking: when a unit of work commits events, the lanes their types belong to look for work at
once, rather than at their next poll. Which lane a type belongs to is the table of reactions'
(``flows.lanes``), handed in as ``lane_of``, whether the outbox keeps the event for a
handler or only as the record (actions and filings wait in tables of their own). A type it
does not name wakes the ``default`` lane (a newer release's, during a rolling upgrade: left
pending unless some process has its handler), unless it is stored done when published
(``Database.done_at_publish``): then nothing follows it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from takedown.jobs.loop import BackgroundLoop
from takedown.store.db import Database


class Runtime:
    """Example::

    runtime = Runtime(db, lane_of={"actions.planned": "delivery"})
    runtime.add("events", Worker(db, registry))
    runtime.add("delivery", Deliverer(db, settings))
    runtime.start()
    """

    def __init__(self, db: Database, lane_of: Mapping[str, str], *, default: str = "events"):
        self.db = db
        self.lane_of = dict(lane_of)
        self.default = default
        self.lanes: dict[str, BackgroundLoop] = {}
        self._started = False
        db.on_commit(self._committed)

    def add(self, lane: str, loop: BackgroundLoop) -> None:
        """Run ``loop`` as ``lane``. Raises ``ValueError`` for a lane already added."""
        if lane in self.lanes:
            raise ValueError(f"the {lane!r} lane is already running here")
        self.lanes[lane] = loop
        if self._started:
            loop.start()

    def __iter__(self) -> Iterator[str]:
        return iter(self.lanes)

    def __contains__(self, lane: object) -> bool:
        return lane in self.lanes

    def __getitem__(self, lane: str) -> BackgroundLoop:
        return self.lanes[lane]

    def wake(self, lane: str) -> None:
        """Make ``lane`` look for work now, where it runs here (an operator's retry, say)."""
        loop = self.lanes.get(lane)
        if loop is not None:
            loop.wake()

    def lane_for(self, event_type: str) -> str:
        """The lane that follows up ``event_type``: the one the table names, else the default."""
        return self.lane_of.get(event_type, self.default)

    def _committed(self, event_types: frozenset[str]) -> None:
        for name in event_types:
            if name in self.lane_of or name not in self.db.done_at_publish:
                self.wake(self.lane_for(name))

    def run_once(self) -> int:
        """One pass of every lane, in the order they were added; how much work they took.
        For tests and tools that run deferred work step by step instead of on threads."""
        return sum(loop.run_once() for loop in self.lanes.values())

    def start(self) -> None:
        self._started = True
        for loop in self.lanes.values():
            loop.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every lane (each finishes the work in hand, up to ``timeout``)."""
        self._started = False
        for loop in self.lanes.values():
            loop.stop(timeout)
