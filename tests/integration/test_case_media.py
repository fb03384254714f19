"""The in-memory index of case items' PDQ hashes (``services.case_media``) on both databases:
it answers as a comparison with every open item would, sees items other processes and the
same transaction added, forgets what a rolled-back transaction read, and on PostgreSQL catches
commits that landed out of id order."""

from __future__ import annotations

import random

import pytest

from takedown.services.case_media import BATCH, CaseMediaIndex
from takedown.store import Database, SqlAlchemyUnitOfWork
from tests.integration.case_support import NOW, new_case

THRESHOLD = 31


def _item(uow: SqlAlchemyUnitOfWork, case_id: int, content_id: str, pdq: str) -> None:
    uow.cases.add_item(
        case_id=case_id,
        content_id=content_id,
        root_content_id=content_id,
        account_id=None,
        pdq=pdq,
        md5=None,
        sha256=None,
        open=True,
        added_at=NOW,
    )


def _near(pdq: str, bits: int, rng: random.Random) -> str:
    value = int(pdq, 16)
    for bit in rng.sample(range(256), bits):
        value ^= 1 << bit
    return f"{value:064x}"


def _brute_force(db: Database, pdq: str) -> int | None:
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        rows = uow.raw.all("SELECT case_id, pdq FROM case_items WHERE open AND pdq IS NOT NULL")
    best = None
    for case_id, other in rows:
        d = (int(pdq, 16) ^ int(other, 16)).bit_count()
        if d <= THRESHOLD and (best is None or (d, case_id) < best):
            best = (d, int(case_id))
    return best[1] if best else None


def _nearest(db: Database, index: CaseMediaIndex, pdq: str) -> int | None:
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        return index.nearest_open_case(uow, pdq, THRESHOLD)


def test_it_answers_as_a_comparison_with_every_open_item(db):
    rng = random.Random(4)
    index = CaseMediaIndex()
    bases = [f"{rng.getrandbits(256):064x}" for _ in range(40)]
    queries = []
    n = 0
    # More items than a batch, in several transactions, so that both the index and the list
    # of recent items answer; some items closed after the index read them.
    for round_ in range(3):
        with SqlAlchemyUnitOfWork(db) as uow:
            for base in bases:
                case_id = new_case(uow)
                for _ in range(rng.randint(1, 4)):
                    n += 1
                    _item(uow, case_id, f"c{n}", _near(base, rng.randint(0, 40), rng))
            uow.commit()
        queries += [_near(rng.choice(bases), rng.randint(0, 45), rng) for _ in range(30)]
        queries += [f"{rng.getrandbits(256):064x}" for _ in range(5)]
        for query in queries:
            assert _nearest(db, index, query) == _brute_force(db, query)
        with SqlAlchemyUnitOfWork(db) as uow:
            uow.raw.write(
                "UPDATE case_items SET open = :closed WHERE id % 7 = :r",
                {"closed": uow.raw.flag(False), "r": round_},
            )
            uow.commit()
    assert n > BATCH
    for query in queries:
        assert _nearest(db, index, query) == _brute_force(db, query)


def test_items_of_other_processes_and_of_the_same_transaction_count(db, database_url):
    index = CaseMediaIndex()
    pdq = "f" * 64
    assert _nearest(db, index, pdq) is None
    other = Database(database_url)  # another process's connections
    try:
        with SqlAlchemyUnitOfWork(other) as uow:
            first = new_case(uow)
            _item(uow, first, "elsewhere", "f" * 63 + "0")
            uow.commit()
    finally:
        other.dispose()
    assert _nearest(db, index, pdq) == first
    with SqlAlchemyUnitOfWork(db) as uow:
        second = new_case(uow)
        _item(uow, second, "here", "0" * 64)
        assert index.nearest_open_case(uow, "0" * 63 + "1", THRESHOLD) == second
        uow.commit()


def test_what_a_rolled_back_transaction_read_is_forgotten(db):
    index = CaseMediaIndex()
    with SqlAlchemyUnitOfWork(db) as uow:
        _item(uow, new_case(uow), "gone", "a" * 64)
        assert index.nearest_open_case(uow, "a" * 64, THRESHOLD) is not None
        # no commit: rolled back
    assert _nearest(db, index, "a" * 64) is None
    with SqlAlchemyUnitOfWork(db) as uow:
        case_id = new_case(uow)
        _item(uow, case_id, "kept", "5" * 64)  # on SQLite it may take the same id
        uow.commit()
    assert _nearest(db, index, "5" * 64) == case_id
    assert _nearest(db, index, "a" * 64) is None


def test_a_commit_that_lands_out_of_id_order_is_found(db, database_url):
    if db.is_sqlite:
        pytest.skip("SQLite's writers commit in id order (one writer at a time)")
    index = CaseMediaIndex(window_seconds=0.0)
    late_db = Database(database_url)
    try:
        late = SqlAlchemyUnitOfWork(late_db)
        with late:
            late_case = new_case(late)
            _item(late, late_case, "late", "3" * 64)
            late.raw.flush()  # takes its item id now, commits after the next one
            with SqlAlchemyUnitOfWork(db) as uow:
                _item(uow, new_case(uow), "early", "c" * 64)
                uow.commit()
            assert _nearest(db, index, "3" * 64) is None  # not committed yet
            late.commit()
    finally:
        late_db.dispose()
    assert _nearest(db, index, "3" * 64) == late_case


def test_warming_at_start_reads_the_open_items_once(db, caplog, tmp_path):
    with SqlAlchemyUnitOfWork(db) as uow:
        case_id = new_case(uow)
        _item(uow, case_id, "old", "9" * 64)
        uow.commit()
    index = CaseMediaIndex()
    index.warm(db)
    assert index._loaded and len(index._held) == 1
    assert _nearest(db, index, "9" * 64) == case_id
    unmigrated = Database(f"sqlite:///{tmp_path}/empty.db")  # no tables
    try:
        CaseMediaIndex().warm(unmigrated)  # logged, not raised: the first lookup will read
    finally:
        unmigrated.dispose()
    assert "could not load the case items' hashes" in caplog.text
