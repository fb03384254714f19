"""Health of the installation: is the database reachable and its schema current?"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
