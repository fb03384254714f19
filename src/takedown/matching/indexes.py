"""Every bank's entries, indexed for lookup: one index per signal type, shared by all banks.

PDQ entries live in one ``PdqIndex``, each row tagged with its bank, so ten million entries
cost the index's arrays and nothing per entry in Python. MD5 and SHA-256 entries loaded at once
live in sorted arrays (``ExactTable``), those added later in dictionaries beside them. The
arrays are what a snapshot holds (``index_arrays``, ``BankIndexes.from_arrays``): a process
starts from them without reading every entry. Entries of disabled banks and disabled entries
are masked, not removed, so turning them back on is immediate. A lookup searches PDQ at the
largest threshold any bank asks for and keeps, for each hit, only what is within its own bank's
threshold.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from takedown.matching.banks import Bank, BankPolicy, Match, SignalType, without_allowed
from takedown.matching.exact_index import ExactColumns, ExactTable, concatenated
from takedown.matching.pdq_index import PdqIndex
from takedown.matching.signals import SIGNALS, Indexing
from takedown.matching.vpdq import VpdqFrame, VpdqResult, usable


@dataclass(frozen=True)
class IndexedEntry:
    entry_id: int
    bank_id: int
    signal_type: SignalType
    value: str
    active: bool
    frames: tuple[VpdqFrame, ...] = ()  # a ``vpdq`` entry's frames


@dataclass
class PdqColumns:
    """PDQ entries as columns, as the store streams them: no object per entry."""

    ids: list[NDArray[np.int64]] = field(default_factory=list)
    words: list[NDArray[np.uint64]] = field(default_factory=list)
    banks: list[NDArray[np.uint32]] = field(default_factory=list)
    active: list[NDArray[np.bool_]] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(a) for a in self.ids)


@dataclass
class IndexColumns:
    """Every PDQ and exact-value entry as columns (``BankEntryRepository.load_for_index``)."""

    pdq: PdqColumns = field(default_factory=PdqColumns)
    exact: dict[SignalType, ExactColumns] = field(default_factory=dict)

    def exact_of(self, signal_type: SignalType) -> ExactColumns:
        if signal_type not in self.exact:
            self.exact[signal_type] = ExactColumns(SIGNALS[signal_type].hex_digits // 2)
        return self.exact[signal_type]


Arrays = dict[str, NDArray]  # type: ignore[type-arg]


def _pdq_arrays(pdq: PdqColumns) -> Arrays:
    return {
        "pdq.ids": concatenated(pdq.ids, np.int64),
        "pdq.words": concatenated(pdq.words, np.uint64, (4,)),
        "pdq.banks": concatenated(pdq.banks, np.uint32),
        "pdq.active": concatenated(pdq.active, np.bool_),
    }


def _exact_tables(columns: IndexColumns) -> dict[SignalType, ExactTable]:
    return {t: ExactTable.build(exact) for t, exact in columns.exact.items()}


def index_arrays(columns: IndexColumns) -> Arrays:
    """The arrays a snapshot holds: PDQ entries as columns (``pdq.ids``, ``pdq.words``,
    ``pdq.banks``, ``pdq.active``), each exact signal type's as its sorted table
    (``md5.values``, ``md5.ids``, …)."""
    out = _pdq_arrays(columns.pdq)
    for signal_type, table in _exact_tables(columns).items():
        out |= {f"{signal_type}.{name}": a for name, a in table.arrays().items()}
    return out


ACTING = (BankPolicy.block_and_report, BankPolicy.block)


def _indexed(entries: list[IndexedEntry], indexing: Indexing) -> list[IndexedEntry]:
    """The entries whose signal type is indexed so (``signals.SIGNALS``)."""
    return [e for e in entries if SIGNALS[e.signal_type].indexing is indexing]


class BankIndexes:
    """In-memory indexes over all entries. Thread-safe; changes count at the next lookup."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._banks: dict[int, Bank] = {}
        self._exact: dict[SignalType, dict[str, set[int]]] = {
            t: defaultdict(set) for t, spec in SIGNALS.items() if spec.indexing is Indexing.exact
        }
        self._exact_entries: dict[int, tuple[int, bool]] = {}  # entry id → (bank, active)
        self._tables: dict[SignalType, ExactTable] = {}  # entries loaded at once
        self._pdq = PdqIndex()
        # vPDQ entries: their usable frames in one PdqIndex (a row's id is its position, its
        # tag the bank), the entry of each row, and each entry's bank, frame count and state.
        self._video = PdqIndex()
        self._video_rows: list[int] = []
        self._videos: dict[int, tuple[int, int, bool]] = {}
        # Entries whose matches ask a person instead of acting (the flood guard).
        self._quarantined: set[int] = set()
        self.version: int | None = None  # the store's change counter these reflect

    @classmethod
    def build(
        cls,
        banks: list[Bank],
        videos: list[IndexedEntry],
        columns: IndexColumns,
        version: int,
        quarantined: Iterable[int] = (),
    ) -> BankIndexes:
        """Indexes over ``columns`` (and ``videos``, the ``vpdq`` entries with their frames)."""
        tables = _exact_tables(columns)
        return cls._assemble(banks, videos, _pdq_arrays(columns.pdq), tables, version, quarantined)

    @classmethod
    def from_arrays(
        cls,
        banks: list[Bank],
        videos: list[IndexedEntry],
        arrays: Arrays,
        version: int,
        quarantined: Iterable[int] = (),
    ) -> BankIndexes:
        """Indexes over the arrays a snapshot held (``index_arrays``)."""
        names = ("values", "ids", "banks", "active")
        tables = {
            signal_type: ExactTable.from_arrays({n: arrays[f"{signal_type}.{n}"] for n in names})
            for signal_type, spec in SIGNALS.items()
            if spec.indexing is Indexing.exact and f"{signal_type}.ids" in arrays
        }
        return cls._assemble(banks, videos, arrays, tables, version, quarantined)

    @classmethod
    def _assemble(
        cls,
        banks: list[Bank],
        videos: list[IndexedEntry],
        pdq: Arrays,
        tables: dict[SignalType, ExactTable],
        version: int,
        quarantined: Iterable[int],
    ) -> BankIndexes:
        indexes = cls()
        indexes._banks = {b.id: b for b in banks}
        indexes._quarantined = set(quarantined)
        indexes._register_videos(_indexed(videos, Indexing.video))
        indexes._tables = {t: table for t, table in tables.items() if len(table)}
        if len(pdq["pdq.ids"]):
            indexes._pdq = PdqIndex.build(
                pdq["pdq.ids"], pdq["pdq.words"], tags=pdq["pdq.banks"], active=pdq["pdq.active"]
            )
        indexes.version = version
        return indexes

    def _knows_exact(self, entry_id: int) -> bool:
        return entry_id in self._exact_entries or any(
            t.row_of(entry_id) is not None for t in self._tables.values()
        )

    def _register_exact(self, entries: list[IndexedEntry]) -> None:
        for e in entries:
            self._exact_entries[e.entry_id] = (e.bank_id, e.active)
            self._exact[e.signal_type][e.value].add(e.entry_id)

    def _register_videos(self, entries: list[IndexedEntry]) -> None:
        ids: list[int] = []
        hashes: list[str] = []
        tags: list[int] = []
        for e in entries:
            frames = usable(e.frames)
            self._videos[e.entry_id] = (e.bank_id, len(frames), e.active)
            start = len(self._video_rows)
            ids += range(start, start + len(frames))
            hashes += frames
            tags += [e.bank_id] * len(frames)
            self._video_rows += [e.entry_id] * len(frames)
        self._video.add(ids, hashes, tags)

    def quarantine(self, entry_id: int, on: bool = True) -> None:
        """``on``: the entry's matches ask a person (``review``) instead of acting."""
        with self._lock:
            if on:
                self._quarantined.add(entry_id)
            else:
                self._quarantined.discard(entry_id)

    def _match(self, bank: Bank, signal_type: SignalType, entry_id: int, distance: int) -> Match:
        policy = bank.policy
        if entry_id in self._quarantined and policy in ACTING:
            policy = BankPolicy.review
        return Match(bank.name, policy, signal_type, entry_id, distance)

    def put_bank(self, bank: Bank) -> None:
        with self._lock:
            self._banks[bank.id] = bank

    def add(self, entries: list[IndexedEntry]) -> None:
        with self._lock:
            self._register_videos(_indexed(entries, Indexing.video))
            self._register_exact(_indexed(entries, Indexing.exact))
            pdq = _indexed(entries, Indexing.near)
            if pdq:
                self._pdq.add(
                    [e.entry_id for e in pdq], [e.value for e in pdq], [e.bank_id for e in pdq]
                )
                for e in pdq:
                    if not e.active:
                        self._pdq.set_active(e.entry_id, False)

    def apply(
        self,
        changed: list[IndexedEntry],
        deleted: Sequence[int],
        *,
        banks: list[Bank],
        quarantined: Iterable[int],
        version: int,
    ) -> None:
        """Catch up with the store at ``version``: the banks and the quarantine as they are
        now, ``changed`` entries (new ones added, known ones switched on or off) and
        ``deleted`` ones switched off; what another process changed, applied here without
        reading the other entries again."""
        with self._lock:
            self._banks = {b.id: b for b in banks}
            self._quarantined = set(quarantined)
            new: list[IndexedEntry] = []
            near: list[IndexedEntry] = []
            for e in changed:
                if e.entry_id in self._videos or self._knows_exact(e.entry_id):
                    self.set_active(e.entry_id, e.active)
                elif SIGNALS[e.signal_type].indexing is Indexing.near:
                    near.append(e)
                else:
                    new.append(e)
            known = self._pdq.set_active_many([e.entry_id for e in near], [e.active for e in near])
            new += [e for e in near if e.entry_id not in known]
            gone = [i for i in deleted if i in self._videos or self._knows_exact(i)]
            for entry_id in gone:
                self.set_active(entry_id, False)
            self._pdq.set_active_many(list(deleted), [False] * len(deleted))
            self.add(new)
            self.version = version

    def compact(self) -> None:
        """Fold the PDQ entries added since the last rebuild into the tables (after a bulk
        add: until then they are searched by a scan)."""
        if self._pdq.tail:
            self._pdq.compact()

    def set_active(self, entry_id: int, active: bool) -> None:
        with self._lock:
            video = self._videos.get(entry_id)
            if video is not None:
                self._videos[entry_id] = (video[0], video[1], active)
                return
            exact = self._exact_entries.get(entry_id)
            if exact is not None:
                self._exact_entries[entry_id] = (exact[0], active)
            elif not any(t.set_active(entry_id, active) for t in self._tables.values()):
                self._pdq.set_active(entry_id, active)

    def lookup(
        self, hashes: dict[SignalType, str], *, pdq_variants: Sequence[str] = ()
    ) -> list[Match]:
        """Every match of these hashes in an enabled bank, nearest first. ``pdq_variants``: the
        PDQ hashes of the same image mirrored and rotated (``PdqHash.variants``), looked up as
        well, so a mirrored or rotated copy of a banked picture matches; an entry matched by
        several counts once, at its nearest. A match in an ``allow`` bank leaves only the allow
        banks' matches (``banks.without_allowed``)."""
        with self._lock:
            banks = dict(self._banks)
        matches: list[Match] = []
        for signal_type, value in hashes.items():
            indexing = SIGNALS[signal_type].indexing
            if indexing is Indexing.video:
                continue  # whole videos: ``lookup_video``
            if indexing is Indexing.near:
                thresholds = [b.pdq_threshold for b in banks.values() if b.enabled]
                if not thresholds:
                    continue
                nearest: dict[int, tuple[int, int]] = {}
                for query in (value, *pdq_variants):
                    for entry_id, distance, bank_id in self._pdq.search_tagged(
                        query, max(thresholds)
                    ):
                        if entry_id not in nearest or distance < nearest[entry_id][0]:
                            nearest[entry_id] = (distance, bank_id)
                hits = [(e, d, b) for e, (d, b) in nearest.items()]
            else:
                table = self._tables.get(signal_type)
                hits = [(e, 0, b) for e, b, on in table.find(value) if on] if table else []
                for entry_id in sorted(self._exact[signal_type].get(value, ())):
                    bank_id, active = self._exact_entries[entry_id]
                    if active:
                        hits.append((entry_id, 0, bank_id))
            for entry_id, distance, bank_id in hits:
                bank = banks.get(bank_id)
                if bank is None or not bank.enabled:
                    continue
                if indexing is Indexing.near and distance > bank.pdq_threshold:
                    continue
                matches.append(self._match(bank, signal_type, entry_id, distance))
        return sorted(without_allowed(matches), key=lambda m: (m.distance, m.bank, m.entry_id))

    def lookup_video(self, frames: Sequence[VpdqFrame]) -> list[Match]:
        """The ``vpdq`` entries a video matches by vPDQ's rule (``matching.vpdq``): at least
        80% of its usable frames within its bank's distance of the entry's frames, nearest
        first; a match in an ``allow`` bank leaves only the allow banks'."""
        query = usable(frames)
        with self._lock:
            banks = dict(self._banks)
            videos = dict(self._videos)
        if not query or not videos:
            return []
        widest = max((b.pdq_threshold for b in banks.values() if b.enabled), default=-1)
        if widest < 0:
            return []
        query_hits: dict[int, set[int]] = defaultdict(set)
        entry_hits: dict[int, set[int]] = defaultdict(set)
        nearest: dict[int, int] = {}
        for position, value in enumerate(query):
            for row, distance, bank_id in self._video.search_tagged(value, widest):
                entry_id = self._video_rows[row]
                bank = banks.get(bank_id)
                if bank is None or not bank.enabled or distance > bank.pdq_threshold:
                    continue
                query_hits[entry_id].add(position)
                entry_hits[entry_id].add(row)
                nearest[entry_id] = min(distance, nearest.get(entry_id, distance))
        matches = []
        for entry_id, hits in query_hits.items():
            bank_id, count, active = videos[entry_id]
            result = VpdqResult(
                100.0 * len(hits) / len(query), 100.0 * len(entry_hits[entry_id]) / count
            )
            if active and result.matches():
                bank = banks[bank_id]
                matches.append(self._match(bank, SignalType.vpdq, entry_id, nearest[entry_id]))
        return sorted(without_allowed(matches), key=lambda m: (m.distance, m.bank, m.entry_id))

    @property
    def nbytes(self) -> int:
        """The arrays the PDQ and exact indexes hold (not the few entries added since in
        dictionaries, nor the videos')."""
        tables = sum(
            a.nbytes for t in self._tables.values() for a in (*t.arrays().values(), t.keys, t.by_id)
        )
        return self._pdq.nbytes + tables

    def __len__(self) -> int:
        return (
            len(self._pdq)
            + sum(active for _, active in self._exact_entries.values())
            + sum(t.active_count() for t in self._tables.values())
            + sum(active for _, _, active in self._videos.values())
        )
