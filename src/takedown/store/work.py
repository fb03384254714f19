"""Work functions: what the group-commit writer runs, and their contract.

A *work function* takes an entered unit of work and returns a result. The writer runs many in
one transaction, commits once, and only then answers each caller (``group_commit``). So a work
function:

- **may run again**: when anything in its group fails, the group is rolled back and each work
  runs again alone; a unique-key race is retried. It must not count, send or keep anything
  outside the unit of work.
- **does no I/O** but its unit of work's: what it needs from elsewhere is read before and
  passed in (the bank indexes, the status-link key), because on SQLite works run on the event
  loop's own thread.
- **never commits**: the writer does, for the group.
- **has its effects undone on rollback**: anything it keeps in memory is kept through
  ``uow.on_rollback``, which forgets it if the transaction does not commit.

A test, the CLI or any caller without a writer runs one as
``with uow: result = work(uow); uow.commit()``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from takedown.store.uow import SqlAlchemyUnitOfWork

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Work(Protocol[T_co]):
    """A work function (see the module for its contract)."""

    def __call__(self, uow: SqlAlchemyUnitOfWork, /) -> T_co: ...


class BatchedWork(ABC, Generic[T]):
    """A work function whose consecutive runs in a group read together first: the writer
    calls ``prefetch`` once for a run of works of the same class, then each work. What
    ``prefetch`` reads must be used only while nothing it depends on was written since
    (report intake's lookups are: ``CaseRepository.prefetch_intake``), and is forgotten
    before any other work runs (``uow.forget_prefetched``)."""

    __slots__ = ()

    @abstractmethod
    def __call__(self, uow: SqlAlchemyUnitOfWork, /) -> T: ...

    @classmethod
    @abstractmethod
    def prefetch(cls, uow: SqlAlchemyUnitOfWork, works: Sequence[BatchedWork[T]]) -> None: ...
