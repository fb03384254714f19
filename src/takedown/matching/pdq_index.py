"""Exact PDQ search: every hash within a distance, by multi-index hashing.

The 256 bits are cut into 11 chunks: ten of 23–24 bits and one of 20. Two hashes within
distance 31 must agree, within 2 bits, on one of the ten large chunks, or within 1 bit on the
small one: otherwise they would differ in at least 3·10 + 2 = 32 bits (pigeonhole on
Σ (radius + 1) = 32). A lookup therefore probes, in each chunk's table, every key within that
chunk's radius of the query's, and checks each candidate's full distance: it cannot miss a
match at distance ≤ 31, and it returns none farther than the threshold asked for. Thresholds
above 31 are answered by a full scan, exact as well.

Tables are indexed by the top 22 bits of a chunk (a larger key space would cost more memory
than it saves), in CSR form: ``starts[key] … starts[key + 1]`` in ``positions``; each entry
also carries the 1–2 low bits the key drops, to skip far candidates before fetching their
hash. Built by a counting sort per chunk (chunks in parallel): about 98 bytes a hash, 5 s
and under 1 GB at ten million (``make bench``). The inner loops are compiled
(``_kernels``).

Added hashes go to a small tail that is scanned in full at each lookup and folded into the
tables by ``compact()``; disabled ones are masked. Both count at the next lookup.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import combinations
from typing import Any

import numpy as np
from numpy.typing import NDArray

from takedown.matching._kernels import counting_sort, scan_range, search_tables

CHUNK_BITS = (24, 24, 24, 24, 24, 24, 23, 23, 23, 23, 20)
CHUNK_RADIUS = (2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1)
EXACT_UP_TO = sum(r + 1 for r in CHUNK_RADIUS) - 1  # 31
KEY_BITS = 22
TAIL_LIMIT = 50_000  # rows searched by a scan before the tables are rebuilt over them
TAIL_SHARE = 4  # …or a quarter of the indexed rows, when more: a million added in pages
# then costs a handful of rebuilds, not twenty (each one's time grows with the index)
assert sum(CHUNK_BITS) == 256

U64 = NDArray[np.uint64]


def hashes_to_words(hex_hashes: list[str]) -> U64:
    """(n, 4) uint64, word 0 holding the most significant 64 bits of Meta's hex."""
    raw = bytes.fromhex("".join(hex_hashes))
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 4)


def _chunk_values(words: U64, chunk: int) -> NDArray[np.uint32]:
    """Bits [offset, offset + width) of each hash (MSB-first), as integers."""
    offset = sum(CHUNK_BITS[:chunk])
    width = CHUNK_BITS[chunk]
    word, bit = divmod(offset, 64)
    value = words[:, word] << np.uint64(bit)
    if bit + width > 64:
        value |= words[:, word + 1] >> np.uint64(64 - bit)
    return (value >> np.uint64(64 - width)).astype(np.uint32)


@cache
def _flip_masks(width: int, radius: int) -> NDArray[np.uint32]:
    """Every XOR mask of at most ``radius`` set bits in ``width`` bits (0 first)."""
    masks = [0]
    for r in range(1, radius + 1):
        masks.extend(sum(1 << b for b in bits) for bits in combinations(range(width), r))
    return np.array(masks, dtype=np.uint32)


def _key_width(chunk: int) -> int:
    return min(CHUNK_BITS[chunk], KEY_BITS)


def chunk_keys(hex_hash: str) -> list[int]:
    """Each chunk's whole value: what the registry's chunk tables hold for a hash on
    PostgreSQL (migration 0017 computes the same in SQL, ``takedown_pdq_chunks``)."""
    value = int(hex_hash, 16)
    keys, offset = [], 0
    for width in CHUNK_BITS:
        keys.append((value >> (256 - offset - width)) & ((1 << width) - 1))
        offset += width
    return keys


def chunk_probes(hex_hashes: Sequence[str]) -> list[list[int]]:
    """For each chunk, every whole value within the chunk's radius of one of ``hex_hashes``'
    (sorted): a hash within 31 bits of one of them has one of its chunks among these (the
    module's pigeonhole)."""
    probes: list[set[int]] = [set() for _ in CHUNK_BITS]
    for hex_hash in hex_hashes:
        for chunk, value in enumerate(chunk_keys(hex_hash)):
            masks = _flip_masks(CHUNK_BITS[chunk], CHUNK_RADIUS[chunk])
            probes[chunk].update((masks ^ np.uint32(value)).tolist())
    return [sorted(p) for p in probes]


PACK_LIMIT = 1 << 24  # rows addressable when table entries carry residue bits


@dataclass(frozen=True)
class _Tables:
    """All chunks' CSR tables in two arrays, so one lookup is a few whole-array steps.

    Chunk c's table occupies ``starts[base[c] : base[c] + 2**key_width + 1]``; its values
    index ``positions`` directly (already offset by c·n).
    """

    starts: NDArray[np.uint32]
    positions: NDArray[np.uint32]
    n: int
    packed: bool  # entries are row | residue << 24 (while n ≤ PACK_LIMIT)


def _empty_tables() -> _Tables:
    return _Tables(np.zeros(0, dtype=np.uint32), np.zeros(0, dtype=np.uint32), 0, False)


@dataclass(frozen=True)
class _Plan:
    masks: NDArray[np.uint32]  # every probe's XOR mask, chunk after chunk
    weights: NDArray[np.int64]  # bits set in each mask
    chunk_of: NDArray[np.intp]
    bases: NDArray[np.intp]  # each chunk's first slot in the joint ``starts``
    radius: NDArray[np.int64]


@lru_cache(maxsize=1)
def _probe_plan() -> _Plan:
    masks = [_flip_masks(_key_width(c), CHUNK_RADIUS[c]) for c in range(len(CHUNK_BITS))]
    sizes = [(1 << _key_width(c)) + 1 for c in range(len(CHUNK_BITS))]
    joined = np.concatenate(masks)
    return _Plan(
        masks=joined,
        weights=np.bitwise_count(joined).astype(np.int64),
        chunk_of=np.repeat(np.arange(len(CHUNK_BITS)), [len(m) for m in masks]),
        bases=np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp),
        radius=np.array(CHUNK_RADIUS, dtype=np.int64),
    )


def _split_query(query: int) -> tuple[NDArray[np.uint32], NDArray[np.uint32]]:
    """Each chunk's table key and residue (the low bits the key drops) for a query."""
    keys, residues = [], []
    offset = 0
    for width in CHUNK_BITS:
        value = (query >> (256 - offset - width)) & ((1 << width) - 1)
        drop = max(0, width - KEY_BITS)
        keys.append(value >> drop)
        residues.append(value & ((1 << drop) - 1))
        offset += width
    return np.array(keys, dtype=np.uint32), np.array(residues, dtype=np.uint32)


class PdqIndex:
    """Exact radius search over PDQ hashes, each tagged with an integer entry id.

    Example::

        index = PdqIndex()
        index.add([17, 18], ["f8f8…", "d8f8…"])
        index.search("f8f8…", threshold=31)  # [(17, 0), (18, 6)]

    Thread-safety: lookups may run concurrently with each other and with ``add`` and
    ``disable``; ``compact`` swaps the tables in atomically.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._words: U64 = np.zeros((0, 4), dtype=np.uint64)
        # Entry ids take 4 bytes while they fit (40 MB less at ten million), else 8.
        self._ids: NDArray[np.integer[Any]] = np.zeros(0, dtype=np.uint32)
        # Tags (bank ids) take 2 bytes while they fit, else 4.
        self._tags: NDArray[np.unsignedinteger[Any]] = np.zeros(0, dtype=np.uint16)
        # One bit a row, little-endian within each byte: row i is bit i % 8 of byte i // 8.
        self._active: NDArray[np.uint8] = np.zeros(0, dtype=np.uint8)
        self._indexed = 0  # rows [0, _indexed) are in the tables; the rest are the tail
        self._tables = _empty_tables()

    def __len__(self) -> int:
        return int(np.bitwise_count(self._active).sum())

    @property
    def nbytes(self) -> int:
        """Every array the index holds; it holds nothing else of size."""
        tables = self._tables.starts.nbytes + self._tables.positions.nbytes
        arrays = self._words.nbytes + self._ids.nbytes + self._tags.nbytes + self._active.nbytes
        return int(arrays + tables)

    @classmethod
    def build(
        cls,
        ids: NDArray[np.int64] | list[int],
        words: U64,
        *,
        tags: NDArray[np.uint32] | None = None,
        active: NDArray[np.bool_] | None = None,
    ) -> PdqIndex:
        """An index over ``words`` ((n, 4) uint64, see ``hashes_to_words``).

        ``tags`` is a small integer carried with each row and returned by
        ``search_tagged`` (the bank of the entry); ``active`` starts rows disabled."""
        index = cls()
        index._append(np.asarray(ids, dtype=np.int64), words, tags)
        if active is not None:
            index._active &= np.packbits(np.asarray(active, dtype=bool), bitorder="little")
        index.compact()
        return index

    def add(self, ids: list[int], hex_hashes: list[str], tags: list[int] | None = None) -> None:
        """Add entries; they count at the next lookup (from the tail until ``compact``).

        An id the index holds already is replaced: its old row is switched off."""
        if ids:
            self._append(
                np.asarray(ids, dtype=np.int64),
                hashes_to_words(hex_hashes),
                None if tags is None else np.asarray(tags, dtype=np.uint32),
            )
            if self.tail > max(TAIL_LIMIT, self._indexed // TAIL_SHARE):
                self.compact()

    def _append(self, ids: NDArray[np.int64], words: U64, tags: NDArray[np.uint32] | None) -> None:
        with self._lock:
            start = len(self._ids)
            if start and len(ids) and int(ids.min()) <= int(self._ids.max()):
                # Re-added ids: their old rows stop counting (a scan, not a dict: a dict of ten
                # million ids would double the memory). New entries have ids above every id
                # held (the store counts up), so a sync's pages skip the scan.
                bits = self._active_bits()
                bits[np.isin(self._ids, ids)] = False
                self._active = np.packbits(bits, bitorder="little")
            self._words = (
                np.concatenate([self._words, words]) if start else np.ascontiguousarray(words)
            )
            wide = len(ids) and (int(ids.max()) >= 1 << 32 or int(ids.min()) < 0)
            dtype = np.int64 if wide or self._ids.dtype == np.int64 else np.uint32
            self._ids = np.concatenate([self._ids, ids]).astype(dtype, copy=False)
            new_tags = np.zeros(len(ids), dtype=np.uint32) if tags is None else tags
            wide_tags = self._tags.dtype == np.uint32 or (
                len(new_tags) and int(new_tags.max()) >= 1 << 16
            )
            self._tags = np.concatenate([self._tags, new_tags]).astype(
                np.uint32 if wide_tags else np.uint16, copy=False
            )
            bits = np.concatenate([self._active_bits(start), np.ones(len(ids), dtype=bool)])
            self._active = np.packbits(bits, bitorder="little")

    def set_active(self, entry_id: int, active: bool) -> bool:
        """Disable or re-enable one entry; False if the index never had it.

        A scan over the ids (milliseconds at ten million): disabling is rare admin work."""
        rows = np.flatnonzero(self._ids == entry_id)
        if not len(rows):
            return False
        row = int(rows[-1])  # the latest row; earlier ones were replaced
        with self._lock:
            if active:
                self._active[row >> 3] |= np.uint8(1 << (row & 7))
            else:
                self._active[row >> 3] &= np.uint8(~(1 << (row & 7)) & 0xFF)
        return True

    def set_active_many(self, entry_ids: Sequence[int], active: Sequence[bool]) -> set[int]:
        """``set_active`` for many entries in one pass over the ids (a sync's withdrawals);
        the ids the index had."""
        if not len(entry_ids):
            return set()
        wanted = np.asarray(entry_ids, dtype=np.int64)
        flags = np.asarray(active, dtype=bool)
        order = np.argsort(wanted, kind="stable")
        wanted, flags = wanted[order], flags[order]
        with self._lock:
            rows = np.flatnonzero(np.isin(self._ids, wanted))
            if not len(rows):
                return set()
            ids = self._ids[rows]
            # The latest row of each id (earlier ones were replaced).
            last = len(ids) - 1 - np.unique(ids[::-1], return_index=True)[1]
            rows, ids = rows[last], ids[last]
            on = flags[np.searchsorted(wanted, ids)]
            bits = self._active_bits()
            bits[rows] = on
            self._active = np.packbits(bits, bitorder="little")
        return {int(i) for i in ids}

    def _active_bits(self, rows: int | None = None) -> NDArray[np.bool_]:
        """The active flags unpacked, one bool a row (for the rare whole-array changes)."""
        n = len(self._ids) if rows is None else rows
        return np.unpackbits(self._active, count=n, bitorder="little").astype(bool)

    @property
    def tail(self) -> int:
        """Rows added since the tables were built: searched by a scan until ``compact``."""
        return len(self._ids) - self._indexed

    def compact(self) -> None:
        """Rebuild the tables over every row, dropping nothing (disabled rows stay masked)."""
        with self._lock:
            words, n = self._words, len(self._ids)

        sizes = [(1 << _key_width(c)) + 1 for c in range(len(CHUNK_BITS))]
        starts = np.empty(sum(sizes), dtype=np.uint32)
        positions = np.empty(len(CHUNK_BITS) * n, dtype=np.uint32)

        packed = n <= PACK_LIMIT

        def one_chunk(chunk: int) -> None:
            base = sum(sizes[:chunk])
            table = starts[base : base + sizes[chunk]]
            values = _chunk_values(words[:n], chunk)
            drop = CHUNK_BITS[chunk] - _key_width(chunk)
            if packed:
                tags = (values & np.uint32((1 << drop) - 1)) << np.uint32(24)
            else:
                tags = np.zeros(n, dtype=np.uint32)
            counting_sort(
                values >> np.uint32(drop), tags, table, positions[chunk * n : (chunk + 1) * n]
            )
            table += np.uint32(chunk * n)

        # The kernels release the GIL: chunks build in parallel on every core.
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(one_chunk, range(len(CHUNK_BITS))))
        tables = _Tables(starts, positions, n, packed)
        with self._lock:
            self._tables = tables
            self._indexed = n

    def search(self, hex_hash: str, threshold: int = 31) -> list[tuple[int, int]]:
        """Every active entry within ``threshold`` bits: (entry id, distance), nearest first."""
        return [(entry_id, d) for entry_id, d, _ in self.search_tagged(hex_hash, threshold)]

    def search_tagged(self, hex_hash: str, threshold: int = 31) -> list[tuple[int, int, int]]:
        """Like ``search``, with each entry's tag: (entry id, distance, tag)."""
        if not 0 <= threshold <= 256:
            raise ValueError("threshold must be between 0 and 256")
        query = hashes_to_words([hex_hash])[0]
        words, ids, active = self._words, self._ids, self._active
        tables, indexed = self._tables, self._indexed
        rows = []
        if threshold > EXACT_UP_TO or tables.n == 0:
            rows.append(_collect(scan_range, query, words, active, 0, len(ids), threshold))
        else:
            plan = _probe_plan()
            keys, residues = _split_query(int(hex_hash, 16))
            rows.append(
                _collect(
                    search_tables,
                    query,
                    keys,
                    residues,
                    plan.masks,
                    plan.weights,
                    plan.chunk_of,
                    plan.bases,
                    plan.radius,
                    tables.packed,
                    tables.starts,
                    tables.positions,
                    words,
                    active,
                    threshold,
                )
            )
            if indexed < len(ids):
                rows.append(
                    _collect(scan_range, query, words, active, indexed, len(ids), threshold)
                )
        found = np.concatenate(rows)
        hits, hit_distances = found[:, 0], found[:, 1]
        tags = self._tags
        best: dict[int, tuple[int, int]] = {}
        for entry_id, d, tag in zip(
            ids[hits].tolist(), hit_distances.tolist(), tags[hits].tolist(), strict=True
        ):
            if entry_id not in best or d < best[entry_id][0]:
                best[entry_id] = (d, tag)
        return sorted(
            ((i, d, tag) for i, (d, tag) in best.items()), key=lambda item: (item[1], item[0])
        )


def _collect(kernel: Any, *args: Any) -> NDArray[np.int64]:
    """Run a search kernel with an output buffer, growing it until the results fit."""
    size = 256
    while True:
        out = np.empty((size, 2), dtype=np.int64)
        count = kernel(*args, out)
        if count >= 0:
            return out[:count]
        size *= 8
