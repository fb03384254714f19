"""The group-commit writer, in both of its modes, on the real SQLite file and PostgreSQL:
a writer thread, and loop mode (the server on SQLite), where the work runs on the event loop
and only the lock and the commit go to a thread. In each: callers are answered with their
own results after their group commits, one bad item fails only itself, a unique-key race is
retried, and what one item writes the next in its group can read; ORM writes share the
group's transaction in both. Loop mode keeps one connection from group to group, makes an ORM
session only for a work that asks for one, and replaces its connection when it breaks."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from takedown.identity import Principal, Role, UserCreated
from takedown.services import audit
from takedown.store import SqlAlchemyUnitOfWork
from takedown.store.group_commit import GroupCommitter, WriterStopped


def register(content_id: str) -> Callable[[SqlAlchemyUnitOfWork], str]:
    def work(uow: SqlAlchemyUnitOfWork) -> str:
        uow.content.ensure(content_id)
        return content_id

    return work


def registered(db, content_id: str) -> bool:
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        return uow.content.get(content_id) is not None


def fails(uow: SqlAlchemyUnitOfWork) -> None:
    uow.content.ensure("written-then-failed")
    raise ValueError("this item is bad")


@contextmanager
def thread_writer(db) -> Iterator[GroupCommitter]:
    writer = GroupCommitter(db)
    writer.start()
    try:
        yield writer
    finally:
        writer.stop()


@asynccontextmanager
async def loop_writer(db) -> AsyncIterator[GroupCommitter]:
    writer = GroupCommitter(db)
    writer.start(loop=asyncio.get_running_loop())
    try:
        yield writer
    finally:
        await writer.aclose()


def run_both(db, scenario: Callable[[GroupCommitter], Any]) -> None:
    """Play ``scenario`` (a coroutine function taking the writer) in both modes."""

    async def in_thread_mode() -> None:
        with thread_writer(db) as writer:
            await scenario(writer)

    async def in_loop_mode() -> None:
        async with loop_writer(db) as writer:
            await scenario(writer)

    asyncio.run(in_thread_mode())
    asyncio.run(in_loop_mode())


def test_each_caller_gets_its_own_result_after_a_shared_commit(db):
    seen: list[tuple[int, int]] = []

    async def scenario(writer: GroupCommitter) -> None:
        prefix = f"m{len(seen)}"
        before = (writer.groups, writer.items)
        results = await asyncio.gather(*(writer.run(register(f"{prefix}-{i}")) for i in range(200)))
        assert results == [f"{prefix}-{i}" for i in range(200)]
        assert all(registered(db, f"{prefix}-{i}") for i in range(200))
        seen.append((writer.groups - before[0], writer.items - before[1]))

    run_both(db, scenario)
    for groups, items in seen:
        assert items == 200 and groups < 200  # they shared commits


def test_one_bad_item_fails_alone_and_its_writes_roll_back(db):
    async def scenario(writer: GroupCommitter) -> None:
        tag = f"g{writer.items}"
        outcomes = await asyncio.gather(
            writer.run(register(f"{tag}-a")),
            writer.run(fails),
            writer.run(register(f"{tag}-b")),
            return_exceptions=True,
        )
        assert outcomes[0] == f"{tag}-a" and outcomes[2] == f"{tag}-b"
        assert isinstance(outcomes[1], ValueError)
        assert registered(db, f"{tag}-a") and registered(db, f"{tag}-b")
        assert not registered(db, "written-then-failed")

    run_both(db, scenario)


def test_a_unique_key_race_is_retried_and_a_lasting_one_reaches_the_caller(db):
    async def scenario(writer: GroupCommitter) -> None:
        attempts = {"flaky": 0, "always": 0}

        def flaky(uow: SqlAlchemyUnitOfWork) -> str:
            attempts["flaky"] += 1
            if attempts["flaky"] == 1:
                raise IntegrityError("INSERT", {}, Exception("another process won"))
            return "second time lucky"

        def always(uow: SqlAlchemyUnitOfWork) -> None:
            attempts["always"] += 1
            raise IntegrityError("INSERT", {}, Exception("taken for good"))

        assert await writer.run(flaky) == "second time lucky"
        with pytest.raises(IntegrityError):
            await writer.run(always)
        assert attempts == {"flaky": 2, "always": writer.retries + 1}

    run_both(db, scenario)


def test_what_one_item_writes_the_next_in_its_group_reads(db):
    async def scenario(writer: GroupCommitter) -> None:
        tag = f"r{writer.items}"

        def reads(uow: SqlAlchemyUnitOfWork) -> bool:
            return uow.content.get(f"{tag}-x") is not None

        first, second = await asyncio.gather(writer.run(register(f"{tag}-x")), writer.run(reads))
        assert first == f"{tag}-x" and second is True

    run_both(db, scenario)


def test_threads_call_a_loop_mode_writer_and_the_loop_itself_must_await(db):
    async def scenario() -> None:
        async with loop_writer(db) as writer:
            results: list[str] = []
            thread = threading.Thread(
                target=lambda: results.append(writer.call(register("from-a-thread")))
            )
            thread.start()
            await asyncio.to_thread(thread.join)
            assert results == ["from-a-thread"] and registered(db, "from-a-thread")
            with pytest.raises(RuntimeError, match="await run"):
                writer.call(register("from-the-loop"))
        with pytest.raises(WriterStopped):
            writer.submit(register("after-close"))

    asyncio.run(scenario())


def user_exists(db, name: str) -> bool:
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        return uow.users.get_by_name(name) is not None


def test_orm_writes_share_the_group_transaction_and_roll_back_with_it(db):
    """A work using the ORM (a user) beside works using hand-written SQL: the ORM write
    commits with its group, and a failing work's ORM write is rolled back with it."""

    modes: list[str] = []

    async def scenario(writer: GroupCommitter) -> None:
        tag = f"o{len(modes)}"
        modes.append(tag)

        def add_user(name: str) -> Callable[[SqlAlchemyUnitOfWork], str]:
            def work(uow: SqlAlchemyUnitOfWork) -> str:
                uow.users.add(name=name, role=Role.reviewer, password_hash=None)
                uow.content.ensure(f"{name}-content")
                return name

            return work

        def add_user_then_fail(uow: SqlAlchemyUnitOfWork) -> None:
            uow.users.add(name=f"{tag}-doomed", role=Role.reviewer, password_hash=None)
            raise ValueError("this item is bad")

        outcomes = await asyncio.gather(
            writer.run(register(f"{tag}-raw")),
            writer.run(add_user(f"{tag}-kept")),
            writer.run(add_user_then_fail),
            return_exceptions=True,
        )
        assert outcomes[:2] == [f"{tag}-raw", f"{tag}-kept"]
        assert isinstance(outcomes[2], ValueError)
        assert user_exists(db, f"{tag}-kept") and registered(db, f"{tag}-kept-content")
        assert registered(db, f"{tag}-raw")
        assert not user_exists(db, f"{tag}-doomed")

    run_both(db, scenario)


def test_the_writer_keeps_its_connection_replaces_a_broken_one_and_returns_it(db):
    """Both modes: the writer thread (PostgreSQL's) and loop mode (SQLite's)."""
    checkouts: list[object] = []

    def on_checkout(dbapi_connection: object, *_: object) -> None:
        checkouts.append(dbapi_connection)

    def breaks(uow: SqlAlchemyUnitOfWork) -> None:
        uow.content.ensure("on-a-broken-connection")
        uow.session.connection().invalidate()
        raise RuntimeError("the connection broke")

    async def scenario(writer: GroupCommitter) -> None:
        checkouts.clear()
        tag = "loop" if writer._loop is not None else "thread"
        for i in range(5):  # five groups, one after another
            assert await writer.run(register(f"{tag}-kept-{i}")) == f"{tag}-kept-{i}"
        assert len(checkouts) == 1
        with pytest.raises(RuntimeError, match="broke"):
            await writer.run(breaks)
        assert await writer.run(register(f"{tag}-after")) == f"{tag}-after"
        assert len(checkouts) == 2 and checkouts[1] is not checkouts[0]

    event.listen(db.engine, "checkout", on_checkout)
    try:
        run_both(db, scenario)
    finally:
        event.remove(db.engine, "checkout", on_checkout)
    assert db.engine.pool.checkedout() == 0  # each writer gave its connection back on stop
    with db.engine.connect() as conn:  # as it took it: transactions begun by the driver
        driver = conn.connection.driver_connection
        assert db.is_sqlite or driver.autocommit is False
        assert "takedown_explicit_begin" not in conn.info
    for tag in ("thread", "loop"):
        assert registered(db, f"{tag}-after") and registered(db, f"{tag}-kept-4")
    assert not registered(db, "on-a-broken-connection")


def test_units_of_work_leave_no_cyclic_garbage(db):
    """A unit of work's repositories hold it and it holds them; left as they were, every
    group commit left a cycle that only the garbage collector could free, and a server
    collected every few dozen reports (``server.app.tune_server_process``). Whatever a block made,
    the block's end lets go of."""

    def writes(tag: str) -> Callable[[SqlAlchemyUnitOfWork], str]:
        def work(uow: SqlAlchemyUnitOfWork) -> str:
            uow.content.ensure(tag)
            uow.publish(UserCreated(user_id=1, name=tag, role="reviewer"))
            audit.record(uow, actor=Principal.system(), action="content.registered")
            return tag

        return work

    async def scenario(writer: GroupCommitter) -> None:
        for i in range(3):
            await asyncio.gather(*(writer.run(writes(f"cyc-{i}-{j}")) for j in range(4)))
        with SqlAlchemyUnitOfWork(db) as uow:
            writes("cyc-plain")(uow)
            uow.commit()
        with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
            assert uow.content.get("cyc-plain") is not None

    async def both() -> None:
        with thread_writer(db) as writer:
            await scenario(writer)
        async with loop_writer(db) as writer:
            await scenario(writer)

    asyncio.run(both())  # once, so that first-use caches are made before counting
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        asyncio.run(both())
        gc.collect()
        ours = {
            type(o).__qualname__ for o in gc.garbage if type(o).__module__.startswith("takedown")
        }
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert ours == set()
