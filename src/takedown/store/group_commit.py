"""Group commit: one writer commits the waiting units of work together.

A durable commit costs an fsync (SQLite with ``synchronous=FULL``) or a WAL flush
(PostgreSQL). Paying it once per request caps a process at a few hundred writes a second and
makes writers queue on SQLite's lock with its busy back-off. Instead, request handlers hand a
*work function* to the ``GroupCommitter`` and wait; its thread takes everything waiting (up to
``max_batch``), runs each function in one transaction, commits once and only then answers
every caller. A caller is never answered before its work is durable.

Usage::

    committer = GroupCommitter(db)
    committer.start()
    receipt = await committer.run(lambda uow: reports.store(uow, prepared))   # async code
    receipt = committer.call(lambda uow: reports.store(uow, prepared))        # threads

A work function (``store.work.Work``, whose contract is there) gets an entered
``SqlAlchemyUnitOfWork`` and must not commit; its only effects are on the database (it may run
again: see below). What one function writes, the next in the
same group reads (same session), so they behave as if they ran one after another.

Failure: if a function raises, or the commit fails, the group is rolled back and each of its
functions runs again alone, in its own transaction, so one bad item fails only its own caller.
A function that fails alone with an ``IntegrityError`` (another process took a unique key
first) is retried up to ``retries`` times before its error reaches the caller.

Connection: the writer keeps one from group to group, and a group's unit of work makes an ORM
session only if one of its functions asks for it (``SqlAlchemyUnitOfWork(connection=...)``);
a connection that breaks is dropped and the next group takes a fresh one from the pool; the
writer gives it back when it stops.

Loop mode (``start(loop=...)``, what the server uses on SQLite): the work functions run on the
event loop's own thread, in groups of what arrived while the previous group committed, and
only ``BEGIN`` (which may wait for SQLite's lock) and the commit (the fsync) go to a thread.
SQLite releases the interpreter lock on every statement, so a writer thread and the event loop
handed it back and forth on each of a report's statements (``bench/RECORD.md``). The
guarantees are the same: answered
after the commit, one bad item fails alone, unique-key races are retried. Threads still
``call()``; the loop ``await``s ``run()``. On PostgreSQL a statement waits for a round trip,
so the writer stays a thread.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from prometheus_client import Histogram
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError, OperationalError

from takedown.store.db import Database
from takedown.store.rawsql import begin_explicitly, end_explicit_begin
from takedown.store.uow import SqlAlchemyUnitOfWork
from takedown.store.work import BatchedWork, Work

T = TypeVar("T")
GROUP_SIZE = Histogram(
    "takedown_writer_group_size",
    "Units of work committed together by the group-commit writer",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
COMMIT_SECONDS = Histogram(
    "takedown_writer_group_seconds",
    "Time to run and commit one group",
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25),
)
log = logging.getLogger(__name__)
_RETRYABLE = (IntegrityError, OperationalError)


@dataclass
class _Item(Generic[T]):
    work: Work[T]
    future: Future[T] = field(default_factory=Future)


def run_works(uow: SqlAlchemyUnitOfWork, works: Sequence[Work[T]]) -> list[T]:
    """Run a group's works in order in one unit of work. A run of consecutive works of one
    ``BatchedWork`` class has its ``prefetch`` called first, so that it can make their reads
    together (report intake looks up a group's items in one round trip); what it read is
    forgotten once they have run, before any other work."""
    results: list[T] = []
    start = 0
    while start < len(works):
        first = works[start]
        end = start + 1
        if not isinstance(first, BatchedWork):
            results.append(first(uow))
            start = end
            continue
        kind = type(first)
        while end < len(works) and type(works[end]) is kind:
            end += 1
        if end - start > 1:
            kind.prefetch(uow, cast("Sequence[BatchedWork[T]]", works[start:end]))
        try:
            results.extend(work(uow) for work in works[start:end])
        finally:
            uow.forget_prefetched()
        start = end
    return results


class _CommitThread:
    """Loop mode's one thread for the calls that may block (``BEGIN``, which may wait for
    SQLite's lock, and the commit, the ``fsync``), run in order, each result handed back to
    the loop. A queue and ``call_soon_threadsafe``: ``run_in_executor`` ran about ten times
    as much Python per call (a concurrent future chained to an asyncio one, the executor's
    locks and conditions), twice a group, which was a tenth of a small group's CPU."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._queue: queue.SimpleQueue[tuple[Callable[[], Any], asyncio.Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._run, name="takedown-commit", daemon=True)
        self._thread.start()

    def call(self, fn: Callable[[], T]) -> asyncio.Future[T]:
        """Run ``fn`` on the thread (after what was handed to it before); await the answer."""
        future: asyncio.Future[T] = self._loop.create_future()
        self._queue.put((fn, future))
        return future

    def shutdown(self) -> None:
        """Run what was handed over, then stop the thread."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            fn, future = item
            try:
                answer: tuple[Any, BaseException | None] = (fn(), None)
            except BaseException as exc:  # handed to the caller, whatever it is
                answer = (None, exc)
            try:
                self._loop.call_soon_threadsafe(_settle, future, *answer)
            except RuntimeError:  # the loop is closed: nobody waits for the answer
                log.debug("commit thread: the loop closed before an answer was handed back")


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.done():  # the caller was cancelled
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


def commit_work(db: Database, writer: GroupCommitter | None, work: Work[T]) -> T:
    """Run ``work`` and commit it, from a thread (never the event loop's): through
    ``writer`` while it runs, so the work never waits for SQLite's write lock beside it; in a
    transaction of its own where there is none, or before it starts or after it stops."""
    if writer is not None and writer.running:
        return writer.call(work)
    with SqlAlchemyUnitOfWork(db) as uow:
        result = work(uow)
        uow.commit()
        return result


class WriterStopped(RuntimeError):
    """The group committer is not running (stopped, or never started)."""


class GroupCommitter:
    """A single writer thread per process that commits waiting work in groups."""

    def __init__(
        self,
        db: Database,
        *,
        max_batch: int = 256,
        retries: int = 3,
    ) -> None:
        self.db = db
        self.max_batch = max_batch
        self.retries = retries
        self._queue: queue.SimpleQueue[_Item[Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.groups = 0  # commits made; ``items / groups`` is the mean group size
        self.items = 0
        # Loop mode (``start(loop=...)``): work runs on this event loop's thread.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._io: _CommitThread | None = None
        self._pending: list[tuple[Callable[[SqlAlchemyUnitOfWork], Any], asyncio.Future[Any]]] = []
        self._flush_task: asyncio.Task[None] | None = None
        # Loop mode's own connection, kept from group to group (``_transaction_on_loop``).
        self._connection: Connection | None = None

    @property
    def running(self) -> bool:
        if self._loop is not None:
            return True
        return self._thread is not None and self._thread.is_alive()

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Start the writer thread; or, given the server's running ``loop`` (call from it),
        loop mode: see the module."""
        with self._lock:
            if self.running:
                return
            if loop is not None:
                self._loop = loop
                self._loop_thread = threading.get_ident()
                self._io = _CommitThread(loop)
                return
            self._thread = threading.Thread(
                target=self._loop_run, name="takedown-writer", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the work already submitted, then stop the thread. In loop mode, from any
        thread but the loop's, after its work is done (``aclose`` waits for it)."""
        with self._lock:
            thread, self._thread = self._thread, None
            io, self._io = self._io, None
            self._loop = None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)
            if not thread.is_alive():
                self._release_connection()
        if io is not None:
            io.shutdown()
            self._release_connection()

    async def aclose(self) -> None:
        """Finish the work already submitted and stop (call from the event loop)."""
        while (task := self._flush_task) is not None and not task.done():
            await task
        if self._loop is not None:
            with self._lock:
                io, self._io = self._io, None
                self._loop = None
            if io is not None:
                io.shutdown()
                self._release_connection()
        else:
            self.stop()

    def submit(self, work: Work[T]) -> Future[T]:
        """Queue ``work``; the future holds its result once its group has committed."""
        loop = self._loop
        if loop is not None:
            if threading.get_ident() == self._loop_thread:
                raise RuntimeError("on the event loop's thread, await run() instead")
            return asyncio.run_coroutine_threadsafe(self.run(work), loop)
        if not self.running:
            raise WriterStopped("the writer is not running")
        item: _Item[T] = _Item(work)
        self._queue.put(item)
        return item.future

    def call(self, work: Work[T]) -> T:
        """Submit and wait (for threads)."""
        return self.submit(work).result()

    async def run(self, work: Work[T]) -> T:
        """Submit and wait without blocking the event loop."""
        loop = self._loop
        if loop is None:
            return await asyncio.wrap_future(self.submit(work))
        if asyncio.get_running_loop() is not loop:
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self.run(work), loop))
        future: asyncio.Future[T] = loop.create_future()
        self._pending.append((work, future))
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = loop.create_task(self._flush())
        return await future

    # The writer thread.

    def _loop_run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group: list[_Item[Any]] = [first]
            stop = False
            while len(group) < self.max_batch:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stop = True
                    break
                group.append(nxt)
            self._commit_group(group)
            if stop:
                return

    def _commit_group(self, group: list[_Item[Any]]) -> None:
        live = [item for item in group if item.future.set_running_or_notify_cancel()]
        if not live:
            return
        if len(live) > 1:
            try:
                results = self._transaction_in_thread([item.work for item in live])
            except Exception:
                log.debug("group of %d failed; running its items one by one", len(live))
            else:
                for item, result in zip(live, results, strict=True):
                    item.future.set_result(result)
                return
        for item in live:
            self._run_alone(item)

    def _committed(self, size: int, started: float) -> None:
        COMMIT_SECONDS.observe(time.perf_counter() - started)
        GROUP_SIZE.observe(size)
        self.groups += 1
        self.items += size

    def _transaction_in_thread(
        self, works: list[Callable[[SqlAlchemyUnitOfWork], Any]]
    ) -> list[Any]:
        """One transaction on the writer's own connection, kept from group to group as in
        loop mode (``_transaction_on_loop``)."""
        started = time.perf_counter()
        connection = self._connection
        if connection is None:
            connection = self._connection = self._connect()
        uow = SqlAlchemyUnitOfWork(self.db, connection=connection)
        try:
            with uow:
                uow.begin()
                results = run_works(uow, works)
                uow.commit()
        except Exception:
            self._drop_if_broken(connection)
            raise
        self._committed(len(works), started)
        return results

    def _drop_if_broken(self, connection: Connection) -> None:
        if connection.invalidated or connection.in_transaction():
            # Broken, or its rollback failed: the next group takes a fresh one.
            self._release_connection()

    def _run_alone(self, item: _Item[Any]) -> None:
        for attempt in range(self.retries + 1):
            try:
                (result,) = self._transaction_in_thread([item.work])
            except _RETRYABLE as exc:
                if attempt < self.retries:
                    continue
                item.future.set_exception(exc)
                return
            except BaseException as exc:
                item.future.set_exception(exc)
                return
            item.future.set_result(result)
            return

    # Loop mode: the work on the event loop's thread, the lock and the fsync off it.

    async def _flush(self) -> None:
        while self._pending:
            # Let the requests this pass of the loop has read join the group.
            await asyncio.sleep(0)
            group = self._pending[: self.max_batch]
            del self._pending[: self.max_batch]
            live = [(work, future) for work, future in group if not future.done()]
            if live:
                await self._commit_group_on_loop(live)

    async def _commit_group_on_loop(
        self, group: list[tuple[Callable[[SqlAlchemyUnitOfWork], Any], asyncio.Future[Any]]]
    ) -> None:
        if len(group) > 1:
            try:
                results = await self._transaction_on_loop([work for work, _ in group])
            except Exception:
                log.debug("group of %d failed; running its items one by one", len(group))
            else:
                for (_, future), result in zip(group, results, strict=True):
                    if not future.done():
                        future.set_result(result)
                return
        for work, future in group:
            for attempt in range(self.retries + 1):
                try:
                    (result,) = await self._transaction_on_loop([work])
                except _RETRYABLE as exc:
                    if attempt < self.retries:
                        continue
                    if not future.done():
                        future.set_exception(exc)
                except Exception as exc:
                    if not future.done():
                        future.set_exception(exc)
                else:
                    if not future.done():
                        future.set_result(result)
                break

    async def _transaction_on_loop(
        self, works: list[Callable[[SqlAlchemyUnitOfWork], Any]]
    ) -> list[Any]:
        """One transaction: ``BEGIN`` (which may wait for SQLite's lock) and the commit (the
        fsync) on the I/O thread, the work itself here. On the writer's own connection, kept
        from group to group: a session and a pool checkout per group were about half of a
        group's own CPU; the unit of work makes an ORM session only if a work asks for one
        (``docs/architecture.md``)."""
        io = self._io
        if io is None:
            raise WriterStopped("the writer is not running")
        started = time.perf_counter()
        connection = self._connection
        if connection is None:
            connection = self._connection = await io.call(self._connect)
        uow = SqlAlchemyUnitOfWork(self.db, connection=connection)
        try:
            with uow:
                await io.call(uow.begin)
                results = run_works(uow, works)
                await io.call(uow.commit)
        except Exception:
            self._drop_if_broken(connection)
            raise
        self._committed(len(works), started)
        return results

    def _connect(self) -> Connection:
        """The writer's own connection, from the pool; on PostgreSQL its transactions begin
        in the round trip of their first statements (``rawsql.begin_explicitly``)."""
        connection = self.db.engine.connect()
        begin_explicitly(connection)
        return connection

    def _release_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                end_explicit_begin(connection)
            except Exception:  # not fit for the pool in autocommit mode: discard it
                connection.invalidate()
            try:
                connection.close()
            except Exception:  # a broken connection is only dropped
                log.warning("writer: closing its connection failed", exc_info=True)
