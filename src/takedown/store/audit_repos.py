"""The audit log: entries chained onto the head as their unit of work commits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import select

from takedown.audit import GENESIS_HASH, AuditRecord, entry_hash
from takedown.store.models import (
    AuditEntryRow,
    AuditHeadRow,
)
from takedown.store.rawsql import HasSession, RawRepository
from takedown.store.values import row_value


def _audit_record(row: AuditEntryRow) -> AuditRecord:
    return row_value(AuditRecord, row)


_HEAD_SQLITE = "SELECT seq, hash FROM audit_head WHERE id = 1"  # the writer lock serialises
_HEAD_LOCKED = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE"


_INSERT_AUDIT = (
    "INSERT INTO audit_log (seq, at, actor_kind, actor_id, actor_name, action, target_type, "
    "target_id, details, prev_hash, hash) VALUES (:seq, :at, :actor_kind, :actor_id, "
    ":actor_name, :action, :target_type, :target_id, :details, :prev_hash, :hash)"
)


class AuditRepository(RawRepository):
    """Entries wait in the unit of work and are written together just before it commits
    (``flush``), chained onto the head under its row lock (PostgreSQL) or SQLite's writer
    lock, so concurrent writers form one chain and each holds the head only while it commits.
    A group commit's hundreds of entries cost one read and one update of the head."""

    def __init__(self, uow: HasSession) -> None:
        super().__init__(uow)
        self._pending: list[dict[str, Any]] = []
        # The head as this transaction last wrote it. Once read it stays ours until the
        # transaction ends (SQLite's write lock, PostgreSQL's FOR UPDATE), so a later flush in
        # the same unit of work need not read it again.
        self._head: tuple[int, str] | None = None

    def end_transaction(self) -> None:
        """The transaction ended (committed or rolled back): drop what was not written, and
        the head, which may move under other writers from now on."""
        self._pending.clear()
        self._head = None

    def append(
        self,
        *,
        actor_kind: str,
        actor_id: int | None,
        actor_name: str,
        action: str,
        target_type: str | None,
        target_id: str | None,
        details: dict[str, Any],
        at: datetime,
    ) -> None:
        """Add an entry to this transaction; it is written by ``flush`` (at the latest when
        the unit of work commits) and commits or rolls back with everything else."""
        self._pending.append(
            {
                "at": at,
                "actor_kind": actor_kind,
                "actor_id": actor_id,
                "actor_name": actor_name,
                "action": action,
                "target_type": target_type,
                "target_id": target_id,
                "details": dict(details),
            }
        )

    def flush(self) -> None:
        """Chain the waiting entries onto the head and write them, in this transaction."""
        if not self._pending:
            return
        raw = self._raw
        head = self._head or raw.one(_HEAD_SQLITE if raw.sqlite else _HEAD_LOCKED)
        if head is None:  # made by the first migration; gone only if someone deleted it
            raise RuntimeError("the audit log's head row is missing; run `takedown audit verify`")
        seq, prev = int(head[0]), str(head[1])
        rows = []
        for entry in self._pending:
            seq += 1
            digest = entry_hash(AuditRecord(seq=seq, prev_hash=prev, **entry))
            rows.append(
                {
                    **entry,
                    "seq": seq,
                    "at": raw.dt(entry["at"]),
                    "details": raw.json(entry["details"]),
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            prev = digest
        raw.write_many(_INSERT_AUDIT, rows)
        raw.write(
            "UPDATE audit_head SET seq = :seq, hash = :hash WHERE id = 1",
            {"seq": seq, "hash": prev},
        )
        self._head = (seq, prev)
        self._pending.clear()

    def head(self) -> tuple[int, str]:
        self.flush()
        head = self._s.get(AuditHeadRow, 1)
        return (head.seq, head.hash) if head else (0, GENESIS_HASH)

    def iter_all(self, batch: int = 1000) -> Iterator[AuditRecord]:
        self.flush()
        last = 0
        while True:
            rows = list(
                self._s.scalars(
                    select(AuditEntryRow)
                    .where(AuditEntryRow.seq > last)
                    .order_by(AuditEntryRow.seq)
                    .limit(batch)
                )
            )
            if not rows:
                return
            for row in rows:
                yield _audit_record(row)
            last = rows[-1].seq
            self._s.expunge_all()

    def list(
        self,
        *,
        action: str | None = None,
        target_type: str | None = None,
        target_id: str | None = None,
        before_seq: int | None = None,
        limit: int = 100,
    ) -> list[AuditRecord]:
        self.flush()
        q = select(AuditEntryRow).order_by(AuditEntryRow.seq.desc()).limit(limit)
        if action:
            q = q.where(AuditEntryRow.action == action)
        if target_type:
            q = q.where(AuditEntryRow.target_type == target_type)
        if target_id:
            q = q.where(AuditEntryRow.target_id == target_id)
        if before_seq:
            q = q.where(AuditEntryRow.seq < before_seq)
        return [_audit_record(r) for r in self._s.scalars(q)]
