"""Repositories for hash banks, their entries, and the content registry."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, tuple_, update
from sqlalchemy.orm import Session

from takedown.matching import Bank, BankEntry, BankPolicy, IndexedEntry, SignalType
from takedown.store.models import BankEntryRow, BankRow, ContentRow, MatchingStateRow
from takedown.store.repositories import _value
from takedown.store.types import utcnow


def _bank(row: BankRow) -> Bank:
    return _value(Bank, row, policy=BankPolicy(row.policy))


def _entry(row: BankEntryRow) -> BankEntry:
    return _value(BankEntry, row, signal_type=SignalType(row.signal_type))


@dataclass(frozen=True)
class ContentItem:
    id: int
    content_id: str
    account_id: str
    parent_content_id: str | None
    media_kind: str | None
    pdq: str | None
    pdq_quality: int | None
    md5: str | None
    sha256: str | None
    first_seen_at: datetime
    last_scanned_at: datetime | None


class BankRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(
        self,
        *,
        name: str,
        description: str,
        policy: BankPolicy,
        pdq_threshold: int,
        enabled: bool,
    ) -> Bank:
        row = BankRow(
            name=name,
            description=description,
            policy=policy.value,
            pdq_threshold=pdq_threshold,
            enabled=enabled,
            created_at=utcnow(),
        )
        self._s.add(row)
        self._s.flush()
        return _bank(row)

    def get_by_name(self, name: str) -> Bank | None:
        row = self._s.scalar(select(BankRow).where(BankRow.name == name))
        return _bank(row) if row else None

    def list(self) -> list[Bank]:
        return [_bank(r) for r in self._s.scalars(select(BankRow).order_by(BankRow.name))]

    def update(self, bank_id: int, **values: Any) -> Bank:
        if isinstance(values.get("policy"), BankPolicy):
            values["policy"] = values["policy"].value
        self._s.execute(update(BankRow).where(BankRow.id == bank_id).values(**values))
        row = self._s.get(BankRow, bank_id)
        assert row is not None
        self._s.refresh(row)
        return _bank(row)

    def bump_version(self) -> int:
        """Mark every process's in-memory indexes stale; returns the new version."""
        self._s.execute(
            update(MatchingStateRow)
            .where(MatchingStateRow.id == 1)
            .values(version=MatchingStateRow.version + 1)
        )
        return self.version()

    def version(self) -> int:
        return int(self._s.scalar(select(MatchingStateRow.version)) or 0)


class BankEntryRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def existing(self, bank_id: int, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (signal_type, value) pairs the bank already holds."""
        keys = list(keys)
        found: set[tuple[str, str]] = set()
        for i in range(0, len(keys), 500):
            batch = keys[i : i + 500]
            rows = self._s.execute(
                select(BankEntryRow.signal_type, BankEntryRow.value).where(
                    BankEntryRow.bank_id == bank_id,
                    tuple_(BankEntryRow.signal_type, BankEntryRow.value).in_(batch),
                )
            )
            found.update((t, v) for t, v in rows)
        return found

    def add_many(
        self, bank_id: int, items: list[tuple[SignalType, str, str, str]]
    ) -> list[BankEntry]:
        """Insert (signal_type, value, source, note) rows; the caller removed duplicates."""
        now = utcnow()
        rows = [
            BankEntryRow(
                bank_id=bank_id, signal_type=t.value, value=v, source=src, note=note, added_at=now
            )
            for t, v, src, note in items
        ]
        self._s.add_all(rows)
        self._s.flush()
        return [_entry(r) for r in rows]

    def get(self, bank_id: int, entry_id: int) -> BankEntry | None:
        row = self._s.get(BankEntryRow, entry_id)
        return _entry(row) if row and row.bank_id == bank_id else None

    def set_disabled_until(self, entry_id: int, until: datetime | None) -> None:
        self._s.execute(
            update(BankEntryRow).where(BankEntryRow.id == entry_id).values(disabled_until=until)
        )

    def delete(self, entry_id: int) -> None:
        row = self._s.get(BankEntryRow, entry_id)
        if row is not None:
            self._s.delete(row)
            self._s.flush()

    def next_reenable(self, now: datetime) -> datetime | None:
        """When the next temporarily disabled entry comes back on by itself."""
        from sqlalchemy import func

        return self._s.scalar(
            select(func.min(BankEntryRow.disabled_until)).where(
                BankEntryRow.disabled_until > now,
                BankEntryRow.disabled_until < datetime(9999, 1, 1, tzinfo=now.tzinfo),
            )
        )

    def page(self, bank_id: int, *, after_id: int, limit: int) -> list[BankEntry]:
        q = (
            select(BankEntryRow)
            .where(BankEntryRow.bank_id == bank_id, BankEntryRow.id > after_id)
            .order_by(BankEntryRow.id)
            .limit(limit)
        )
        return [_entry(r) for r in self._s.scalars(q)]

    def all_indexed(self, now: datetime) -> list[IndexedEntry]:
        """Every entry, for building the indexes (streamed in one query)."""
        q = select(
            BankEntryRow.id,
            BankEntryRow.bank_id,
            BankEntryRow.signal_type,
            BankEntryRow.value,
            BankEntryRow.disabled_until,
        ).execution_options(yield_per=50_000)
        return [
            IndexedEntry(
                entry_id=i,
                bank_id=b,
                signal_type=SignalType(t),
                value=v,
                active=until is None or until <= now,
            )
            for i, b, t, v, until in self._s.execute(q)
        ]


class ContentRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def upsert(
        self,
        *,
        content_id: str,
        account_id: str,
        parent_content_id: str | None,
        hashes: dict[str, Any],
        scanned: bool,
    ) -> ContentItem:
        """Register an item or update it: new hashes replace old, the first sighting stays."""
        now = utcnow()
        row = self._s.scalar(
            select(ContentRow).where(ContentRow.content_id == content_id).with_for_update()
        )
        if row is None:
            row = ContentRow(
                content_id=content_id,
                account_id=account_id,
                parent_content_id=parent_content_id,
                first_seen_at=now,
            )
            self._s.add(row)
        else:
            row.account_id = account_id
            if parent_content_id is not None:
                row.parent_content_id = parent_content_id
        for key, value in hashes.items():
            if value is not None:
                setattr(row, key, value)
        if scanned:
            row.last_scanned_at = now
        self._s.flush()
        return _value(ContentItem, row)

    def get(self, content_id: str) -> ContentItem | None:
        row = self._s.scalar(select(ContentRow).where(ContentRow.content_id == content_id))
        return _value(ContentItem, row) if row else None
