"""Unit of work: one transaction per use case.

Usage::

    with uow:
        user = uow.users.add(name="ana", role=Role.reviewer, password_hash=h)
        uow.publish(UserCreated(user_id=user.id, name=user.name, role=user.role))
        uow.commit()

Leaving the block without ``commit()`` rolls everything back, including outbox events and
audit entries: either the change, its events and its audit trail are all stored, or none is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import cached_property
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

from pydantic import TypeAdapter
from pydantic_core import SchemaSerializer
from sqlalchemy import Connection, RootTransaction
from sqlalchemy.orm import Session

from takedown.store.audit_repos import AuditRepository
from takedown.store.case_repos import (
    CaseMessageRepository,
    CaseRepository,
    ContentStatsRepository,
    DecisionRepository,
    InstanceSecretRepository,
    RateCounterRepository,
    ReportRepository,
)
from takedown.store.clock_repos import CaseClockRepository
from takedown.store.db import Database
from takedown.store.enforcement_repos import (
    ActionRepository,
    RegistryRepository,
    StatementRepository,
)
from takedown.store.evidence_repos import EvidenceRepository
from takedown.store.exchange_repos import ExchangeRepository
from takedown.store.filing_repos import FilingRepository
from takedown.store.identity_repos import (
    ApiKeyRepository,
    LoginDeviceRepository,
    StaffSessionRepository,
    UserRepository,
)
from takedown.store.link_repos import CaseLinkRepository
from takedown.store.matching_repos import (
    BankEntryRepository,
    BankRepository,
    BankSnapshotRepository,
    ContentRepository,
)
from takedown.store.outbox_repos import (
    HeartbeatRepository,
    OutboxRepository,
    ScheduleRepository,
)
from takedown.store.rawsql import RawSql
from takedown.store.review_repos import ReviewRepository
from takedown.store.transparency_repos import TransparencyRepository


class Event(Protocol):
    """An event is a dataclass with a stable ``event_type`` name (``ClassVar[str]``)."""

    event_type: str


_IN_TRANSACTION = 2  # psycopg.pq.TransactionStatus.INTRANS: open, and nothing in it failed
_serializers: dict[type[Any], SchemaSerializer] = {}


def event_payload(event: Any) -> dict[str, Any]:
    """The JSON-ready payload of a dataclass event."""
    if not dataclasses.is_dataclass(event):
        raise TypeError(f"events must be dataclasses, got {type(event).__name__}")
    cls = type(event)
    serializer = _serializers.get(cls)
    if serializer is None:
        serializer = _serializers[cls] = TypeAdapter(cls).serializer
    # The core serializer itself: ``TypeAdapter.dump_python`` wraps it in Python.
    payload = serializer.to_python(event, mode="json")
    assert isinstance(payload, dict)
    return payload


R = TypeVar("R")


class _repository(Generic[R]):
    """A unit of work's repository, made on first use in each ``with`` block and kept in the
    instance's ``__dict__`` (so later reads are plain attribute reads)."""

    def __init__(self, cls: Callable[..., R], *, raw: bool = True) -> None:
        self.cls = cls
        self.raw = raw

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        _REPOSITORIES.append(name)

    def __get__(self, uow: SqlAlchemyUnitOfWork | None, owner: type) -> R:
        if uow is None:
            raise AttributeError(self.name)
        if not uow._open:
            # After its block a unit of work's session is closed; a read through it would
            # open a connection that nothing ever gives back.
            raise RuntimeError(f"uow.{self.name} used outside the unit of work's with block")
        repo = self.cls(uow) if self.raw else self.cls(uow.session)
        uow.__dict__[self.name] = repo
        return repo


_REPOSITORIES: list[str] = []


class UnitOfWork(Protocol):
    """The port services, reactions and adapters type against: one transaction, its
    repositories, its events. ``SqlAlchemyUnitOfWork`` is the one implementation; how it
    writes (alone, or in the group-commit writer's group) is decided where it is made, not by
    the code that uses it. Use it in a ``with`` block and ``commit()`` once; leaving the block
    without committing rolls everything back. ``snapshot``, set before the block: every read
    in it sees the same moment."""

    snapshot: bool

    @property
    def users(self) -> UserRepository: ...

    @property
    def keys(self) -> ApiKeyRepository: ...

    @property
    def staff_sessions(self) -> StaffSessionRepository: ...

    @property
    def login_devices(self) -> LoginDeviceRepository: ...

    @property
    def audit(self) -> AuditRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def schedules(self) -> ScheduleRepository: ...

    @property
    def heartbeats(self) -> HeartbeatRepository: ...

    @property
    def banks(self) -> BankRepository: ...

    @property
    def bank_entries(self) -> BankEntryRepository: ...

    @property
    def bank_snapshots(self) -> BankSnapshotRepository: ...

    @property
    def exchanges(self) -> ExchangeRepository: ...

    @property
    def content(self) -> ContentRepository: ...

    @property
    def reports(self) -> ReportRepository: ...

    @property
    def cases(self) -> CaseRepository: ...

    @property
    def case_messages(self) -> CaseMessageRepository: ...

    @property
    def decisions(self) -> DecisionRepository: ...

    @property
    def case_links(self) -> CaseLinkRepository: ...

    @property
    def content_stats(self) -> ContentStatsRepository: ...

    @property
    def instance_secrets(self) -> InstanceSecretRepository: ...

    @property
    def rate_counters(self) -> RateCounterRepository: ...

    @property
    def review(self) -> ReviewRepository: ...

    @property
    def actions(self) -> ActionRepository: ...

    @property
    def registry(self) -> RegistryRepository: ...

    @property
    def statements(self) -> StatementRepository: ...

    @property
    def transparency(self) -> TransparencyRepository: ...

    @property
    def case_clocks(self) -> CaseClockRepository: ...

    @property
    def evidence(self) -> EvidenceRepository: ...

    @property
    def filings(self) -> FilingRepository: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def publish(self, event: Any) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def on_rollback(self, callback: Callable[[], None]) -> None: ...

    def spawn(self, *, readonly: bool = False) -> UnitOfWork: ...


class SqlAlchemyUnitOfWork:
    """Opens a session on enter; ``commit()`` once; anything else rolls back on exit.

    On a connection the caller holds (``connection=``, the group-commit writer's): the
    transaction starts with ``begin()`` and ends with ``commit()`` or the block's end, on that
    connection, which stays the caller's; the ORM session is made on first use, joined to that
    transaction. Report intake writes only through ``raw`` and never makes one, which saves a
    session's own bookkeeping (about 100 µs a transaction, more than the rest of a commit's
    Python)."""

    def __init__(
        self,
        db: Database,
        *,
        readonly: bool = False,
        snapshot: bool = False,
        connection: Connection | None = None,
    ) -> None:
        """``readonly``: reads only (on SQLite it never waits for a writer). ``snapshot``: every
        read sees the same moment (REPEATABLE READ on PostgreSQL; SQLite always does)."""
        if connection is not None and (readonly or snapshot):
            raise ValueError("a unit of work on a held connection is a read-write one")
        self.db = db
        self.readonly = readonly
        self.snapshot = snapshot
        self._connection = connection
        self._transaction: RootTransaction | None = None
        self._published = 0
        self._open = False

    @cached_property
    def session(self) -> Session:
        """The ORM session: made on enter, or on a held connection on first use."""
        if self._connection is None:
            raise RuntimeError("enter the unit of work first")
        if self._transaction is None:
            raise RuntimeError("begin() the unit of work on its connection first")
        return self.db.sessions(bind=self._connection, join_transaction_mode="rollback_only")

    def spawn(self, *, readonly: bool = False) -> SqlAlchemyUnitOfWork:
        """A new, separate unit of work on the same database."""
        return SqlAlchemyUnitOfWork(self.db, readonly=readonly)

    def __enter__(self) -> SqlAlchemyUnitOfWork:
        # The repositories are made on first use (``_repository``): a group commit makes a
        # unit of work per group, and most use a few of them.
        self._drop_repositories()
        self._open = True
        connection = self._connection
        if connection is None:
            self.session = self.db.session(readonly=self.readonly)
            if self.snapshot and not self.db.is_sqlite:
                self.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            self.raw = RawSql(
                self.session.connection, ids=self.db.ids, dialect=self.db.engine.dialect
            )
        else:
            self.__dict__.pop("session", None)
            self._transaction = None
            self.raw = RawSql(self._begun, ids=self.db.ids, dialect=self.db.engine.dialect)
        self._published = 0
        self._event_types: set[str] = set()
        self._committed = False
        self._on_rollback: list[Callable[[], None]] = []
        return self

    users = _repository(UserRepository, raw=False)
    keys = _repository(ApiKeyRepository, raw=False)
    staff_sessions = _repository(StaffSessionRepository, raw=False)
    login_devices = _repository(LoginDeviceRepository, raw=False)
    audit = _repository(AuditRepository)
    outbox = _repository(OutboxRepository)
    schedules = _repository(ScheduleRepository)
    heartbeats = _repository(HeartbeatRepository)
    banks = _repository(BankRepository, raw=False)
    bank_entries = _repository(BankEntryRepository, raw=False)
    bank_snapshots = _repository(BankSnapshotRepository, raw=False)
    exchanges = _repository(ExchangeRepository)
    content = _repository(ContentRepository)
    reports = _repository(ReportRepository)
    cases = _repository(CaseRepository)
    case_messages = _repository(CaseMessageRepository)
    decisions = _repository(DecisionRepository)
    case_links = _repository(CaseLinkRepository)
    content_stats = _repository(ContentStatsRepository)
    instance_secrets = _repository(InstanceSecretRepository, raw=False)
    rate_counters = _repository(RateCounterRepository)
    review = _repository(ReviewRepository)
    actions = _repository(ActionRepository)
    registry = _repository(RegistryRepository)
    statements = _repository(StatementRepository)
    transparency = _repository(TransparencyRepository)
    case_clocks = _repository(CaseClockRepository)
    evidence = _repository(EvidenceRepository)
    filings = _repository(FilingRepository)

    def _begun(self) -> Connection:
        """The held connection, once ``begin()`` has started its transaction (the driver runs
        a statement outside one on its own, committed at once)."""
        if self._transaction is None or self._connection is None:
            raise RuntimeError("begin() the unit of work on its connection first")
        return self._connection

    def begin(self) -> None:
        """Start the transaction now (``BEGIN``; on SQLite the writer's lock, which may be
        waited for), rather than at the first statement."""
        if self._connection is None:
            self.session.connection()
        elif self._transaction is None:
            self._transaction = self._connection.begin()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._connection is not None:
            try:
                self._exit_held()
            finally:
                self._open = False
            return
        try:
            if not self._committed:
                self.raw.end_transaction()
                if self.readonly and exc_type is None and self._read_transaction_clean():
                    # It wrote nothing, so ending it either way is the same; but psycopg
                    # forgets a connection's prepared statements on every rollback (and
                    # spends a round trip telling the server so).
                    self.session.commit()
                else:
                    self._rolled_back()
                    self.session.rollback()
        finally:
            self.session.close()
            self._drop_repositories()
            self._open = False

    def _drop_repositories(self) -> None:
        """Let the block's repositories go: each holds its unit of work, which holds it, and
        such a cycle is freed only by the garbage collector. Left to it, a server made about
        sixteen objects of cyclic garbage a group commit, and its collections ran every few
        dozen reports (``docs/architecture.md``). Used after the block, a repository is
        made again."""
        for name in _REPOSITORIES:
            self.__dict__.pop(name, None)

    def _exit_held(self) -> None:
        session = self.__dict__.get("session")
        try:
            if not self._committed:
                self.raw.end_transaction()
                self._rolled_back()
                self._rollback_held()
        finally:
            self._transaction = None
            if session is not None:
                session.close()
            self._drop_repositories()
            # Its ``raw`` holds ``_begun``, a method of this unit of work: another cycle.
            self.__dict__.pop("raw", None)

    def _rollback_held(self) -> None:
        """Roll back the held connection's transaction (and the session joined to it)."""
        session = self.__dict__.get("session")
        if session is not None:
            session.rollback()  # and the transaction it joined ("rollback_only")
        transaction, self._transaction = self._transaction, None
        if transaction is not None and transaction.is_active:
            transaction.rollback()

    def _read_transaction_clean(self) -> bool:
        """PostgreSQL: a transaction is open on the connection and no statement in it failed."""
        if self.db.is_sqlite or not self.session.in_transaction():
            return False
        driver = self.session.connection().connection.driver_connection
        return bool(driver is not None and driver.info.transaction_status == _IN_TRANSACTION)

    def forget_prefetched(self) -> None:
        """Drop reads made ahead for a group's works (``group_commit.run_works``)."""
        self.cases.forget_prefetched()

    def publish(self, event: Any) -> None:
        """Record ``event`` in the outbox, in this transaction (it is inserted with the other
        events of the unit of work when it commits)."""
        if self.readonly:
            raise RuntimeError("a read-only unit of work cannot publish events")
        self._published += 1
        self._event_types.add(event.event_type)
        self.outbox.add(
            event_type=event.event_type,
            payload=event_payload(event),
            done=event.event_type in self.db.done_at_publish,
        )

    def commit(self) -> None:
        try:
            self.outbox.flush()
            self.audit.flush()
            if self._connection is None:
                self.raw.flush()
                self.session.commit()
            else:
                self._commit_held()
        finally:
            self.outbox.end_transaction()
            self.audit.end_transaction()
            self.raw.end_transaction()
        self._committed = True
        self._on_rollback = []
        if self._published:
            self.db.notify_committed(frozenset(self._event_types))
            self._published = 0
            self._event_types = set()

    def _commit_held(self) -> None:
        transaction = self._transaction
        if transaction is None:
            raise RuntimeError("commit() without begin() on a held connection")
        session = self.__dict__.get("session")
        if session is not None:
            session.flush()  # its transaction is the connection's, committed here
        # PostgreSQL: the waiting writes and ``COMMIT`` in one round trip; the transaction's
        # own commit below then finds nothing left to do on the driver.
        self.raw.flush(commit=True)
        transaction.commit()

    def on_rollback(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` if this transaction's writes are rolled back (for in-memory
        state that mirrors rows it may have written, such as ``services.case_media``). A
        read-only unit of work writes nothing: its callbacks never run."""
        self._on_rollback.append(callback)

    def _rolled_back(self) -> None:
        callbacks, self._on_rollback = self._on_rollback, []
        if self.readonly:
            return
        for callback in callbacks:
            callback()

    def rollback(self) -> None:
        self._rolled_back()
        self.outbox.end_transaction()
        self.audit.end_transaction()
        self.raw.end_transaction()
        if self._connection is None:
            self.session.rollback()
        else:
            self._rollback_held()


def reading(db: Database, *, snapshot: bool = False) -> UnitOfWork:
    """A read-only unit of work on ``db``, as the port: for what reads outside a use case's own
    transaction (a process's caches of the store, the lanes between their steps). On SQLite it
    never waits for a writer; ``snapshot``: every read sees the same moment."""
    return SqlAlchemyUnitOfWork(db, readonly=True, snapshot=snapshot)
