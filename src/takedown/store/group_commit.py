"""Group commit: one writer thread commits the waiting units of work together.

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

A work function gets an entered ``SqlAlchemyUnitOfWork`` and must not commit; its only effects
are on the database (it may run again: see below). What one function writes, the next in the
same group reads (same session), so they behave as if they ran one after another.

Failure: if a function raises, or the commit fails, the group is rolled back and each of its
functions runs again alone, in its own transaction, so one bad item fails only its own caller.
A function that fails alone with an ``IntegrityError`` (another process took a unique key
first) is retried up to ``retries`` times before its error reaches the caller.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from prometheus_client import Histogram
from sqlalchemy.exc import IntegrityError, OperationalError

from takedown.store.db import Database
from takedown.store.uow import SqlAlchemyUnitOfWork

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
    work: Callable[[SqlAlchemyUnitOfWork], T]
    future: Future[T] = field(default_factory=Future)


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

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        with self._lock:
            if self.running:
                return
            self._thread = threading.Thread(target=self._loop, name="takedown-writer", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the work already submitted, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def submit(self, work: Callable[[SqlAlchemyUnitOfWork], T]) -> Future[T]:
        """Queue ``work``; the future holds its result once its group has committed."""
        if not self.running:
            raise WriterStopped("the writer is not running")
        item: _Item[T] = _Item(work)
        self._queue.put(item)
        return item.future

    def call(self, work: Callable[[SqlAlchemyUnitOfWork], T]) -> T:
        """Submit and wait (for threads)."""
        return self.submit(work).result()

    async def run(self, work: Callable[[SqlAlchemyUnitOfWork], T]) -> T:
        """Submit and wait without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(work))

    # The writer thread.

    def _loop(self) -> None:
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
                results = self._run_together(live)
            except Exception:
                log.debug("group of %d failed; running its items one by one", len(live))
            else:
                for item, result in zip(live, results, strict=True):
                    item.future.set_result(result)
                return
        for item in live:
            self._run_alone(item)

    def _run_together(self, group: list[_Item[Any]]) -> list[Any]:
        started = time.perf_counter()
        uow = SqlAlchemyUnitOfWork(self.db)
        with uow:
            results = [item.work(uow) for item in group]
            uow.commit()
        COMMIT_SECONDS.observe(time.perf_counter() - started)
        GROUP_SIZE.observe(len(group))
        self.groups += 1
        self.items += len(group)
        return results

    def _run_alone(self, item: _Item[Any]) -> None:
        for attempt in range(self.retries + 1):
            uow = SqlAlchemyUnitOfWork(self.db)
            try:
                with uow:
                    result = item.work(uow)
                    uow.commit()
            except _RETRYABLE as exc:
                if attempt < self.retries:
                    continue
                item.future.set_exception(exc)
                return
            except BaseException as exc:
                item.future.set_exception(exc)
                return
            GROUP_SIZE.observe(1)
            self.groups += 1
            self.items += 1
            item.future.set_result(result)
            return
