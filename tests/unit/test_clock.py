"""The movable clock: advancing moves every reading at once, never backwards; a frozen one
stands still between moves."""

from datetime import timedelta

import pytest

from takedown.clock import MovableClock


def test_advancing_moves_now_time_and_monotonic_together():
    clock = MovableClock(frozen=True)
    now, wall, mono = clock.now(), clock.time(), clock.monotonic()
    assert (clock.now(), clock.time(), clock.monotonic()) == (now, wall, mono)
    clock.advance(48 * 3600)
    assert clock.now() - now == timedelta(hours=48)
    assert clock.time() - wall == 48 * 3600 and clock.monotonic() - mono == 48 * 3600


def test_a_running_clock_keeps_up_with_real_time_plus_its_offset():
    clock = MovableClock()
    before = clock.time()
    clock.advance(60)
    assert clock.time() >= before + 60
    with pytest.raises(ValueError, match="ahead"):
        clock.advance(-1)
