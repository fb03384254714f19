"""The PDQ index's inner loops, compiled with numba.

Why compiled: a lookup at ten million hashes touches thousands of scattered table entries;
as whole-array numpy steps each touch is a separate pass with its own temporary, and the
lookup is bound by Python and memory round trips (about 1,100 a second, measured). One
compiled loop issues the loads back to back, so the processor overlaps their latency.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

AHEAD = 32  # how many loads ahead to prefetch

_M1 = np.uint64(0x5555555555555555)
_M2 = np.uint64(0x3333333333333333)
_M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
_H01 = np.uint64(0x0101010101010101)


@intrinsic
def _prefetch(typingctx, array, i, j):  # type: ignore[no-untyped-def]
    """Hint the processor to fetch ``array[i]`` (or ``array[i, j]``) into cache."""
    signature = types.void(array, i, j)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        array_type = sig.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        index = [args[1], args[2]][: array_type.ndim]
        pointer = cgutils.get_item_pointer(context, builder, array_type, view, index)
        i32 = ir.IntType(32)
        byte_pointer = builder.bitcast(pointer, ir.IntType(8).as_pointer())
        function = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(ir.VoidType(), [byte_pointer.type, i32, i32, i32]),
            "llvm.prefetch.p0",
        )
        builder.call(function, [byte_pointer, i32(0), i32(3), i32(1)])  # read, keep, data
        return context.get_dummy_value()

    return signature, codegen


@njit(inline="always", cache=True)
def _popcount(x: np.uint64) -> int:
    x = x - ((x >> np.uint64(1)) & _M1)
    x = (x & _M2) + ((x >> np.uint64(2)) & _M2)
    x = (x + (x >> np.uint64(4))) & _M4
    return int((x * _H01) >> np.uint64(56))


@njit(inline="always", cache=True)
def _distance(words, pos, q0, q1, q2, q3):  # type: ignore[no-untyped-def]
    return (
        _popcount(words[pos, 0] ^ q0)
        + _popcount(words[pos, 1] ^ q1)
        + _popcount(words[pos, 2] ^ q2)
        + _popcount(words[pos, 3] ^ q3)
    )


@njit(cache=True, nogil=True)
def search_tables(
    query,
    keys,
    residues,
    masks,
    weights,
    chunk_of,
    bases,
    radius,
    packed,
    starts,
    positions,
    words,
    active,
    threshold,
    out,
):  # type: ignore[no-untyped-def]
    """Write (position, distance) of each active hash within ``threshold`` into ``out``
    (rows, may repeat a position once per chunk it matched in); return the row count, or
    -1 if ``out`` was too small.

    With ``packed``, each table entry carries the chunk's low bits that its key drops
    (``entry >> 24``): a candidate whose whole chunk is farther than the chunk's radius is
    skipped before its hash is fetched (it is found through another chunk, if at all).
    """
    # Three passes, each a run of independent loads the processor can overlap: the probed
    # table slots, then the surviving candidates' rows, then their hashes.
    n_probes = masks.shape[0]
    slots = np.empty(n_probes, dtype=np.int64)
    for p in range(n_probes):
        chunk = chunk_of[p]
        slots[p] = (masks[p] ^ keys[chunk]) + bases[chunk]
    lo = np.empty(n_probes, dtype=np.int64)
    hi = np.empty(n_probes, dtype=np.int64)
    for p in range(n_probes):
        if p + AHEAD < n_probes:
            _prefetch(starts, slots[p + AHEAD], 0)
        lo[p] = starts[slots[p]]
        hi[p] = starts[slots[p] + 1]
    total = 0
    for p in range(n_probes):
        total += hi[p] - lo[p]
    rows = np.empty(total, dtype=np.int64)
    n_rows = 0
    for p in range(n_probes):
        if p + AHEAD < n_probes and lo[p + AHEAD] < positions.shape[0]:
            _prefetch(positions, lo[p + AHEAD], 0)
        chunk = chunk_of[p]
        slack = radius[chunk] - weights[p]
        for k in range(lo[p], hi[p]):
            entry = positions[k]
            if packed:
                if _popcount(np.uint64((entry >> 24) ^ residues[chunk])) > slack:
                    continue
                rows[n_rows] = entry & 0xFFFFFF
            else:
                rows[n_rows] = entry
            n_rows += 1
    count = 0
    q0, q1, q2, q3 = query[0], query[1], query[2], query[3]
    for i in range(n_rows):
        if i + AHEAD < n_rows:
            _prefetch(words, rows[i + AHEAD], 0)
        pos = rows[i]
        d = _distance(words, pos, q0, q1, q2, q3)
        if d <= threshold and (active[pos >> 3] >> (pos & 7)) & 1:
            if count >= out.shape[0]:
                return -1
            out[count, 0] = pos
            out[count, 1] = d
            count += 1
    return count


@njit(cache=True, nogil=True)
def scan_range(query, words, active, first, last, threshold, out):  # type: ignore[no-untyped-def]
    """Like ``search_tables`` over rows ``first … last - 1`` (the tail, or a full scan)."""
    count = 0
    q0, q1, q2, q3 = query[0], query[1], query[2], query[3]
    for pos in range(first, last):
        d = _distance(words, pos, q0, q1, q2, q3)
        if d <= threshold and (active[pos >> 3] >> (pos & 7)) & 1:
            if count >= out.shape[0]:
                return -1
            out[count, 0] = pos
            out[count, 1] = d
            count += 1
    return count


@njit(cache=True, nogil=True)
def counting_sort(keys, tags, table, positions):  # type: ignore[no-untyped-def]
    """Stable counting sort: ``table`` (len K + 1) gets each key's first slot, ``positions``
    the row numbers grouped by key, each OR-ed with its ``tags`` value. O(n + K)."""
    table[:] = 0
    for i in range(keys.shape[0]):
        table[keys[i] + 1] += 1
    for k in range(1, table.shape[0]):
        table[k] += table[k - 1]
    cursor = table[:-1].copy()
    for i in range(keys.shape[0]):
        k = keys[i]
        positions[cursor[k]] = i | tags[i]
        cursor[k] += 1
