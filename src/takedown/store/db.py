"""Engines and sessions for SQLite (embedded default) and PostgreSQL.

SQLite is opened in WAL mode with foreign keys on, ``synchronous=FULL`` (an acknowledged
commit survives power loss) and a busy timeout. Writers start with ``BEGIN IMMEDIATE`` so two
writers queue on the lock at the start of a transaction instead of one failing half-way with
"database is locked"; readers use a separate engine with a plain ``BEGIN``, so they never
wait for a writer (WAL gives them a snapshot).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from takedown.store.rawsql import IdBlocks, install_write_barrier


class Database:
    """The engines, session factories and commit listeners of one database."""

    def __init__(self, url: str, *, sqlite_busy_timeout_ms: int = 5000, echo: bool = False):
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._commit_listeners: list[Callable[[frozenset[str]], None]] = []
        self._lock = threading.Lock()
        if self.is_sqlite:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            self.engine = _sqlite_engine(url, sqlite_busy_timeout_ms, immediate=True, echo=echo)
            self.read_engine = _sqlite_engine(
                url, sqlite_busy_timeout_ms, immediate=False, echo=echo
            )
        else:
            self.engine = _postgres_engine(url, echo=echo)
            self.read_engine = self.engine
        # New rows' ids for the hand-written inserts (PostgreSQL; SQLite uses RETURNING).
        self.ids = None if self.is_sqlite else IdBlocks()
        # Event types this process's outbox worker would mark done unhandled; a unit of work
        # stores them done when it publishes them (``jobs.Worker.start``).
        self.done_at_publish: frozenset[str] = frozenset()
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        self.read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)

    def on_commit(self, listener: Callable[[frozenset[str]], None]) -> None:
        """Call ``listener(event_types)`` after each commit that wrote outbox events (it wakes
        the worker, and drops cached credentials when one was revoked)."""
        with self._lock:
            self._commit_listeners.append(listener)

    def notify_committed(self, event_types: frozenset[str] = frozenset()) -> None:
        for listener in list(self._commit_listeners):
            listener(event_types)

    def session(self, *, readonly: bool = False) -> Session:
        return (self.read_sessions if readonly else self.sessions)()

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()


PING_AFTER_IDLE_SECONDS = 1.0
"""A pooled PostgreSQL connection idle longer than this is checked before it is used."""


def _postgres_engine(url: str, *, echo: bool) -> Engine:
    """Connections are handed out last-in first-out, so a busy process works on the same few
    and keeps their prepared statements (psycopg prepares a statement on its fifth use on a
    connection). A connection that sat idle is checked (a round trip) before use, so one that
    died while the server restarted is replaced; one in steady use is not, which saves a
    round trip on every unit of work. A connection that dies between two uses makes its
    statement fail with a disconnect, after which SQLAlchemy drops the whole pool; the
    group-commit writer retries such a failure."""
    engine = create_engine(url, pool_use_lifo=True, echo=echo)

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.DisconnectionError(str(error)) from error
        if not alive:
            raise exc.DisconnectionError("the connection did not answer its check")

    install_write_barrier(engine)
    return engine


def _sqlite_engine(url: str, busy_timeout_ms: int, *, immediate: bool, echo: bool) -> Engine:
    engine = create_engine(
        url,
        echo=echo,
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event, not the driver, decide when a transaction starts.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # On the driver's connection: ``exec_driver_sql`` ran SQLAlchemy's whole statement
        # machinery (an execution context, cursor events, a result) for these few bytes, once
        # a transaction, which was a tenth of a small group commit's instructions. Its
        # errors still reach the caller as SQLAlchemy's (``OperationalError`` when the lock
        # is not had within the busy timeout).
        try:
            conn.connection.driver_connection.execute(begin).close()
        except sqlite3.Error as error:
            raise exc.DBAPIError.instance(begin, None, error, sqlite3.Error) from error

    return engine
