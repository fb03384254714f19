"""The exact-value table: every row holding a value is found, whatever else shares its first
eight bytes; entries switch on and off by id; a table rebuilt from its arrays is the same."""

from __future__ import annotations

import random

import numpy as np

from takedown.matching.exact_index import ExactColumns, ExactTable, values_to_bytes


def _table(values: list[str], ids: list[int], banks: list[int], width: int) -> ExactTable:
    columns = ExactColumns(width)
    columns.ids.append(np.array(ids, dtype=np.int64))
    columns.values.append(values_to_bytes(values, width))
    columns.banks.append(np.array(banks, dtype=np.uint32))
    columns.active.append(np.ones(len(ids), dtype=bool))
    return ExactTable.build(columns)


def test_lookups_agree_with_a_dictionary_even_where_values_share_their_first_bytes():
    rng = random.Random(5)
    prefix = "ab" * 8
    values = [f"{rng.getrandbits(128):032x}" for _ in range(500)]
    values += [prefix + f"{i:016x}" for i in range(20)]  # same first 8 bytes
    values += values[:10]  # the same value again, in another bank
    ids = list(range(1000, 1000 + len(values)))
    rng.shuffle(ids)
    banks = [1] * 520 + [2] * 10
    table = _table(values, ids, banks, 16)
    expected: dict[str, list[tuple[int, int, bool]]] = {}
    for value, entry_id, bank in zip(values, ids, banks, strict=True):
        expected.setdefault(value, []).append((entry_id, bank, True))
    for value, rows in expected.items():
        assert sorted(table.find(value)) == sorted(rows)
    assert table.find(prefix + "f" * 16) == []
    assert table.find("00" * 32) == []  # another width: no match, no error
    assert table.set_active(ids[0], False) and not table.set_active(5, False)
    assert (ids[0], 1, False) in table.find(values[0])
    assert table.active_count() == len(values) - 1
    again = ExactTable.from_arrays(table.arrays())
    for value in list(expected)[:50]:
        assert sorted(again.find(value)) == sorted(table.find(value))


def test_sha256_values_and_an_empty_table():
    sha = "cd" * 32
    table = _table([sha], [7], [3], 32)
    assert table.find(sha) == [(7, 3, True)]
    empty = ExactTable.build(ExactColumns(16))
    assert len(empty) == 0 and empty.find("ab" * 16) == [] and empty.row_of(1) is None
