"""UTC times as text and back: ``utc_text`` gives what ``isoformat`` gives, for any aware time in
any zone, and ``RawSql.read_dt`` reads stored text, with or without an offset, as the same time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from takedown.utctime import utc_text

zones = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware = st.datetimes(
    min_value=datetime(1, 1, 3),
    max_value=datetime(9999, 12, 30),
    timezones=st.one_of(st.just(UTC), zones),
)


@given(aware, st.sampled_from([" ", "T"]))
def test_utc_text_is_the_utc_wall_time_with_microseconds(value: datetime, sep: str) -> None:
    expected = value.astimezone(UTC).replace(tzinfo=None).isoformat(sep, "microseconds")
    assert utc_text(value, sep) == expected
    assert utc_text(value, sep) == expected  # again, from what it remembered of that second


def test_a_whole_second_keeps_its_zeros_and_a_naive_time_is_refused() -> None:
    assert utc_text(datetime(2026, 12, 1, 8, 0, tzinfo=UTC)) == "2026-12-01 08:00:00.000000"
    with pytest.raises(ValueError, match="naive"):
        utc_text(datetime(2026, 12, 1, 8, 0))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01 08:00:00.250000", datetime(2026, 12, 1, 8, 0, 0, 250000, tzinfo=UTC)),
        ("2026-12-01 08:00:00", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        ("2026-12-01 10:00:00+02:00", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        ("2026-12-01T08:00:00Z", datetime(2026, 12, 1, 8, tzinfo=UTC)),
        ("2026-12-01 03:00:00.000001-05:00", datetime(2026, 12, 1, 8, 0, 0, 1, tzinfo=UTC)),
    ],
)
def test_stored_text_reads_back_as_the_same_utc_time(text: str, expected: datetime) -> None:
    from takedown.store.rawsql import RawSql

    found = RawSql.read_dt(text)
    assert found == expected and found is not None and found.tzinfo is UTC
