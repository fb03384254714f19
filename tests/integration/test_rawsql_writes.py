"""Hand-written writes on the real SQLite file and PostgreSQL. On PostgreSQL a write whose
result nobody reads waits and goes out with the next statement, all in one round trip; these
tests hold it to behaving exactly as if it had run at once: every later statement (ours, the
ORM's, the commit) sees it, a failed one fails its transaction, a rollback drops it, and the
group-commit writer still fails only the bad item. New rows' ids come from the sequences in
blocks, unique across threads."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from takedown.store import SqlAlchemyUnitOfWork
from takedown.store.group_commit import GroupCommitter
from takedown.store.models import ContentRow
from takedown.store.rawsql import IdBlocks
from tests.integration.case_support import new_case

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _insert_dup_content(uow: SqlAlchemyUnitOfWork, content_id: str) -> None:
    """A write that fails on the unique key of an item already registered."""
    raw = uow.raw
    raw.write(
        "INSERT INTO content (content_id, account_id, first_seen_at) VALUES (:c, '', :now)",
        {"c": content_id, "now": raw.dt(NOW)},
    )


def test_later_statements_see_earlier_writes_raw_orm_and_after_commit(db):
    with SqlAlchemyUnitOfWork(db) as uow:
        uow.content.ensure("seen-by-raw")
        assert uow.content.get("seen-by-raw") is not None  # our own read
        uow.content.ensure("seen-by-orm")
        # The ORM's statement goes out after the waiting write.
        found = uow.session.scalar(select(ContentRow).where(ContentRow.content_id == "seen-by-orm"))
        assert found is not None
        uow.content.ensure("seen-after-commit")
        uow.commit()
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        for content_id in ("seen-by-raw", "seen-by-orm", "seen-after-commit"):
            assert uow.content.get(content_id) is not None


def test_a_failed_write_fails_its_transaction_by_the_commit_at_the_latest(db):
    with SqlAlchemyUnitOfWork(db) as uow:
        uow.content.ensure("taken")
        uow.commit()
    with pytest.raises(IntegrityError), SqlAlchemyUnitOfWork(db) as uow:
        uow.content.ensure("not-kept")
        _insert_dup_content(uow, "taken")
        uow.commit()
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        assert uow.content.get("not-kept") is None


def test_a_rollback_drops_waiting_writes_and_the_connection_is_clean_after(db):
    with SqlAlchemyUnitOfWork(db) as uow:
        uow.content.ensure("rolled-back")
        uow.rollback()
    with SqlAlchemyUnitOfWork(db) as uow:
        uow.content.ensure("next-transaction")
        uow.commit()
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        assert uow.content.get("rolled-back") is None
        assert uow.content.get("next-transaction") is not None


def test_group_commit_fails_only_the_item_whose_waiting_write_failed(db):
    with SqlAlchemyUnitOfWork(db) as uow:
        uow.content.ensure("already-there")
        uow.commit()

    def good(name: str):
        def work(uow: SqlAlchemyUnitOfWork) -> str:
            uow.content.ensure(name)
            return name

        return work

    def bad(uow: SqlAlchemyUnitOfWork) -> None:
        uow.content.ensure("written-by-bad")
        _insert_dup_content(uow, "already-there")  # fails only when sent, after this returns

    writer = GroupCommitter(db)
    writer.start()
    try:
        futures = [writer.submit(good(f"good-{i}")) for i in range(20)]
        futures.insert(10, writer.submit(bad))
        futures += [writer.submit(good(f"good-{i}")) for i in range(20, 40)]
        outcomes = []
        for future in futures:
            try:
                outcomes.append(future.result(timeout=30))
            except IntegrityError:
                outcomes.append("failed")
    finally:
        writer.stop()
    assert outcomes.count("failed") == 1 and outcomes[10] == "failed"
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        assert uow.content.get("written-by-bad") is None
        assert all(uow.content.get(f"good-{i}") is not None for i in range(40))


def test_new_ids_are_unique_across_threads_and_rows_are_stored_with_them(db):
    ids: list[int] = []
    lock = threading.Lock()

    def add_cases(n: int) -> None:
        for _ in range(n):
            with SqlAlchemyUnitOfWork(db) as uow:
                case_id = new_case(uow)
                uow.commit()
            with lock:
                ids.append(case_id)

    threads = [threading.Thread(target=add_cases, args=(40,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(ids) == len(set(ids)) == 160
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        assert all(uow.cases.get(i) is not None for i in ids)


@pytest.mark.postgres
def test_id_blocks_hand_out_a_sequence_block_in_order(database_url, db):
    if db.is_sqlite:
        pytest.skip("SQLite takes ids from RETURNING")
    blocks = IdBlocks(block=8)
    with SqlAlchemyUnitOfWork(db) as uow:
        got = [blocks.next_id("reports", uow.raw) for _ in range(20)]
        with pytest.raises(ValueError, match="no id sequence"):
            blocks.next_id("audit_log", uow.raw)
    assert got == sorted(got) and len(set(got)) == 20
    assert got[8] > got[7] and got[16] > got[15]  # three blocks, taken in order


def test_statements_after_a_commit_run_in_the_sessions_next_transaction(db):
    with SqlAlchemyUnitOfWork(db) as uow:
        uow.content.ensure("first-transaction")
        uow.commit()
        # The connection went back to the pool at the commit; this runs on the session's next.
        assert uow.content.get("first-transaction") is not None
        uow.content.ensure("second-transaction")
        uow.commit()
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        assert uow.content.get("second-transaction") is not None


@pytest.mark.postgres
def test_ids_reserved_ahead_take_no_round_trip_and_keep_their_order(db):
    if db.is_sqlite:
        pytest.skip("SQLite takes ids from RETURNING")
    blocks = IdBlocks(block=4)
    with SqlAlchemyUnitOfWork(db) as uow:
        asked: list[dict] = []
        read = uow.raw.all

        def counted(sql, params=None):
            asked.append(params)
            return read(sql, params)

        uow.raw.all = counted  # type: ignore[method-assign]
        first = blocks.next_id("reports", uow.raw)  # a block of 4: 3 left at hand
        blocks.reserve("reports", 10, uow.raw)  # 7 more asked for, in one round trip
        blocks.reserve("reports", 10, uow.raw)  # all at hand: nothing asked
        assert [p["n"] for p in asked] == [4, 7]
        got = [blocks.next_id("reports", uow.raw) for _ in range(10)]
        assert len(asked) == 2
    assert got == sorted(got) and len({first, *got}) == 11 and first < got[0]
