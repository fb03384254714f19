"""Exact-value entries (MD5, SHA-256, …) as sorted arrays: built from columns in a sort, held
without an object per entry, written to and read from a snapshot as they are.

Ten million MD5s in a dictionary take seconds to build and over a gigabyte; as arrays they
take a sort and about 45 bytes an entry. A lookup bisects the values' first eight bytes and
compares the whole value of the few rows that share them. Entries switched on and off are
flipped in place; entries added after the build live beside the table (``BankIndexes``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray


def values_to_bytes(hex_values: list[str], width: int) -> NDArray[np.uint8]:
    """(n, width) bytes of lower- or upper-case hex values, each ``width`` bytes long."""
    raw = bytes.fromhex("".join(hex_values))
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, width)


@dataclass
class ExactColumns:
    """One signal type's entries as the store streams them, in pieces (no object per entry)."""

    width: int  # bytes a value
    ids: list[NDArray[np.int64]] = field(default_factory=list)
    values: list[NDArray[np.uint8]] = field(default_factory=list)
    banks: list[NDArray[np.uint32]] = field(default_factory=list)
    active: list[NDArray[np.bool_]] = field(default_factory=list)

    def __len__(self) -> int:
        return sum(len(a) for a in self.ids)


def concatenated(parts: list[NDArray], dtype: type, shape: tuple[int, ...] = ()) -> NDArray:  # type: ignore[type-arg]
    """The pieces as one array (an empty one of ``dtype`` and row ``shape`` for none)."""
    return np.concatenate(parts) if parts else np.zeros((0, *shape), dtype=dtype)


@dataclass(frozen=True)
class ExactTable:
    """Entries of one exact signal type, sorted by value (then id). ``arrays`` and
    ``from_arrays`` are what a snapshot stores and loads."""

    keys: NDArray[np.uint64]  # each value's first 8 bytes, big-endian: the sort key
    values: NDArray[np.uint8]  # (n, width)
    ids: NDArray[np.int64]
    banks: NDArray[np.uint32]
    active: NDArray[np.bool_]
    by_id: NDArray[np.intp]  # row positions in order of entry id

    @classmethod
    def build(cls, columns: ExactColumns) -> ExactTable:
        values = concatenated(columns.values, np.uint8, (columns.width,))
        ids = concatenated(columns.ids, np.int64)
        keys = _keys(values)
        order = np.lexsort((ids, keys))
        return cls.from_arrays(
            {
                "values": values[order],
                "ids": ids[order],
                "banks": concatenated(columns.banks, np.uint32)[order],
                "active": concatenated(columns.active, np.bool_)[order],
            }
        )

    @classmethod
    def from_arrays(cls, arrays: dict[str, NDArray]) -> ExactTable:  # type: ignore[type-arg]
        """A table from its arrays (sorted already, as ``arrays`` gives them)."""
        values = np.ascontiguousarray(arrays["values"], dtype=np.uint8)
        ids = np.asarray(arrays["ids"], dtype=np.int64)
        return cls(
            keys=_keys(values),
            values=values,
            ids=ids,
            banks=np.asarray(arrays["banks"], dtype=np.uint32),
            active=np.array(arrays["active"], dtype=np.bool_),  # a copy: flipped in place
            by_id=np.argsort(ids, kind="stable"),
        )

    def arrays(self) -> dict[str, NDArray]:  # type: ignore[type-arg]
        return {"values": self.values, "ids": self.ids, "banks": self.banks, "active": self.active}

    def __len__(self) -> int:
        return len(self.ids)

    def find(self, hex_value: str) -> list[tuple[int, int, bool]]:
        """(entry id, bank, active) of every row holding ``hex_value``, by entry id."""
        if not len(self.ids):
            return []
        wanted = np.frombuffer(bytes.fromhex(hex_value), dtype=np.uint8)
        if len(wanted) != self.values.shape[1]:
            return []
        key = _keys(wanted.reshape(1, -1))[0]
        start = int(np.searchsorted(self.keys, key, side="left"))
        end = int(np.searchsorted(self.keys, key, side="right"))
        return [
            (int(self.ids[row]), int(self.banks[row]), bool(self.active[row]))
            for row in range(start, end)
            if np.array_equal(self.values[row], wanted)
        ]

    def row_of(self, entry_id: int) -> int | None:
        at = int(np.searchsorted(self.ids, entry_id, sorter=self.by_id))
        if at < len(self.by_id) and self.ids[self.by_id[at]] == entry_id:
            return int(self.by_id[at])
        return None

    def set_active(self, entry_id: int, active: bool) -> bool:
        """Switch an entry on or off; False where the table does not hold it."""
        row = self.row_of(entry_id)
        if row is None:
            return False
        self.active[row] = active
        return True

    def active_count(self) -> int:
        return int(np.count_nonzero(self.active))


def _keys(values: NDArray[np.uint8]) -> NDArray[np.uint64]:
    """Each row's first 8 bytes as a big-endian integer (zero-padded where shorter)."""
    head = np.zeros((len(values), 8), dtype=np.uint8)
    width = min(8, values.shape[1]) if values.ndim == 2 else 0
    head[:, :width] = values[:, :width]
    return head.view(">u8").reshape(-1).astype(np.uint64)
