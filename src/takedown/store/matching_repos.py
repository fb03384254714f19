"""Repositories for hash banks, their entries, and the content registry."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from takedown.matching import (
    Bank,
    BankEntry,
    BankPolicy,
    ContentItem,
    IndexedEntry,
    SignalType,
)
from takedown.matching.banks import FOREVER
from takedown.matching.exact_index import ExactColumns, values_to_bytes
from takedown.matching.indexes import IndexColumns, PdqColumns
from takedown.matching.pdq_index import hashes_to_words
from takedown.matching.signals import SIGNALS, Indexing
from takedown.matching.vpdq import VpdqFrame
from takedown.store.models import (
    BankChangeRow,
    BankEntryFrameRow,
    BankEntryHitRow,
    BankEntryRow,
    BankRow,
    BankSnapshotPartRow,
    BankSnapshotRow,
    MatchingStateRow,
)
from takedown.store.rawsql import RawRepository, RawSql
from takedown.store.types import utcnow
from takedown.store.values import row_value

_VERSION_KEY = "takedown.bank_version"


def transaction_version(session: Session) -> int:
    """The matching version this transaction commits as: the counter bumped at the first
    bank change in it (so a concurrent change waits for this one's commit on PostgreSQL's row
    lock), the same number for every later one."""
    transaction = session.get_transaction()
    held = session.info.get(_VERSION_KEY)
    if transaction is not None and held is not None and held[0] is transaction:
        return int(held[1])
    session.execute(
        update(MatchingStateRow)
        .where(MatchingStateRow.id == 1)
        .values(version=MatchingStateRow.version + 1)
    )
    version = int(session.scalar(select(MatchingStateRow.version)) or 0)
    session.info[_VERSION_KEY] = (transaction, version)
    return version


def log_bank_changes(session: Session, entry_ids: Iterable[int]) -> None:
    """Note that these entries were added, changed or deleted in this transaction, under its
    matching version (``BankEntryRepository.changes_since`` reads them back)."""
    ids = sorted(set(entry_ids))
    if not ids:
        return
    version = transaction_version(session)
    ranges: list[list[int]] = []
    for entry_id in ids:
        if ranges and entry_id == ranges[-1][1] + 1:
            ranges[-1][1] = entry_id
        else:
            ranges.append([entry_id, entry_id])
    at = utcnow()
    session.execute(
        insert(BankChangeRow),
        [{"version": version, "first_id": a, "last_id": b, "at": at} for a, b in ranges],
    )


@dataclass(frozen=True)
class BankChanges:
    """What changed in the banks after a version: the entries as they are now (added or
    changed), the ids deleted since, and the version this reads up to."""

    version: int
    entries: list[IndexedEntry]
    deleted: list[int]

    @property
    def size(self) -> int:
        return len(self.entries) + len(self.deleted)


def _bank(row: BankRow) -> Bank:
    return row_value(Bank, row, policy=BankPolicy(row.policy))


def _entry(row: BankEntryRow) -> BankEntry:
    return row_value(BankEntry, row, signal_type=SignalType(row.signal_type))


_VIDEO_KINDS = frozenset(t.value for t, spec in SIGNALS.items() if spec.indexing is Indexing.video)


def _is_video(signal_type: SignalType) -> bool:
    """Entries of this type keep frames (``bank_entry_frames``)."""
    return SIGNALS[signal_type].indexing is Indexing.video


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
        """Mark every process's in-memory indexes stale; returns the new version. Once per
        transaction: a second call, or an entry change logged in it, gets the same one."""
        return transaction_version(self._s)

    def version(self) -> int:
        return int(self._s.scalar(select(MatchingStateRow.version)) or 0)


class BankEntryRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def existing(self, bank_id: int, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (signal_type, value) pairs the bank already holds.

        Asked per signal type with the values as one list, so every column of the unique
        index bounds the search whatever the planner knows of the table (a list of row pairs
        read every entry of the type in a freshly loaded bank of millions)."""
        by_type: dict[str, list[str]] = {}
        for signal_type, value in keys:
            by_type.setdefault(signal_type, []).append(value)
        found: set[tuple[str, str]] = set()
        for signal_type, values in by_type.items():
            for i in range(0, len(values), 1000):
                rows = self._s.execute(
                    select(BankEntryRow.signal_type, BankEntryRow.value).where(
                        BankEntryRow.bank_id == bank_id,
                        BankEntryRow.signal_type == signal_type,
                        BankEntryRow.value.in_(values[i : i + 1000]),
                    )
                )
                found.update((t, v) for t, v in rows)
        return found

    def add_many(
        self,
        bank_id: int,
        items: list[tuple[SignalType, str, str, str]],
        frames: Mapping[str, Sequence[VpdqFrame]] | None = None,
    ) -> list[BankEntry]:
        """Insert (signal_type, value, source, note) rows; the caller removed duplicates.
        ``frames``: a ``vpdq`` entry's frames, by its value."""
        now = utcnow()
        rows = [
            BankEntryRow(
                bank_id=bank_id, signal_type=t.value, value=v, source=src, note=note, added_at=now
            )
            for t, v, src, note in items
        ]
        self._s.add_all(rows)
        self._s.flush()
        log_bank_changes(self._s, [r.id for r in rows])
        for row in rows:
            if frames and row.value in frames and _is_video(SignalType(row.signal_type)):
                self._s.add_all(
                    BankEntryFrameRow(entry_id=row.id, position=n, pdq=f.pdq, quality=f.quality)
                    for n, f in enumerate(frames[row.value])
                )
        self._s.flush()
        return [_entry(r) for r in rows]

    def counts(self) -> dict[int, tuple[int, int]]:
        """Per bank: (entries that count now, entries quarantined by the flood guard)."""
        rows = self._s.execute(
            select(
                BankEntryRow.bank_id,
                func.count().filter(BankEntryRow.disabled_until.is_(None)),
                func.count().filter(BankEntryRow.quarantined_at.is_not(None)),
            ).group_by(BankEntryRow.bank_id)
        )
        return {int(b): (int(n), int(q)) for b, n, q in rows}

    def quarantined(self, limit: int = 200) -> list[BankEntry]:
        """Entries the flood guard quarantined, the latest first."""
        q = (
            select(BankEntryRow)
            .where(BankEntryRow.quarantined_at.is_not(None))
            .order_by(BankEntryRow.quarantined_at.desc())
            .limit(limit)
        )
        return [_entry(r) for r in self._s.scalars(q)]

    def quarantined_ids(self) -> list[int]:
        """The entries the flood guard has quarantined."""
        q = select(BankEntryRow.id).where(BankEntryRow.quarantined_at.is_not(None))
        return [int(i) for i in self._s.scalars(q)]

    def set_quarantined(self, entry_id: int, at: datetime | None) -> None:
        self._s.execute(
            update(BankEntryRow).where(BankEntryRow.id == entry_id).values(quarantined_at=at)
        )
        log_bank_changes(self._s, [entry_id])

    def record_hits(
        self, entry_ids: Sequence[int], content_id: str, now: datetime, since: datetime
    ) -> dict[int, int]:
        """Note that ``content_id`` matched these entries (those from outside: an exchange's
        or an import's, not the team's own confirmed media, which may well spread fast) and
        return, for each not yet quarantined, how many distinct uploads it matched since
        ``since``. Hits older than ``since`` are dropped as they are passed."""
        rows = self._s.execute(
            select(BankEntryRow.id).where(
                BankEntryRow.id.in_(list(entry_ids)),
                BankEntryRow.quarantined_at.is_(None),
                or_(
                    BankEntryRow.exchange_id.is_not(None),
                    ~BankEntryRow.source.startswith("confirmed"),
                ),
            )
        )
        ids = [int(i) for i in rows.scalars()]
        if not ids:
            return {}
        self._s.execute(
            delete(BankEntryHitRow).where(
                BankEntryHitRow.entry_id.in_(ids), BankEntryHitRow.at < since
            )
        )
        for entry_id in ids:
            held = self._s.get(BankEntryHitRow, (entry_id, content_id))
            if held is None:
                self._s.add(BankEntryHitRow(entry_id=entry_id, content_id=content_id, at=now))
            else:
                held.at = now
        self._s.flush()
        counts = self._s.execute(
            select(BankEntryHitRow.entry_id, func.count())
            .where(BankEntryHitRow.entry_id.in_(ids), BankEntryHitRow.at >= since)
            .group_by(BankEntryHitRow.entry_id)
        )
        return {int(e): int(n) for e, n in counts}

    def frames(self, entry_ids: Sequence[int]) -> dict[int, tuple[VpdqFrame, ...]]:
        """The frames of these ``vpdq`` entries, in order."""
        out: dict[int, list[VpdqFrame]] = {}
        ids = list(entry_ids)
        for i in range(0, len(ids), 500):
            rows = self._s.execute(
                select(BankEntryFrameRow.entry_id, BankEntryFrameRow.pdq, BankEntryFrameRow.quality)
                .where(BankEntryFrameRow.entry_id.in_(ids[i : i + 500]))
                .order_by(BankEntryFrameRow.entry_id, BankEntryFrameRow.position)
            )
            for entry_id, pdq, quality in rows:
                out.setdefault(int(entry_id), []).append(VpdqFrame(str(pdq), int(quality)))
        return {k: tuple(v) for k, v in out.items()}

    def get(self, bank_id: int, entry_id: int) -> BankEntry | None:
        row = self._s.get(BankEntryRow, entry_id)
        return _entry(row) if row and row.bank_id == bank_id else None

    def set_disabled_until(self, entry_id: int, until: datetime | None) -> None:
        self._s.execute(
            update(BankEntryRow).where(BankEntryRow.id == entry_id).values(disabled_until=until)
        )
        log_bank_changes(self._s, [entry_id])

    def delete(self, entry_id: int) -> None:
        row = self._s.get(BankEntryRow, entry_id)
        if row is not None:
            self._s.delete(row)
            self._s.flush()
            log_bank_changes(self._s, [entry_id])

    def changes_since(
        self, version: int, *, now: datetime, since: datetime | None = None
    ) -> BankChanges | None:
        """The entries changed after ``version`` (and those whose temporary disabling ended
        between ``since`` and ``now``), as they are at ``now``; run in a snapshot, so the
        answer is exactly the store at its ``version``. None where the changes after
        ``version`` were pruned (``prune_changes``): read every entry instead."""
        state = self._s.execute(
            select(MatchingStateRow.version, MatchingStateRow.pruned_version)
        ).first()
        current, pruned = (int(state[0]), int(state[1])) if state else (0, 0)
        if version < pruned:
            return None
        ranges = self._s.execute(
            select(BankChangeRow.first_id, BankChangeRow.last_id).where(
                BankChangeRow.version > version, BankChangeRow.version <= current
            )
        ).all()
        wanted: set[int] = set()
        for first, last in ranges:
            wanted.update(range(int(first), int(last) + 1))
        found: dict[int, IndexedEntry] = {}
        ids = sorted(wanted)
        for i in range(0, len(ids), 1000):
            for entry in self._indexed(BankEntryRow.id.in_(ids[i : i + 1000]), now):
                found[entry.entry_id] = entry
        if since is not None:
            back_on = (
                BankEntryRow.disabled_until.is_not(None)
                & (BankEntryRow.disabled_until > since)
                & (BankEntryRow.disabled_until <= now)
            )
            for entry in self._indexed(back_on, now):
                found[entry.entry_id] = entry
        return BankChanges(
            version=current,
            entries=[found[i] for i in sorted(found)],
            deleted=[i for i in ids if i not in found],
        )

    def prune_changes(self, before: datetime) -> int:
        """Drop the change log older than ``before`` (a process that has not looked since
        then reads every entry again); how many rows went."""
        newest = self._s.scalar(
            select(func.max(BankChangeRow.version)).where(BankChangeRow.at < before)
        )
        if newest is None:
            return 0
        gone = self._s.execute(delete(BankChangeRow).where(BankChangeRow.version <= newest))
        self._s.execute(
            update(MatchingStateRow)
            .where(MatchingStateRow.id == 1, MatchingStateRow.pruned_version < newest)
            .values(pruned_version=newest)
        )
        return int(gone.rowcount)  # type: ignore[attr-defined]

    def _indexed(self, where: Any, now: datetime) -> list[IndexedEntry]:
        rows = self._s.execute(
            select(
                BankEntryRow.id,
                BankEntryRow.bank_id,
                BankEntryRow.signal_type,
                BankEntryRow.value,
                BankEntryRow.disabled_until,
            ).where(where)
        ).all()
        entries = [
            IndexedEntry(int(i), int(b), SignalType(t), str(v), until is None or until <= now)
            for i, b, t, v, until in rows
        ]
        videos = [e.entry_id for e in entries if _is_video(e.signal_type)]
        if not videos:
            return entries
        frames = self.frames(videos)
        return [
            replace(e, frames=frames.get(e.entry_id, ())) if _is_video(e.signal_type) else e
            for e in entries
        ]

    def videos(self, now: datetime) -> list[IndexedEntry]:
        """Every ``vpdq`` entry with its frames (a snapshot leaves them out: they are few)."""
        return self._indexed(BankEntryRow.signal_type.in_(sorted(_VIDEO_KINDS)), now)

    def next_reenable(self, now: datetime) -> datetime | None:
        """When the next temporarily disabled entry comes back on by itself."""
        return self._s.scalar(
            select(func.min(BankEntryRow.disabled_until)).where(
                BankEntryRow.disabled_until > now,
                BankEntryRow.disabled_until < FOREVER,
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

    def load_for_index(
        self, now: datetime, *, chunk: int = 100_000
    ) -> tuple[list[IndexedEntry], IndexColumns]:
        """Every entry, for building the indexes: ``vpdq`` entries with their frames, the
        others as columns. Streamed in chunks; rows never become Python objects past their
        chunk."""
        q = select(
            BankEntryRow.id,
            BankEntryRow.bank_id,
            BankEntryRow.signal_type,
            BankEntryRow.value,
            BankEntryRow.disabled_until,
        ).execution_options(yield_per=chunk)
        videos: list[IndexedEntry] = []
        columns = IndexColumns()
        for rows in self._s.execute(q).partitions(chunk):
            by_type: dict[str, tuple[list[int], list[int], list[str], list[bool]]] = {}
            for entry_id, bank_id, kind, value, until in rows:
                on = until is None or until <= now
                if kind in _VIDEO_KINDS:
                    videos.append(IndexedEntry(entry_id, bank_id, SignalType(kind), value, on))
                    continue
                ids, banks, values, active = by_type.setdefault(kind, ([], [], [], []))
                ids.append(entry_id)
                banks.append(bank_id)
                values.append(value)
                active.append(on)
            for kind, (ids, banks, values, active) in by_type.items():
                signal_type = SignalType(kind)
                target: PdqColumns | ExactColumns
                if SIGNALS[signal_type].indexing is Indexing.near:
                    target = columns.pdq
                    target.words.append(hashes_to_words(values))
                else:
                    target = columns.exact_of(signal_type)
                    target.values.append(values_to_bytes(values, target.width))
                target.ids.append(np.asarray(ids, dtype=np.int64))
                target.banks.append(np.asarray(banks, dtype=np.uint32))
                target.active.append(np.asarray(active, dtype=bool))
        if videos:
            frames = self.frames([e.entry_id for e in videos])
            videos = [replace(e, frames=frames.get(e.entry_id, ())) for e in videos]
        return videos, columns


@dataclass(frozen=True)
class BankSnapshot:
    id: int
    version: int
    created_at: datetime
    entries: int
    arrays: dict[str, Any]  # name → {"dtype": …, "shape": […]}


SNAPSHOT_PART_BYTES = 32 * 2**20


class BankSnapshotRepository:
    """The bank indexes' arrays at a version (``matching.index_arrays``), in pieces."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def latest(self) -> BankSnapshot | None:
        row = self._s.scalars(
            select(BankSnapshotRow).order_by(BankSnapshotRow.version.desc()).limit(1)
        ).first()
        if row is None:
            return None
        return BankSnapshot(row.id, row.version, row.created_at, row.entries, row.arrays)

    def save(self, *, version: int, created_at: datetime, arrays: dict[str, np.ndarray]) -> int:
        """Store a snapshot; its id. Older ones stay until ``keep_latest``."""
        entries = sum(len(a) for name, a in arrays.items() if name.endswith(".ids"))
        shapes = {
            name: {"dtype": a.dtype.str, "shape": list(a.shape)} for name, a in arrays.items()
        }
        row = BankSnapshotRow(
            version=version, created_at=created_at, entries=entries, arrays=shapes
        )
        self._s.add(row)
        self._s.flush()
        for name, array in arrays.items():
            data = _bytes_of(array)
            parts = range(0, max(len(data), 1), SNAPSHOT_PART_BYTES)
            for part, start in enumerate(parts):
                self._s.execute(
                    insert(BankSnapshotPartRow).values(
                        snapshot_id=row.id,
                        name=name,
                        part=part,
                        data=data[start : start + SNAPSHOT_PART_BYTES].tobytes(),
                    )
                )
        return row.id

    def keep_latest(self, keep: int = 1) -> int:
        """Drop all but the newest ``keep`` snapshots; how many went. (A process loading one
        of them reads it in a snapshot of its own and is not disturbed.)"""
        old = self._s.scalars(
            select(BankSnapshotRow.id).order_by(BankSnapshotRow.version.desc()).offset(keep)
        ).all()
        if old:
            self._s.execute(
                delete(BankSnapshotPartRow).where(BankSnapshotPartRow.snapshot_id.in_(old))
            )
            self._s.execute(delete(BankSnapshotRow).where(BankSnapshotRow.id.in_(old)))
        return len(old)

    def arrays(self, snapshot: BankSnapshot) -> dict[str, np.ndarray]:
        """The snapshot's arrays, each filled piece by piece into one buffer."""
        out: dict[str, np.ndarray] = {}
        for name, spec in snapshot.arrays.items():
            array = np.empty(spec["shape"], dtype=np.dtype(spec["dtype"]))
            flat = _bytes_of(array)
            at = 0
            rows = self._s.execute(
                select(BankSnapshotPartRow.data)
                .where(
                    BankSnapshotPartRow.snapshot_id == snapshot.id,
                    BankSnapshotPartRow.name == name,
                )
                .order_by(BankSnapshotPartRow.part)
            )
            for (data,) in rows:
                flat[at : at + len(data)] = np.frombuffer(data, dtype=np.uint8)
                at += len(data)
            if at != array.nbytes:
                raise ValueError(
                    f"bank snapshot {snapshot.id}: {name} has {at} of {array.nbytes} bytes"
                )
            out[name] = array
        return out


def _bytes_of(array: np.ndarray) -> np.ndarray:
    """The array's bytes, as a flat ``uint8`` view of it (no copy)."""
    return np.ascontiguousarray(array).reshape(-1).view(np.uint8)


_CONTENT_COLUMNS = (
    "content_id",
    "account_id",
    "parent_content_id",
    "media_kind",
    "pdq",
    "pdq_quality",
    "pdq_variants",
    "md5",
    "sha256",
    "first_seen_at",
    "last_scanned_at",
)
_KEEP_OLD = (
    "parent_content_id",
    "media_kind",
    "pdq",
    "pdq_quality",
    "pdq_variants",
    "md5",
    "sha256",
)
_UPSERT_CONTENT = (
    f"INSERT INTO content ({', '.join(_CONTENT_COLUMNS)}) "  # noqa: S608 - constant columns
    f"VALUES ({', '.join(':' + c for c in _CONTENT_COLUMNS)}) "
    "ON CONFLICT (content_id) DO UPDATE SET account_id = excluded.account_id, "
    + ", ".join(f"{c} = coalesce(excluded.{c}, content.{c})" for c in _KEEP_OLD)
    + ", last_scanned_at = coalesce(excluded.last_scanned_at, content.last_scanned_at)"
)
CONTENT_COLUMNS = (
    "id, content_id, account_id, parent_content_id, media_kind, pdq, pdq_quality, md5, sha256, "
    "first_seen_at, last_scanned_at, closed_case_id"
)
_SELECT_CONTENT = f"SELECT {CONTENT_COLUMNS} FROM content WHERE content_id = :content_id"  # noqa: S608 - constant columns


class ContentRepository(RawRepository):
    """The content registry. Its two statements run on every upload and every report, so they
    are hand-written (``RawSql``)."""

    def upsert(
        self,
        *,
        content_id: str,
        account_id: str,
        parent_content_id: str | None,
        hashes: dict[str, Any],
        scanned: bool,
    ) -> None:
        """Register an item or update it in one statement: new hashes and a new parent replace
        old ones, the first sighting stays."""
        unknown = set(hashes) - set(_KEEP_OLD)
        if unknown:
            raise ValueError(f"unknown content fields: {sorted(unknown)}")
        raw = self._raw
        now = raw.dt(utcnow())
        params: dict[str, Any] = dict.fromkeys(_KEEP_OLD)
        params.update(hashes)
        params.update(
            content_id=content_id,
            account_id=account_id,
            parent_content_id=parent_content_id,
            first_seen_at=now,
            last_scanned_at=now if scanned else None,
        )
        raw.write(_UPSERT_CONTENT, params)

    def ensure(self, content_id: str) -> None:
        """Register an item nobody has told us about (a report of an unknown id); an item
        already registered, even by another process a moment ago, is left as it is."""
        raw = self._raw
        raw.write(
            "INSERT INTO content (content_id, account_id, first_seen_at) "
            "VALUES (:content_id, '', :now) ON CONFLICT (content_id) DO NOTHING",
            {"content_id": content_id, "now": raw.dt(utcnow())},
        )

    def get(self, content_id: str) -> ContentItem | None:
        return content_item(self._raw.one(_SELECT_CONTENT, {"content_id": content_id}))

    def reposts_of(self, content_id: str, *, limit: int) -> list[str]:
        """The items that repost ``content_id`` (the registry's ``parent_content_id``)."""
        rows = self._raw.all(
            "SELECT content_id FROM content WHERE parent_content_id = :content_id "
            "ORDER BY id LIMIT :limit",
            {"content_id": content_id, "limit": limit},
        )
        return [str(r[0]) for r in rows]


def content_item(row: tuple[Any, ...] | None) -> ContentItem | None:
    """An item from a row of ``CONTENT_COLUMNS`` (None when the row, or its id, is None)."""
    if row is None or row[0] is None:
        return None
    first_seen = RawSql.read_dt(row[9])
    assert first_seen is not None
    return ContentItem(
        id=int(row[0]),
        content_id=row[1],
        account_id=row[2],
        parent_content_id=row[3],
        media_kind=row[4],
        pdq=row[5],
        pdq_quality=row[6],
        md5=row[7],
        sha256=row[8],
        first_seen_at=first_seen,
        last_scanned_at=RawSql.read_dt(row[10]),
        closed_case_id=int(row[11]) if row[11] is not None else None,
    )
