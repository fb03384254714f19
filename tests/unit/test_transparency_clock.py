"""A clock's median and 90th percentile from a frequency table (``transparency.Clock``) are
those of the values it stands for, interpolated between the nearest ranks as PostgreSQL's
``percentile_cont`` does."""

from __future__ import annotations

import statistics

from hypothesis import given
from hypothesis import strategies as st

from takedown.services.transparency import Clock


def _cont(values: list[int], share: float) -> float:
    values = sorted(values)
    at = share * (len(values) - 1)
    low = int(at)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (at - low)


@given(st.lists(st.tuples(st.integers(0, 200_000), st.integers(0, 5)), max_size=40))
def test_a_frequency_table_gives_the_percentiles_of_its_values(table):
    values = [s for s, n in table for _ in range(n)]
    clock = Clock.of_counts(table)
    if not values:
        assert clock == Clock(0, None, None)
        return
    assert clock.cases == len(values)
    assert clock.median_s == round(statistics.median(values), 1)
    assert clock.p90_s == round(_cont(values, 0.9), 1)
