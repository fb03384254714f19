"""``RawSql``'s SQL for SQLite: each ``:name`` numbered, its values taken from the dict in that
order, so a statement binds what it would have bound by name (a real SQLite runs them)."""

from __future__ import annotations

import sqlite3

from hypothesis import given
from hypothesis import strategies as st

from takedown.store.rawsql import _to_sqlite

names = st.sampled_from(["a", "b", "case_id", "at", "x1"])


def test_names_are_numbered_in_order_and_a_repeated_name_keeps_its_number() -> None:
    sql, values = _to_sqlite("SELECT :b, :a, :b, '00:00', x::int FROM t WHERE c = :case_id")
    assert sql == "SELECT ?1, ?2, ?1, '00:00', x::int FROM t WHERE c = ?3"
    assert values({"a": 1, "b": 2, "case_id": 3, "unused": 4}) == (2, 1, 3)


def test_one_name_and_no_name() -> None:
    assert _to_sqlite("SELECT :only")[1]({"only": 7}) == (7,)
    sql, values = _to_sqlite("SELECT 1")
    assert (sql, values({})) == ("SELECT 1", ())


@given(
    st.lists(names, min_size=1, max_size=8),
    st.dictionaries(names, st.integers(-(2**63), 2**63 - 1) | st.text() | st.none(), min_size=5),
)
def test_numbered_sql_binds_what_named_sql_binds(order: list[str], params: dict) -> None:
    named = "SELECT " + ", ".join(f":{name}" for name in order)
    numbered, values = _to_sqlite(named)
    db = sqlite3.connect(":memory:")
    assert db.execute(numbered, values(params)).fetchone() == db.execute(named, params).fetchone()
