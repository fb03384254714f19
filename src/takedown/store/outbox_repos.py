"""The outbox: events written with the change that caused them, claimed and marked by the job
runtime's lanes."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from takedown.store.models import (
    OutboxRow,
)
from takedown.store.rawsql import HasSession, RawRepository
from takedown.store.types import utcnow
from takedown.store.values import row_value


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    event_type: str
    payload: dict[str, Any]
    status: str
    attempts: int
    created_at: datetime
    available_at: datetime
    locked_by: str | None
    last_error: str | None


class OutboxRepository(RawRepository):
    """Events published in a unit of work wait in it and are inserted together just before it
    commits (``flush``; also before any read of the outbox in the same transaction), so a
    group commit's events cost one batched statement."""

    def __init__(self, uow: HasSession) -> None:
        super().__init__(uow)
        self._pending: list[tuple[str, dict[str, Any], bool]] = []

    def add(self, *, event_type: str, payload: dict[str, Any], done: bool = False) -> None:
        """An event to insert with the transaction: pending, for a worker; or ``done``, as
        a worker marks an event no handler wants (``complete_unhandled``), for events only
        kept as the record."""
        self._pending.append((event_type, payload, done))

    def flush(self) -> None:
        if not self._pending:
            return
        raw = self._raw
        now = raw.dt(utcnow())
        raw.write_many(
            "INSERT INTO outbox (event_type, payload, status, attempts, created_at, "
            "available_at, handled_at) "
            "VALUES (:event_type, :payload, :status, :attempts, :now, :now, :handled_at)",
            [
                {
                    "event_type": event_type,
                    "payload": raw.json(payload),
                    "status": "done" if done else "pending",
                    "attempts": 1 if done else 0,
                    "handled_at": now if done else None,
                    "now": now,
                }
                for event_type, payload, done in self._pending
            ],
        )
        self._pending.clear()

    def end_transaction(self) -> None:
        """The transaction ended: drop what was not written."""
        self._pending.clear()

    def get(self, event_id: int) -> OutboxMessage | None:
        self.flush()
        row = self._s.get(OutboxRow, event_id)
        return row_value(OutboxMessage, row) if row else None

    def due(
        self, now: datetime, limit: int, *, event_types: Collection[str] | None = None
    ) -> list[tuple[int, str]]:
        """(id, event type) of the events due now, oldest first; only of ``event_types`` when
        given (what the asking worker can handle)."""
        self.flush()
        raw = self._raw
        params: dict[str, Any] = {"now": raw.dt(now), "limit": limit}
        only = ""
        if event_types is not None:
            if not event_types:
                return []
            names = {f"t{n}": name for n, name in enumerate(sorted(event_types))}
            params.update(names)
            only = f"AND event_type IN ({', '.join(':' + key for key in names)}) "
        rows = raw.all(
            "SELECT id, event_type FROM outbox WHERE status = 'pending' AND available_at <= :now "  # noqa: S608 - placeholders only
            f"AND (locked_until IS NULL OR locked_until < :now) {only}"
            "ORDER BY available_at, id LIMIT :limit",
            params,
        )
        return [(int(i), str(t)) for i, t in rows]

    def complete_unhandled(self, event_ids: Sequence[int], *, now: datetime) -> None:
        """Mark events that no handler wants as done, in one statement (those still pending and
        not leased by anyone). A write nobody reads (``RawSql.write``): on PostgreSQL it goes
        out with the group's other writes at its commit instead of in a round trip of its own."""
        self.flush()
        if not event_ids:
            return
        raw = self._raw
        params: dict[str, Any] = {f"i{n}": int(i) for n, i in enumerate(event_ids)}
        placeholders = ", ".join(f":{name}" for name in params)
        params["now"] = raw.dt(now)
        sql = (
            "UPDATE outbox SET status = 'done', handled_at = :now, attempts = attempts + 1 "  # noqa: S608 - placeholders only
            f"WHERE id IN ({placeholders}) AND status = 'pending' "
            "AND (locked_until IS NULL OR locked_until < :now)"
        )
        raw.write(sql, params)

    def claim(self, event_id: int, *, worker: str, now: datetime, until: datetime) -> bool:
        self.flush()
        result = self._s.execute(
            update(OutboxRow)
            .where(
                OutboxRow.id == event_id,
                OutboxRow.status == "pending",
                OutboxRow.available_at <= now,
                (OutboxRow.locked_until.is_(None)) | (OutboxRow.locked_until < now),
            )
            .values(locked_by=worker, locked_until=until, attempts=OutboxRow.attempts + 1)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def release(self, event_id: int, *, worker: str) -> None:
        """Give back a claim this worker cannot act on, as if it had never been made."""
        self.flush()
        self._s.execute(
            update(OutboxRow)
            .where(OutboxRow.id == event_id, OutboxRow.locked_by == worker)
            .values(locked_by=None, locked_until=None, attempts=OutboxRow.attempts - 1)
        )

    def mark_done(self, event_id: int, *, worker: str, now: datetime) -> bool:
        self.flush()
        result = self._s.execute(
            update(OutboxRow)
            .where(OutboxRow.id == event_id, OutboxRow.locked_by == worker)
            .values(status="done", handled_at=now, locked_until=None, last_error=None)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    def mark_failed(
        self, event_id: int, *, worker: str, error: str, retry_at: datetime | None
    ) -> None:
        self.flush()
        values: dict[str, Any] = {"last_error": error[:4000], "locked_until": None}
        if retry_at is None:
            values["status"] = "dead"
        else:
            values["available_at"] = retry_at
        self._s.execute(
            update(OutboxRow)
            .where(OutboxRow.id == event_id, OutboxRow.locked_by == worker)
            .values(**values)
        )

    def parked(self, limit: int = 200) -> list[OutboxMessage]:
        """Events parked after their last attempt (``dead``), the latest first."""
        self.flush()
        rows = self._s.scalars(
            select(OutboxRow)
            .where(OutboxRow.status == "dead")
            .order_by(OutboxRow.available_at.desc(), OutboxRow.id.desc())
            .limit(limit)
        )
        return [row_value(OutboxMessage, row) for row in rows]

    def requeue(self, event_id: int, *, now: datetime) -> OutboxMessage | None:
        """A parked event is due again now, its attempts counted afresh (its last error
        kept until it is handled); None where no parked event has that id."""
        self.flush()
        result = self._s.execute(
            update(OutboxRow)
            .where(OutboxRow.id == event_id, OutboxRow.status == "dead")
            .values(
                status="pending", attempts=0, available_at=now, locked_by=None, locked_until=None
            )
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        row = self._s.get(OutboxRow, event_id, populate_existing=True)
        return row_value(OutboxMessage, row) if row else None

    def counts(self) -> dict[str, int]:
        self.flush()
        rows = self._s.execute(
            select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
        ).all()
        return {status: int(n) for status, n in rows}
