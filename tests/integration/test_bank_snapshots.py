"""Bank snapshots: a process starts from the newest snapshot of the indexes' arrays plus the
changes logged since, and must then match exactly what a process reading every entry
matches; the maintenance lane makes one per period, only when the banks changed."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from takedown.matching import BankPolicy, SignalType
from takedown.services import banks
from takedown.services.maintenance import Maintenance
from takedown.services.matcher import Matcher, snapshot_banks
from takedown.store import matching_repos
from tests.conftest import OPERATOR
from tests.integration.test_banks import PDQ, add, make

MD5 = "ab" * 16
SHA = "cd" * 32


def _hex(i: int, digits: int) -> str:
    """A value of ``digits`` hex digits, far from the others (PDQ: a random 256 bits)."""
    return hashlib.sha256(str(i).encode()).hexdigest()[:digits]


def _entries(container, bank: str) -> dict[str, int]:
    listed = banks.list_entries(uow=container.uow(readonly=True), actor=OPERATOR, bank_name=bank)
    return {e.value: e.id for e in listed}


def _disable(container, bank: str, entry_id: int, **until) -> None:
    banks.set_entry_disabled(uow=container.uow(), matcher=container.matcher, actor=OPERATOR,
                             bank_name=bank, entry_id=entry_id, disabled=True, **until)  # fmt: skip


def test_a_process_starts_from_the_snapshot_and_sees_what_reading_every_entry_sees(
    container, db, monkeypatch
):
    monkeypatch.setattr(matching_repos, "SNAPSHOT_PART_BYTES", 1000)  # arrays in many parts
    make(container)
    make(container, "b2", BankPolicy.block_and_report)
    many = [("md5", _hex(i, 32)) for i in range(150)] + [("pdq", _hex(i, 64)) for i in range(150)]
    add(container, "b1", ("pdq", PDQ), ("md5", MD5), ("sha256", SHA), *many)
    add(container, "b2", ("md5", MD5))  # the same value in two banks
    clock = container.clock
    stored = snapshot_banks(container.uow, now=clock.now())
    assert stored is not None and stored.entries == 304
    assert snapshot_banks(container.uow, now=clock.now()) is None  # nothing changed since

    # Changes after the snapshot: added, disabled, deleted, disabled for a while.
    entries = _entries(container, "b1")
    later_md5, later_pdq = "ef" * 16, _hex(999, 64)
    add(container, "b1", ("md5", later_md5), ("pdq", later_pdq))
    _disable(container, "b1", entries[PDQ])
    banks.delete_entry(uow=container.uow(), matcher=container.matcher, actor=OPERATOR,
                       bank_name="b1", entry_id=entries[_hex(3, 32)])  # fmt: skip
    _disable(container, "b1", entries[SHA], until=clock.now() + timedelta(seconds=5))
    clock.advance(6)  # its disabling has ended by the time the process starts

    started = Matcher(db, check_seconds=0, clock=clock)
    queries = [
        {SignalType.pdq: PDQ},
        {SignalType.md5: MD5},
        {SignalType.sha256: SHA},
        {SignalType.md5: later_md5},
        {SignalType.pdq: later_pdq},
        {SignalType.md5: _hex(3, 32)},
        {SignalType.md5: _hex(4, 32)},
        {SignalType.pdq: _hex(7, 64)},
    ]
    from_snapshot = [started.indexes().lookup(q) for q in queries]
    assert (started.from_snapshot, started.rebuilt) == (1, 0)
    with container.uow() as uow:
        assert uow.bank_snapshots.keep_latest(0) == 1
        uow.commit()
    full = Matcher(db, check_seconds=0, clock=clock)
    assert [full.indexes().lookup(q) for q in queries] == from_snapshot
    assert (full.from_snapshot, full.rebuilt) == (0, 1)
    assert len(started.indexes()) == len(full.indexes())
    # What the answers are, so both being wrong alike would show.
    assert [len(found) for found in from_snapshot] == [0, 2, 1, 1, 1, 0, 1, 1]
    # And it goes on catching up in place like any process.
    add(container, "b2", ("sha256", "ee" * 32))
    assert started.indexes().lookup({SignalType.sha256: "ee" * 32})
    assert started.caught_up == 1


def test_a_snapshot_older_than_the_pruned_change_log_is_not_used(container, db):
    make(container)
    add(container, "b1", ("md5", MD5))
    assert snapshot_banks(container.uow, now=container.clock.now()) is not None
    add(container, "b1", ("md5", "ef" * 16))
    with container.uow() as uow:
        uow.bank_entries.prune_changes(container.clock.now() + timedelta(seconds=1))
        uow.commit()
    started = Matcher(db, check_seconds=0, clock=container.clock)
    assert started.indexes().lookup({SignalType.md5: "ef" * 16})
    assert (started.from_snapshot, started.rebuilt) == (0, 1)


@pytest.mark.parametrize("purging", [True, False])
def test_the_maintenance_lane_snapshots_once_a_period_and_only_after_a_change(container, purging):
    make(container)
    add(container, "b1", ("md5", MD5))
    clock = container.clock
    lane = Maintenance(container.uow, now=clock.now, every=timedelta(hours=24) if purging else None,
                       retention=timedelta(days=90), snapshot_every=timedelta(hours=1))  # fmt: skip
    other = Maintenance(container.uow, now=clock.now, every=None, retention=timedelta(days=90),
                        snapshot_every=timedelta(hours=1))  # fmt: skip

    def snapshot():
        with container.uow(readonly=True) as uow:
            return uow.bank_snapshots.latest()

    lane.run_once()
    first = snapshot()
    assert first is not None and first.entries == 1
    add(container, "b1", ("md5", "ef" * 16))
    other.run_once()  # within the period: another process does nothing
    assert snapshot() == first
    clock.advance(3601)
    other.run_once()
    second = snapshot()
    assert second is not None and second.entries == 2 and second.version > first.version
    clock.advance(3601)
    lane.run_once()  # no change since: no new snapshot
    assert snapshot() == second
