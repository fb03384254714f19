"""Health of the installation: is the database reachable and its schema current?"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from takedown.store import SqlAlchemyUnitOfWork, UnitOfWork, migrate


@dataclass(frozen=True)
class Readiness:
    database: str  # "ok" or the error
    schema_revision: str | None
    expected_revision: str | None

    @property
    def ready(self) -> bool:
        return self.database == "ok" and self.schema_revision == self.expected_revision


def readiness(*, uow: SqlAlchemyUnitOfWork) -> Readiness:
    """Never raises: a failure is reported in the result, for a load balancer to act on. It
    checks the store itself, so it takes the store's own unit of work, not the port."""
    expected = migrate.head_revision()
    try:
        with uow:
            uow.session.execute(text("SELECT 1"))
        revision = migrate.current_revision(uow.db)
    except SQLAlchemyError as exc:
        return Readiness(
            database=f"unreachable: {type(exc).__name__}",
            schema_revision=None,
            expected_revision=expected,
        )
    return Readiness(database="ok", schema_revision=revision, expected_revision=expected)


def outbox_counts(*, uow: UnitOfWork) -> dict[str, int]:
    with uow:
        return uow.outbox.counts()


@dataclass(frozen=True)
class ExchangeReading:
    """An exchange's sync, for the metrics."""

    name: str
    kind: str
    entries: int
    last_success_at: datetime | None
    failing: bool  # its last pass failed
    errors: int


def exchange_readings(*, uow: UnitOfWork) -> list[ExchangeReading]:
    with uow:
        return [
            ExchangeReading(
                name=e.name,
                kind=e.kind.value,
                entries=uow.exchanges.live_entries(e.id),
                last_success_at=e.last_success_at,
                failing=e.failing,
                errors=len(e.errors),
            )
            for e in uow.exchanges.all()
        ]


ALIVE = timedelta(seconds=30)  # a relay or worker not seen for this long counts as gone


@dataclass(frozen=True)
class Parts:
    """The distributed mode's relays and workers, as their heartbeats tell."""

    relays: list[dict[str, Any]] = field(default_factory=list)
    workers: list[dict[str, Any]] = field(default_factory=list)
    unserved: list[str] = field(default_factory=list)  # lanes no live worker takes
    relay_lag_seconds: float | None = None  # the oldest due event's wait, by the relays
    depths: dict[str, int] = field(default_factory=dict)  # messages waiting per lane


def parts(*, uow: UnitOfWork, now: datetime, lanes: list[str]) -> Parts:
    """Who is alive (seen within ``ALIVE``), which of ``lanes`` no live worker takes, and
    what the freshest relay reported."""
    with uow:
        beats = uow.heartbeats.since(now - ALIVE)
    relays = [b for b in beats if b.kind == "relay"]
    workers = [b for b in beats if b.kind == "worker"]
    taken = {q for w in workers for q in w.details.get("queues", [])}
    latest = max(relays, key=lambda b: b.seen_at, default=None)
    return Parts(
        relays=[{"name": b.name, "seen_seconds_ago": _ago(now, b.seen_at)} for b in relays],
        workers=[
            {
                "name": b.name,
                "seen_seconds_ago": _ago(now, b.seen_at),
                "queues": b.details.get("queues", []),
            }
            for b in workers
        ],
        unserved=sorted(set(lanes) - taken),
        relay_lag_seconds=None if latest is None else latest.details.get("oldest_seconds"),
        depths=dict(latest.details.get("depths", {})) if latest is not None else {},
    )


def _ago(now: datetime, then: datetime) -> float:
    return round((now - then).total_seconds(), 1)
