"""The process's in-memory bank indexes, kept in step with the store.

Changes made through this process are applied at once (``applied``). Changes made by other
processes are picked up by comparing the store's matching version, at most every
``check_seconds`` per lookup; a different version applies the entries changed since
(``bank_changes``, logged with each change), so a bank change reaches every process within
``check_seconds`` without any of them reading every entry again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from takedown.clock import SYSTEM_CLOCK, Clock
from takedown.matching import (
    Bank,
    BankIndexes,
    EntryQuarantined,
    Match,
    SignalType,
    registry_values,
    without_allowed,
)
from takedown.matching.indexes import index_arrays
from takedown.matching.vpdq import VpdqFrame
from takedown.store.db import Database
from takedown.store.matching_repos import BankSnapshot
from takedown.store.uow import UnitOfWork, reading

log = logging.getLogger("takedown.matching")
# How often a lookup may ask the store whether the banks changed (one indexed read): a change
# made in another process is matched here within this, plus the time to apply it.
CHECK_SECONDS = 0.5
# Changes up to this many entries (or a quarter of the index) are applied in place; more
# (a first sync of a large list) and the indexes are built afresh.
APPLY_IN_PLACE = 100_000
# Commits after which this process's indexes are checked against the store at once:
# confirmed media banked, an entry quarantined by the flood guard.
_RELOAD_ON = frozenset({"enforcement.media_banked", EntryQuarantined.event_type})


class Matcher:
    def __init__(
        self,
        db: Database,
        *,
        check_seconds: float = CHECK_SECONDS,
        clock: Clock = SYSTEM_CLOCK,
        flood_limit: int = 0,
        signal_types: frozenset[SignalType] | None = None,
    ) -> None:
        self._db = db
        self.clock = clock
        # An outside entry matching more distinct uploads an hour is quarantined (0: never).
        self.flood_limit = flood_limit
        # The signal types uploads are matched by (``TAKEDOWN_SIGNAL_TYPES``; None: all).
        self.signal_types = signal_types
        self._clock = clock
        self._lock = threading.Lock()
        self._indexes: BankIndexes | None = None
        self._checked = 0.0
        self._reenable_at: datetime | None = None
        self._loaded_at: datetime | None = None  # the store's time the indexes reflect
        self.check_seconds = check_seconds
        self.rebuilt = 0  # times every entry was read
        self.caught_up = 0  # times the changes since were applied in place
        self.from_snapshot = 0  # times a snapshot was loaded (and the changes since applied)

    def age_seconds(self) -> float | None:
        """Since the indexes were last checked against the store (None: never loaded)."""
        if self._indexes is None:
            return None
        return round(self._clock.monotonic() - self._checked, 3)

    def fresh(self) -> BankIndexes | None:
        """The indexes if they were checked against the store within ``check_seconds`` (no
        I/O), else None: then ``indexes()`` reads the store, and may rebuild them."""
        indexes = self._indexes
        if indexes is None or self._clock.monotonic() - self._checked >= self.check_seconds:
            return None
        if self._reenable_at is not None and self._clock.now() >= self._reenable_at:
            return None
        return indexes

    def indexes(self) -> BankIndexes:
        """Current indexes; reloads if another process changed the banks."""
        indexes = self.fresh()
        if indexes is not None:
            return indexes
        indexes = self._indexes
        now = self._clock.monotonic()
        due = self._reenable_at is not None and self._clock.now() >= self._reenable_at
        with reading(self._db) as uow:
            version = uow.banks.version()
        if indexes is not None and indexes.version == version and not due:
            self._checked = now
            return indexes
        # Not marked checked until the new indexes are in place: a lookup made while they
        # are built must not be answered from the old ones as if they were current.
        return self.reload()

    def warm(self) -> None:
        """Load the indexes and compile the lookup kernels now, not on the first upload.

        Run in the background at start; a failure is logged and left to the first lookup."""
        try:
            self.reload().lookup({SignalType.pdq: "0" * 64})
        except Exception:
            log.exception("could not warm the bank indexes; the first scan will")

    def reload(self) -> BankIndexes:
        """Bring the indexes to the store's version: by applying what changed since the
        version they hold (``bank_changes``), or, the first time and after a change too large
        to apply in place, from the newest snapshot and the changes since (``_from_snapshot``),
        or, where there is none to use, by reading every entry."""
        with self._lock:
            with reading(self._db, snapshot=True) as uow:
                version = uow.banks.version()
                current = self._indexes
                due = self._reenable_at is not None and self._clock.now() >= self._reenable_at
                if current is not None and current.version == version and not due:
                    # Another thread caught up while this one waited for the lock.
                    self._checked = self._clock.monotonic()
                    return current
                banks = uow.banks.list()
                now = self._clock.now()
                quarantined = uow.bank_entries.quarantined_ids()
                self._reenable_at = uow.bank_entries.next_reenable(now)
                if current is not None and current.version is not None:
                    changes = uow.bank_entries.changes_since(
                        current.version, now=now, since=self._loaded_at
                    )
                    # None: the log since our version was pruned.
                    if changes is not None and changes.size <= max(
                        APPLY_IN_PLACE, len(current) // 4
                    ):
                        current.apply(
                            changes.entries,
                            changes.deleted,
                            banks=banks,
                            quarantined=quarantined,
                            version=changes.version,
                        )
                        self._loaded_at = now
                        self._checked = self._clock.monotonic()
                        self.caught_up += 1
                        return current
                indexes = _from_snapshot(uow, banks=banks, quarantined=quarantined, now=now)
                if indexes is None:
                    videos, columns = uow.bank_entries.load_for_index(now)
                    indexes = BankIndexes.build(banks, videos, columns, version, quarantined)
                    self.rebuilt += 1
                else:
                    self.from_snapshot += 1
            self._indexes = indexes
            self._loaded_at = now
            self._checked = self._clock.monotonic()
            return indexes

    def reenable_at(self, when: datetime) -> None:
        """An entry disabled until ``when`` must count again from then: reload at that time."""
        with self._lock:
            if self._reenable_at is None or when < self._reenable_at:
                self._reenable_at = when

    def expire(self) -> None:
        """Check the store's version at the next lookup (a bank changed in a commit of this
        process that did not apply its change here)."""
        self._checked = 0.0

    def on_commit(self, event_types: frozenset[str]) -> None:
        """``Database.on_commit`` listener: confirmed media banked here is matched at once, and
        an entry quarantined here stops acting at once."""
        if event_types & _RELOAD_ON:
            self.expire()

    def compact(self) -> None:
        """Fold entries added in place into the PDQ tables (after a bulk add, a sync)."""
        indexes = self._indexes
        if indexes is not None:
            indexes.compact()

    def applied(self, version: int, change: Callable[[BankIndexes], None]) -> None:
        """Apply a change this process just committed as ``version``.

        If the indexes were exactly one version behind, the change is applied in place;
        otherwise something else changed too, and the next lookup reloads.
        """
        with self._lock:
            indexes = self._indexes
            if indexes is None:
                return
            if indexes.version == version - 1:
                change(indexes)
                indexes.version = version
            else:
                self._checked = 0.0


def _from_snapshot(
    uow: UnitOfWork, *, banks: list[Bank], quarantined: list[int], now: datetime
) -> BankIndexes | None:
    """The indexes from the newest snapshot, caught up with the changes logged since (and
    the entries whose disabling ended since it was made); None where there is no snapshot,
    its changes were pruned, or they are too many to apply in place."""
    snapshot = uow.bank_snapshots.latest()
    if snapshot is None:
        return None
    changes = uow.bank_entries.changes_since(snapshot.version, now=now, since=snapshot.created_at)
    if changes is None or changes.size > max(APPLY_IN_PLACE, snapshot.entries // 4):
        return None
    indexes = BankIndexes.from_arrays(
        banks,
        uow.bank_entries.videos(now),
        uow.bank_snapshots.arrays(snapshot),
        snapshot.version,
        quarantined,
    )
    indexes.apply(
        changes.entries,
        changes.deleted,
        banks=banks,
        quarantined=quarantined,
        version=changes.version,
    )
    indexes.compact()
    return indexes


def snapshot_banks(uow: Callable[[], UnitOfWork], *, now: datetime) -> BankSnapshot | None:
    """Store the bank indexes' arrays at the store's version, if the banks changed since the
    newest snapshot; the one stored (None: none was needed), the older ones dropped.

    The version is read before the entries (each in its own statement): the entries are then
    at that version or newer, and a process that loads the snapshot applies every change
    logged after the version, so what the entries already held is applied again, never
    missed."""
    # Read-only: on SQLite a writing unit of work would hold the write lock, and stall
    # intake, for as long as every entry takes to read.
    with uow().spawn(readonly=True) as reader:
        version = reader.banks.version()
        latest = reader.bank_snapshots.latest()
        if latest is not None and latest.version >= version:
            return None
        _, columns = reader.bank_entries.load_for_index(now)
    arrays = index_arrays(columns)
    with uow() as writer:
        writer.bank_snapshots.save(version=version, created_at=now, arrays=arrays)
        writer.bank_snapshots.keep_latest(1)
        stored = writer.bank_snapshots.latest()
        writer.commit()
    log.info(
        "bank snapshot stored",
        extra={"version": version, "entries": stored.entries if stored else 0},
    )
    return stored


def item_matches(uow: UnitOfWork, indexes: BankIndexes, content_id: str) -> list[Match]:
    """The bank matches of a registered item's media (its hashes, mirrored and rotated
    variants, and a video's frames), each entry once at its nearest; an item that matches an
    ``allow`` bank matches nothing else (``matching.without_allowed``)."""
    found: dict[int, Match] = {}
    queries: list[tuple[dict[SignalType, str], list[str]]] = []
    for hashes in uow.registry.hashes([content_id]):
        variants = [v for v in hashes.get("pdq_variants", "").split(",") if v]
        queries.append((registry_values(hashes), variants))
    videos: list[Match] = []
    for frames in uow.registry.frames([content_id]).values():
        queries += [({SignalType.pdq: pdq}, []) for pdq in frames]
        # The registry keeps a video's strong frames only (quality 50 or more).
        videos += indexes.lookup_video([VpdqFrame(pdq, 100) for pdq in frames])
    for lookup, variants in queries:
        for m in indexes.lookup(lookup, pdq_variants=variants):
            if m.entry_id not in found or m.distance < found[m.entry_id].distance:
                found[m.entry_id] = m
    found.update((m.entry_id, m) for m in videos)
    kept = without_allowed(list(found.values()))  # one allowed frame: the item is allowed
    return sorted(kept, key=lambda m: (m.distance, m.bank, m.entry_id))
