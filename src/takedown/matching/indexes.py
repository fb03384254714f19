"""Every bank's entries, indexed for lookup: one index per signal type, shared by all banks.

Entries of disabled banks and disabled entries are masked, not removed, so turning them back
on is immediate. A lookup searches PDQ at the largest threshold any bank asks for and keeps,
for each hit, only what is within its own bank's threshold.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from takedown.matching.banks import Bank, Match, SignalType
from takedown.matching.pdq_index import PdqIndex, hashes_to_words


@dataclass(frozen=True)
class IndexedEntry:
    entry_id: int
    bank_id: int
    signal_type: SignalType
    value: str
    active: bool


class BankIndexes:
    """In-memory indexes over all entries. Thread-safe; changes count at the next lookup."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._banks: dict[int, Bank] = {}
        self._entry_bank: dict[int, int] = {}
        self._entry_active: dict[int, bool] = {}
        self._exact: dict[SignalType, dict[str, set[int]]] = {
            SignalType.md5: defaultdict(set),
            SignalType.sha256: defaultdict(set),
        }
        self._pdq = PdqIndex()
        self.version: int | None = None  # the store's change counter these reflect

    @classmethod
    def build(cls, banks: list[Bank], entries: list[IndexedEntry], version: int) -> BankIndexes:
        indexes = cls()
        indexes._banks = {b.id: b for b in banks}
        pdq = indexes._register(entries)
        if pdq:
            indexes._pdq = PdqIndex.build(
                np.asarray([e.entry_id for e in pdq], dtype=np.int64),
                hashes_to_words([e.value for e in pdq]),
            )
            for e in pdq:
                if not e.active:
                    indexes._pdq.set_active(e.entry_id, False)
        indexes.version = version
        return indexes

    def put_bank(self, bank: Bank) -> None:
        with self._lock:
            self._banks[bank.id] = bank

    def _register(self, entries: list[IndexedEntry]) -> list[IndexedEntry]:
        """Record each entry's bank and state and index the exact ones; return the PDQ ones
        for the caller to put in the PDQ index (built whole, or appended)."""
        for e in entries:
            self._entry_bank[e.entry_id] = e.bank_id
            self._entry_active[e.entry_id] = e.active
            if e.signal_type is not SignalType.pdq:
                self._exact[e.signal_type][e.value].add(e.entry_id)
        return [e for e in entries if e.signal_type is SignalType.pdq]

    def add(self, entries: list[IndexedEntry]) -> None:
        with self._lock:
            pdq = self._register(entries)
            if pdq:
                self._pdq.add([e.entry_id for e in pdq], [e.value for e in pdq])
                for e in pdq:
                    if not e.active:
                        self._pdq.set_active(e.entry_id, False)

    def set_active(self, entry_id: int, active: bool) -> None:
        with self._lock:
            if entry_id in self._entry_bank:
                self._entry_active[entry_id] = active
                self._pdq.set_active(entry_id, active)

    def lookup(self, hashes: dict[SignalType, str]) -> list[Match]:
        """Every match of these hashes in an enabled bank, nearest first."""
        with self._lock:
            banks = dict(self._banks)
        matches: list[Match] = []
        for signal_type, value in hashes.items():
            if signal_type is SignalType.pdq:
                thresholds = [b.pdq_threshold for b in banks.values() if b.enabled]
                if not thresholds:
                    continue
                hits = self._pdq.search(value, max(thresholds))
            else:
                hits = [(i, 0) for i in sorted(self._exact[signal_type].get(value, ()))]
            for entry_id, distance in hits:
                bank = banks.get(self._entry_bank.get(entry_id, -1))
                if bank is None or not bank.enabled or not self._entry_active.get(entry_id):
                    continue
                if signal_type is SignalType.pdq and distance > bank.pdq_threshold:
                    continue
                matches.append(Match(bank.name, bank.policy, signal_type, entry_id, distance))
        return sorted(matches, key=lambda m: (m.distance, m.bank, m.entry_id))

    def __len__(self) -> int:
        return sum(self._entry_active.values())
