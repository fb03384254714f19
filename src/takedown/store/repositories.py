"""Repositories: the only code that touches ORM rows. They return plain values."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from takedown.audit import GENESIS_HASH, AuditRecord, entry_hash
from takedown.identity import ApiKey, Role, Scope, StaffSession, User
from takedown.store.models import (
    ApiKeyRow,
    AuditEntryRow,
    AuditHeadRow,
    Base,
    LoginDeviceRow,
    OutboxRow,
    StaffSessionRow,
    UserRow,
)
from takedown.store.rawsql import HasSession, RawRepository
from takedown.store.types import utcnow

V = TypeVar("V")


def _value(cls: type[V], row: Base, **converted: Any) -> V:
    """The plain value ``cls`` (a dataclass) of an ORM row: same-named fields are copied,
    ``converted`` ones given. Rows never leave the store; values do."""
    names = [f.name for f in fields(cls) if f.init]  # type: ignore[arg-type]
    values = {n: converted[n] if n in converted else getattr(row, n) for n in names}
    return cls(**values)


def _user(row: UserRow) -> User:
    return _value(User, row, role=Role(row.role))


def _key(row: ApiKeyRow) -> ApiKey:
    return _value(ApiKey, row, scopes=frozenset(Scope(s) for s in row.scopes))


def _staff_session(row: StaffSessionRow) -> StaffSession:
    return _value(StaffSession, row)


class UserRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, *, name: str, role: Role, password_hash: str | None) -> User:
        row = UserRow(
            name=name,
            role=role.value,
            password_hash=password_hash,
            active=True,
            failed_logins=0,
            created_at=utcnow(),
        )
        self._s.add(row)
        self._s.flush()
        return _user(row)

    def get(self, user_id: int) -> User | None:
        row = self._s.get(UserRow, user_id)
        return _user(row) if row else None

    def get_by_name(self, name: str) -> User | None:
        row = self._s.scalar(select(UserRow).where(UserRow.name == name))
        return _user(row) if row else None

    def list(self) -> list[User]:
        return [_user(r) for r in self._s.scalars(select(UserRow).order_by(UserRow.id))]

    def update(self, user_id: int, **values: Any) -> None:
        if "role" in values and isinstance(values["role"], Role):
            values["role"] = values["role"].value
        self._s.execute(update(UserRow).where(UserRow.id == user_id).values(**values))


class ApiKeyRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(
        self,
        *,
        key_id: str,
        digest: str,
        name: str,
        user_id: int | None,
        scopes: Sequence[Scope],
        created_by: str,
    ) -> ApiKey:
        row = ApiKeyRow(
            key_id=key_id,
            digest=digest,
            name=name,
            user_id=user_id,
            scopes=sorted(s.value for s in scopes),
            created_by=created_by,
            created_at=utcnow(),
        )
        self._s.add(row)
        self._s.flush()
        return _key(row)

    def get(self, key_pk: int) -> ApiKey | None:
        row = self._s.get(ApiKeyRow, key_pk)
        return _key(row) if row else None

    def get_by_key_id(self, key_id: str) -> ApiKey | None:
        row = self._s.scalar(select(ApiKeyRow).where(ApiKeyRow.key_id == key_id))
        return _key(row) if row else None

    def list(self, *, user_id: int | None = None, personal: bool | None = None) -> list[ApiKey]:
        q = select(ApiKeyRow).order_by(ApiKeyRow.id)
        if user_id is not None:
            q = q.where(ApiKeyRow.user_id == user_id)
        if personal is True:
            q = q.where(ApiKeyRow.user_id.is_not(None))
        elif personal is False:
            q = q.where(ApiKeyRow.user_id.is_(None))
        return [_key(r) for r in self._s.scalars(q)]

    def revoke(self, key_pk: int, at: datetime) -> None:
        self._s.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id == key_pk, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    def revoke_all_of_user(self, user_id: int, at: datetime) -> int:
        result = self._s.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.user_id == user_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def touch(self, key_pk: int, at: datetime) -> None:
        self._s.execute(update(ApiKeyRow).where(ApiKeyRow.id == key_pk).values(last_used_at=at))


class StaffSessionRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(
        self, *, key_id: str, digest: str, user_id: int, csrf_token: str, expires_at: datetime
    ) -> StaffSession:
        row = StaffSessionRow(
            key_id=key_id,
            digest=digest,
            user_id=user_id,
            csrf_token=csrf_token,
            expires_at=expires_at,
            created_at=utcnow(),
        )
        self._s.add(row)
        self._s.flush()
        return _staff_session(row)

    def get_by_key_id(self, key_id: str) -> StaffSession | None:
        row = self._s.scalar(select(StaffSessionRow).where(StaffSessionRow.key_id == key_id))
        return _staff_session(row) if row else None

    def revoke(self, session_pk: int, at: datetime) -> None:
        self._s.execute(
            update(StaffSessionRow)
            .where(StaffSessionRow.id == session_pk, StaffSessionRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    def revoke_all_of_user(self, user_id: int, at: datetime) -> None:
        self._s.execute(
            update(StaffSessionRow)
            .where(StaffSessionRow.user_id == user_id, StaffSessionRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )


class LoginDeviceRepository:
    """Browsers known to have logged in to an account, by the digest of their cookie."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def user_of(self, digest: str, *, used_since: datetime | None = None) -> int | None:
        """The account the browser logged in to, if it did so after ``used_since``."""
        row = self._s.get(LoginDeviceRow, digest)
        if row is None or (used_since is not None and row.last_used_at < used_since):
            return None
        return row.user_id

    def remember(
        self, digest: str, user_id: int, at: datetime, *, forget_before: datetime | None = None
    ) -> None:
        """Note a login from this browser; the account's browsers unused since
        ``forget_before`` are forgotten on the way."""
        if forget_before is not None:
            self._s.execute(
                delete(LoginDeviceRow).where(
                    LoginDeviceRow.user_id == user_id, LoginDeviceRow.last_used_at < forget_before
                )
            )
        row = self._s.get(LoginDeviceRow, digest)
        if row is None:
            self._s.add(
                LoginDeviceRow(digest=digest, user_id=user_id, created_at=at, last_used_at=at)
            )
        else:
            row.last_used_at = at
        self._s.flush()

    def forget_user(self, user_id: int) -> None:
        self._s.execute(delete(LoginDeviceRow).where(LoginDeviceRow.user_id == user_id))


def _audit_record(row: AuditEntryRow) -> AuditRecord:
    return _value(AuditRecord, row)


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
        return _value(OutboxMessage, row) if row else None

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
        return [_value(OutboxMessage, row) for row in rows]

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
        return _value(OutboxMessage, row) if row else None

    def counts(self) -> dict[str, int]:
        self.flush()
        rows = self._s.execute(
            select(OutboxRow.status, func.count()).group_by(OutboxRow.status)
        ).all()
        return {status: int(n) for status, n in rows}
