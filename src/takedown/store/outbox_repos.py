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
        kept as the record. Its ordering key is its payload's ``case_id``, where it has one."""
        self._pending.append((event_type, payload, done))

    def flush(self) -> None:
        if not self._pending:
            return
        raw = self._raw
        now = raw.dt(utcnow())
        raw.write_many(
            "INSERT INTO outbox (event_type, payload, status, attempts, created_at, "
            "available_at, handled_at, ordering_key) "
            "VALUES (:event_type, :payload, :status, :attempts, :now, :now, :handled_at, :key)",
            [
                {
                    "key": None if done else _ordering_key(payload),
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
            .values(
                locked_by=None,
                locked_until=None,
                relayed_until=None,
                attempts=OutboxRow.attempts - 1,
            )
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
        # A relayed event's hand-over ends with the attempt: its retry is relayed when due.
        values: dict[str, Any] = {
            "last_error": error[:4000],
            "locked_until": None,
            "relayed_until": None,
        }
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
                status="pending",
                attempts=0,
                available_at=now,
                locked_by=None,
                locked_until=None,
                relayed_until=None,
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

    # The relay (``jobs.relay``): the distributed mode's hand-over of events to a broker.

    def relay_candidates(
        self, now: datetime, limit: int, *, event_types: Collection[str]
    ) -> list[RelayCandidate]:
        """Pending events of ``event_types`` due now that no worker holds and no relay's
        hand-over covers, oldest first, leaving out those behind an earlier pending event of
        the same case and type (a long chain of one case's events never fills the batch and
        holds up other cases'). On PostgreSQL the rows stay locked (``SKIP LOCKED``) until
        this transaction ends, so relays running side by side take different events."""
        self.flush()
        if not event_types:
            return []
        raw = self._raw
        names = {f"t{n}": name for n, name in enumerate(sorted(event_types))}
        params: dict[str, Any] = {"now": raw.dt(now), "limit": limit, **names}
        lock = "" if raw.sqlite else " FOR UPDATE SKIP LOCKED"
        rows = raw.all(
            "SELECT id, event_type, ordering_key FROM outbox "  # noqa: S608 - placeholders only
            "WHERE status = 'pending' AND available_at <= :now "
            "AND (locked_until IS NULL OR locked_until < :now) "
            "AND (relayed_until IS NULL OR relayed_until < :now) "
            f"AND event_type IN ({', '.join(':' + key for key in names)}) "
            "AND (ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM outbox AS earlier "
            "WHERE earlier.status = 'pending' AND earlier.ordering_key = outbox.ordering_key "
            "AND earlier.event_type = outbox.event_type AND earlier.id < outbox.id)) "
            f"ORDER BY id LIMIT :limit{lock}",
            params,
        )
        return [RelayCandidate(int(i), str(t), k) for i, t, k in rows]

    def pending_with_keys(self, keys: Collection[str]) -> list[tuple[int, str, str]]:
        """(id, event type, key) of every pending event with one of ``keys``: what decides
        which of a case's events may run now."""
        self.flush()
        if not keys:
            return []
        params: dict[str, Any] = {f"k{n}": key for n, key in enumerate(sorted(keys))}
        rows = self._raw.all(
            "SELECT id, event_type, ordering_key FROM outbox WHERE status = 'pending' "  # noqa: S608 - placeholders only
            f"AND ordering_key IN ({', '.join(':' + key for key in params)})",
            params,
        )
        return [(int(i), str(t), str(k)) for i, t, k in rows]

    def mark_relayed(self, event_ids: Sequence[int], *, by: str, until: datetime) -> None:
        """The broker confirmed these events: the hand-over stands until ``until``."""
        self.flush()
        if not event_ids:
            return
        self._s.execute(
            update(OutboxRow)
            .where(OutboxRow.id.in_(list(event_ids)), OutboxRow.status == "pending")
            .values(relayed_until=until, relayed_by=by[:64])
        )

    def unrelayed(
        self, now: datetime, *, event_types: Collection[str]
    ) -> tuple[int, datetime | None]:
        """How many events of ``event_types`` are due and with no broker, and since when
        the oldest of them has been due (for the relay's lag)."""
        self.flush()
        if not event_types:
            return 0, None
        row = self._s.execute(
            select(func.count(), func.min(OutboxRow.available_at)).where(
                OutboxRow.status == "pending",
                OutboxRow.available_at <= now,
                OutboxRow.event_type.in_(sorted(event_types)),
                (OutboxRow.relayed_until.is_(None)) | (OutboxRow.relayed_until < now),
                (OutboxRow.locked_until.is_(None)) | (OutboxRow.locked_until < now),
            )
        ).one()
        return int(row[0]), row[1]

    def last_id(self) -> int:
        """The newest event's id (0 for none)."""
        self.flush()
        return int(self._s.scalar(select(func.max(OutboxRow.id))) or 0)

    def types_since(self, after_id: int, event_types: Collection[str]) -> tuple[int, set[str]]:
        """Which of ``event_types`` were published after ``after_id``, and the newest id
        seen: what tells a relay that a lane over a table of its own has work."""
        self.flush()
        if not event_types:
            return after_id, set()
        rows = self._s.execute(
            select(OutboxRow.id, OutboxRow.event_type).where(
                OutboxRow.id > after_id, OutboxRow.event_type.in_(sorted(event_types))
            )
        ).all()
        newest = max((int(i) for i, _ in rows), default=after_id)
        return newest, {str(t) for _, t in rows}


@dataclass(frozen=True)
class RelayCandidate:
    id: int
    event_type: str
    ordering_key: str | None


def _ordering_key(payload: dict[str, Any]) -> str | None:
    case_id = payload.get("case_id")
    return None if case_id is None else f"case:{case_id}"


class ScheduleRepository(RawRepository):
    """Periodic jobs' next runs: one claim per run, whoever asks."""

    def claim(self, name: str, *, now: datetime, next_at: datetime, by: str) -> bool:
        """Whether this caller runs ``name`` now: its run was due (or it never ran), and
        its next run is now set to ``next_at``. Of callers asking at once, one wins."""
        raw = self._raw
        params = {"name": name, "now": raw.dt(now), "next": raw.dt(next_at), "by": by[:64]}
        raw.execute(
            "INSERT INTO schedules (name, next_at) VALUES (:name, :now) ON CONFLICT DO NOTHING",
            params,
        )
        result = raw.execute(
            "UPDATE schedules SET next_at = :next, last_run_at = :now, last_run_by = :by "
            "WHERE name = :name AND next_at <= :now",
            params,
        )
        return bool(result.rowcount)


@dataclass(frozen=True)
class Heartbeat:
    name: str
    kind: str  # relay | worker
    seen_at: datetime
    details: dict[str, Any]


class HeartbeatRepository(RawRepository):
    """The distributed mode's parts' signs of life (``jobs.relay``, ``jobs.distributed``)."""

    def beat(self, name: str, kind: str, *, now: datetime, details: dict[str, Any]) -> None:
        raw = self._raw
        params = {
            "name": name[:128],
            "kind": kind,
            "now": raw.dt(now),
            "details": raw.json(details),
        }
        raw.execute(
            "INSERT INTO heartbeats (name, kind, seen_at, details) "
            "VALUES (:name, :kind, :now, :details) "
            "ON CONFLICT (name) DO UPDATE SET seen_at = :now, details = :details, kind = :kind",
            params,
        )

    def since(self, when: datetime) -> list[Heartbeat]:
        """The parts seen since ``when``, by name; older rows (parts gone) are deleted."""
        raw = self._raw
        rows = raw.all(
            "SELECT name, kind, seen_at, details FROM heartbeats WHERE seen_at >= :when "
            "ORDER BY name",
            {"when": raw.dt(when)},
        )
        return [
            Heartbeat(str(n), str(k), raw.read_dt(at) or when, raw.read_json(d) or {})
            for n, k, at, d in rows
        ]

    def forget(self, before: datetime) -> None:
        self._raw.execute(
            "DELETE FROM heartbeats WHERE seen_at < :before", {"before": self._raw.dt(before)}
        )
