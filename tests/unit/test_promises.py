"""The status page's account of each deadline (``notices.promises``): kept, late by how much,
missed and overdue by how much, open, or not needed after "no violation"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from takedown.cases import CaseStatus
from takedown.services.reports.notices import promises

DUE = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
REMOVE = DUE + timedelta(hours=44)


def states(**kw):
    found = promises(respond_by=DUE, remove_by=REMOVE, **kw)
    return [(p.what, p.state, p.by) for p in found], [p.words for p in found]


def test_a_deadline_kept_says_so():
    got, words = states(
        status=CaseStatus.confirmed, looked_at=DUE - timedelta(hours=2),
        removed_at=DUE - timedelta(hours=1), now=DUE + timedelta(days=3),
    )  # fmt: skip
    assert got == [("look", "met", timedelta(hours=-2)), ("remove", "met", timedelta(hours=-45))]
    assert words[0].endswith("in time.") and "01 December 2026, 10:00 UTC" in words[0]


def test_a_deadline_kept_late_says_by_how_much():
    got, words = states(
        status=CaseStatus.confirmed, looked_at=DUE + timedelta(hours=3, minutes=5),
        removed_at=REMOVE + timedelta(days=1, hours=2), now=REMOVE + timedelta(days=5),
    )  # fmt: skip
    assert [s for _, s, _ in got] == ["late", "late"]
    assert "3 h 5 min late" in words[0] and "1 d 2 h 0 min late" in words[1]


def test_a_deadline_missed_says_how_long_overdue():
    got, words = states(
        status=CaseStatus.open, looked_at=None, removed_at=None,
        now=DUE + timedelta(minutes=30),
    )  # fmt: skip
    assert got[0] == ("look", "missed", timedelta(minutes=30)) and got[1][1] == "open"
    assert "missed. It is 30 min overdue" in words[0] and "43 h" not in words[1]
    assert "1 d 19 h 30 min left" in words[1]


def test_no_removal_is_owed_after_no_violation():
    got, words = states(
        status=CaseStatus.closed, looked_at=DUE - timedelta(hours=1), removed_at=None,
        now=REMOVE + timedelta(days=1),
    )  # fmt: skip
    assert got[1] == ("remove", "void", None) and "not needed" in words[1]
    only = promises(
        status=CaseStatus.open, respond_by=DUE, remove_by=None, looked_at=None,
        removed_at=None, now=DUE,
    )  # fmt: skip
    assert [p.what for p in only] == ["look"]
