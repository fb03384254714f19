"""PostgreSQL connections as the intake uses them: a process keeps working on the same few
connections and their prepared statements, checks a connection only after it sat idle, and
gets over a connection that died (the server restarted) without losing a write."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest

from takedown.store import Database, SqlAlchemyUnitOfWork
from takedown.store import db as db_module
from takedown.store.group_commit import GroupCommitter
from tests.conftest import _pg_admin_exec, _pg_url

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(pg_template: str) -> Iterator[Database]:
    name = f"takedown_t_{uuid.uuid4().hex[:12]}"
    _pg_admin_exec(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    database = Database(_pg_url(name))
    try:
        yield database
    finally:
        database.dispose()
        _pg_admin_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _backend(uow: SqlAlchemyUnitOfWork) -> int:
    return int(uow.raw.value("SELECT pg_backend_pid()"))


def test_prepared_statements_outlive_read_only_units_of_work(pg):
    # psycopg prepares a statement on its fifth use on a connection, and forgets every
    # prepared statement on a rollback: a read-only unit of work must not end with one.
    for _ in range(6):
        with SqlAlchemyUnitOfWork(pg, readonly=True) as uow:
            uow.content.get("nothing")
            backend = _backend(uow)
    with SqlAlchemyUnitOfWork(pg, readonly=True) as uow:
        assert _backend(uow) == backend  # the same connection: last in, first out
        prepared = uow.raw.value(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE '%FROM content%'"
        )
    assert prepared >= 1


def test_a_failed_read_still_ends_in_a_rollback(pg):
    with (
        pytest.raises(Exception, match="division by zero"),
        SqlAlchemyUnitOfWork(pg, readonly=True) as uow,
    ):
        uow.raw.value("SELECT 1 / 0")
    with SqlAlchemyUnitOfWork(pg, readonly=True) as uow:
        assert uow.raw.value("SELECT 1") == 1


def test_a_connection_that_died_while_idle_is_replaced_before_use(pg, monkeypatch):
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.2)
    with SqlAlchemyUnitOfWork(pg) as uow:
        dead = _backend(uow)
        uow.commit()
    _pg_admin_exec(f"SELECT pg_terminate_backend({dead})")
    time.sleep(0.3)  # deliberate: the pooled connection must sit idle past the ping interval
    with SqlAlchemyUnitOfWork(pg) as uow:
        assert _backend(uow) != dead
        uow.content.ensure("after-restart")
        uow.commit()
    with SqlAlchemyUnitOfWork(pg, readonly=True) as uow:
        assert uow.content.get("after-restart") is not None


def test_a_connection_is_checked_only_after_it_sat_idle(pg, monkeypatch):
    # A check is a round trip of its own before a unit of work: not for one in steady use.
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.3)
    pings = []
    ping = pg.engine.dialect.do_ping
    monkeypatch.setattr(pg.engine.dialect, "do_ping", lambda conn: pings.append(1) or ping(conn))
    for _ in range(5):
        with SqlAlchemyUnitOfWork(pg) as uow:
            uow.content.get("x")
            uow.commit()
    assert pings == []
    time.sleep(0.4)  # deliberate: idle past the ping interval, so the next checkout pings
    with SqlAlchemyUnitOfWork(pg) as uow:
        uow.content.get("x")
    assert pings == [1]


def test_the_writer_gets_over_a_connection_that_died_between_two_uses(pg):
    # Within the idle window nothing checks the connection: the statement fails with a
    # disconnect, SQLAlchemy drops the pool, and the writer runs the work again.
    writer = GroupCommitter(pg)
    writer.start()
    try:
        dead = writer.call(_backend)
        _pg_admin_exec(f"SELECT pg_terminate_backend({dead})")

        def write(uow: SqlAlchemyUnitOfWork) -> int:
            uow.content.ensure("kept")
            return _backend(uow)

        assert writer.call(write) != dead
    finally:
        writer.stop()
    with SqlAlchemyUnitOfWork(pg, readonly=True) as uow:
        assert uow.content.get("kept") is not None
