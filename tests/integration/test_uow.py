"""The unit of work on the real SQLite file and the real PostgreSQL."""

import itertools
import threading

import pytest
from sqlalchemy import select

from takedown.identity import Principal, Role, UserCreated
from takedown.services import audit
from takedown.store import SqlAlchemyUnitOfWork
from takedown.store.models import OutboxRow


def count_outbox(db):
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        return len(list(uow.session.scalars(select(OutboxRow))))


def test_rolls_back_uncommitted_work_by_default(db):
    with SqlAlchemyUnitOfWork(db) as uow:
        uow.users.add(name="ana", role=Role.reviewer, password_hash=None)
        uow.publish(UserCreated(user_id=1, name="ana", role="reviewer"))
        audit.record(uow, actor=Principal.system(), action="user.created")
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        assert uow.users.get_by_name("ana") is None
        assert uow.audit.head() == (0, "0" * 64)
    assert count_outbox(db) == 0


def test_a_repository_used_outside_the_block_is_refused_loudly(db):
    """After its block a unit of work's session is closed: a read through it would quietly
    open a connection nothing gives back (on PostgreSQL, a server connection left open)."""
    uow = SqlAlchemyUnitOfWork(db, readonly=True)
    with pytest.raises(RuntimeError, match="outside the unit of work"):
        uow.users.list()
    with uow:
        assert uow.users.list() == []
    with pytest.raises(RuntimeError, match="outside the unit of work"):
        uow.filings.get(1)
    with uow:  # entered again, it works again
        assert uow.filings.get(1) is None


def test_rolls_back_on_error(db):
    with pytest.raises(RuntimeError), SqlAlchemyUnitOfWork(db) as uow:
        uow.users.add(name="ana", role=Role.reviewer, password_hash=None)
        raise RuntimeError("boom")
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        assert uow.users.get_by_name("ana") is None


def test_commit_stores_change_event_and_audit_entry_together(db):
    with SqlAlchemyUnitOfWork(db) as uow:
        user = uow.users.add(name="ana", role=Role.reviewer, password_hash=None)
        uow.publish(UserCreated(user_id=user.id, name="ana", role="reviewer"))
        audit.record(uow, actor=Principal.system(), action="user.created", target_id=user.id)
        uow.commit()
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        assert uow.users.get_by_name("ana") is not None
        assert uow.audit.head()[0] == 1
    assert count_outbox(db) == 1


def test_readonly_unit_of_work_refuses_to_publish(db):
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow, pytest.raises(RuntimeError):
        uow.publish(UserCreated(user_id=1, name="a", role="reviewer"))


def test_concurrent_audit_appends_form_one_unbroken_chain(db, container):
    # Concurrent update: many writers append at once; the head's row lock (PostgreSQL) or
    # BEGIN IMMEDIATE (SQLite) must serialize them into one chain without gaps or forks.
    errors = []

    def writer(n):
        try:
            for i in range(10):
                with SqlAlchemyUnitOfWork(db) as uow:
                    audit.record(
                        uow, actor=Principal.system(f"w{n}"), action="test.append", details={"i": i}
                    )
                    uow.commit()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = audit.verify(uow=SqlAlchemyUnitOfWork(db, readonly=True), actor=Principal.system())
    assert result.ok, result.problems
    assert result.entries == 80 and result.head_seq == 80


def test_audit_entries_are_chained_at_commit_in_order_and_read_back_before_it(db):
    """Entries wait in the unit of work and are written together when it commits (a group
    commit's reports cost one read and one update of the head); a read of the log in the
    same unit of work sees them already, and a rollback leaves no trace."""
    with SqlAlchemyUnitOfWork(db) as uow:
        for i in range(3):
            audit.record(uow, actor=Principal.system(), action="test.first", details={"i": i})
        assert uow.audit.head()[0] == 3  # a read inside the transaction writes them first
        audit.record(uow, actor=Principal.system(), action="test.second", details={"i": 3})
        uow.commit()
    with SqlAlchemyUnitOfWork(db) as uow:
        audit.record(uow, actor=Principal.system(), action="test.rolled_back")
        uow.rollback()
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        entries = list(uow.audit.iter_all())
    assert [(e.seq, e.action, e.details) for e in entries] == [
        (1, "test.first", {"i": 0}),
        (2, "test.first", {"i": 1}),
        (3, "test.first", {"i": 2}),
        (4, "test.second", {"i": 3}),
    ]
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(entries))
    result = audit.verify(uow=SqlAlchemyUnitOfWork(db, readonly=True), actor=Principal.system())
    assert result.ok and result.head_seq == 4


def test_concurrent_updates_of_one_row_lose_nothing(db):
    with SqlAlchemyUnitOfWork(db) as uow:
        user = uow.users.add(name="ana", role=Role.reviewer, password_hash=None)
        uow.commit()

    from sqlalchemy import update

    from takedown.store.models import UserRow

    def bump():
        for _ in range(20):
            with SqlAlchemyUnitOfWork(db) as uow:
                uow.session.execute(
                    update(UserRow)
                    .where(UserRow.id == user.id)
                    .values(failed_logins=UserRow.failed_logins + 1)
                )
                uow.commit()

    threads = [threading.Thread(target=bump) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        assert uow.users.get(user.id).failed_logins == 100


def test_a_unit_of_work_on_a_held_connection_begins_commits_and_leaves_it_open(db):
    """The group-commit writer's kind: its transaction is on the caller's connection, which
    stays open after it; nothing runs before ``begin()`` (the driver would commit a statement
    outside a transaction at once); leaving without commit rolls back; no ORM session is
    made unless asked for."""
    with db.engine.connect() as connection:
        uow = SqlAlchemyUnitOfWork(db, connection=connection)
        with uow:
            with pytest.raises(RuntimeError, match="begin"):
                uow.content.ensure("before-begin")
            uow.begin()
            uow.content.ensure("rolled-back")
            assert "session" not in uow.__dict__
        uow = SqlAlchemyUnitOfWork(db, connection=connection)
        with uow:
            uow.begin()
            uow.content.ensure("committed")
            audit.record(
                uow,
                actor=Principal.system("test"),
                action="test.held",
                target_type=None,
                target_id=None,
                details={},
            )
            uow.commit()
            assert "session" not in uow.__dict__
        assert not connection.closed and not connection.in_transaction()
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        assert uow.content.get("committed") is not None
        assert uow.content.get("rolled-back") is None
        assert uow.content.get("before-begin") is None
    with pytest.raises(ValueError, match="read-write"):
        SqlAlchemyUnitOfWork(db, readonly=True, connection=connection)


def test_sqlite_writer_waiting_past_its_busy_timeout_fails_as_sqlalchemy_does(tmp_path):
    """``BEGIN IMMEDIATE`` runs on the driver's connection, not through SQLAlchemy's statement
    machinery: a lock held past the busy timeout still fails as SQLAlchemy's
    ``OperationalError`` (which the group-commit writer retries), and the connection works
    once the lock is free. NULL parameters still bind as NULL."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from takedown.store import Database, migrate

    url = f"sqlite:///{tmp_path / 'locked.db'}"
    db = Database(url, sqlite_busy_timeout_ms=50)
    migrate.upgrade(db)
    holder = sqlite3.connect(tmp_path / "locked.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with db.engine.connect() as conn, pytest.raises(OperationalError, match="locked"):
            conn.begin()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with db.engine.connect() as conn, conn.begin():
        value = conn.exec_driver_sql("SELECT ? IS NULL", (None,)).scalar()
    assert value == 1
    db.dispose()
