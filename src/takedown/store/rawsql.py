"""Hand-written SQL on the unit of work's own connection, for the paths that run thousands of
times a second (report intake, the audit log, the outbox).

Why: building and executing a SQLAlchemy statement costs a few hundred microseconds of Python
here, and a report takes a dozen statements; the driver itself takes tens. These statements
run in the unit of work's transaction (its session's connection, or the group-commit writer's
own), so they commit or roll back with everything else in the unit of work, and the rows they
write read back through the ORM like any other (the integration tests read every row the
intake writes through the ORM on both databases).

SQL is written once with ``:name`` parameters and turned into psycopg's ``%(name)s`` for
PostgreSQL, and into SQLite's numbered ``?N`` for SQLite, its values taken from the dict in one
C call (``operator.itemgetter``): sqlite3 binds a named parameter by making a new string of
its name and looking it up in the dict, a few hundred instructions a value, and a report binds
about sixty.

Round trips (PostgreSQL): a statement whose result nobody reads (``write``, ``write_many``: an
insert with its id already known, an update, the audit and outbox batches) is not sent at once:
it waits in the unit of work and goes out with the next read, or at commit, all in one round
trip (psycopg's pipeline mode); a unit of work on the writer's held connection sends its last
ones with ``COMMIT`` (``flush(commit=True)``). Any other statement on the connection (the
ORM's, or the commit) sends the waiting ones first (``install_write_barrier``), so every
statement sees the writes made before it, in order. New rows' ids come from the table's
sequence in blocks (``IdBlocks``) instead of ``RETURNING``, which would need the answer at
once. A report then costs one round trip of its own instead of five; an error in a waiting
write surfaces at the next read or at commit, in the same transaction, which the group-commit
writer handles as any failure (the group runs again item by item). On SQLite, which has no
round trips, every statement runs at once. Values are stored the way SQLAlchemy's column types
store them: ``UTCDateTime`` as naive UTC text ``YYYY-MM-DD HH:MM:SS.ffffff`` on SQLite and
``timestamptz`` on PostgreSQL, JSON as text on SQLite and ``jsonb`` on PostgreSQL, booleans as
0/1 on SQLite.
"""

from __future__ import annotations

import json
import re
import threading
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any, Protocol

from pydantic_core import to_json
from sqlalchemy import Connection, Engine, event, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from takedown.utctime import utc_text

_PARAM = re.compile(r"(?<![:\w]):(\w+)")
# SQL converted, by the text written: a few hundred statements, some put together from the
# columns a call changes. Emptied past ``_CONVERTED_LIMIT``, so SQL built with values in its
# text (none is) could not grow it for ever.
_CONVERTED_LIMIT = 4096
_pg_sql: dict[str, str] = {}
_sqlite_sql: dict[str, tuple[str, Callable[[Any], tuple[Any, ...]]]] = {}


def _no_values(_params: Any) -> tuple[Any, ...]:
    return ()


def _to_sqlite(sql: str) -> tuple[str, Callable[[Any], tuple[Any, ...]]]:
    """``sql`` with each ``:name`` numbered (``?1`` for the first name, a name used twice
    keeps its number), and what takes the values in that order from a dict of them. As for
    PostgreSQL, a ``:word`` is taken for a parameter wherever it stands: no SQL here writes
    one inside a string literal."""
    found = _sqlite_sql.get(sql)
    if found is None:
        if len(_sqlite_sql) >= _CONVERTED_LIMIT:
            _sqlite_sql.clear()
        names: dict[str, int] = {}

        def number(match: re.Match[str]) -> str:
            return f"?{names.setdefault(match.group(1), len(names) + 1)}"

        numbered = _PARAM.sub(number, sql)
        if not names:
            values: Callable[[Any], tuple[Any, ...]] = _no_values
        elif len(names) == 1:
            one = itemgetter(*names)
            values = lambda params: (one(params),)  # noqa: E731 - the one-name case of itemgetter
        else:
            values = itemgetter(*names)
        found = _sqlite_sql[sql] = (numbered, values)
    return found


def _to_pg(sql: str) -> str:
    converted = _pg_sql.get(sql)
    if converted is None:
        if len(_pg_sql) >= _CONVERTED_LIMIT:
            _pg_sql.clear()
        converted = _pg_sql[sql] = _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
    return converted


_RAW_KEY = "takedown_raw"
_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: no transaction open on the connection
ID_TABLES = frozenset({"reports", "cases", "statement_templates"})
"""Tables whose new rows take their ids from ``IdBlocks`` on PostgreSQL."""


_NEXT_ROWID = {t: f"SELECT coalesce(max(id), 0) + 1 FROM {t}" for t in ID_TABLES}  # noqa: S608 - constant names


class IdBlocks:
    """New ids for a process, taken from each table's sequence ``block`` at a time (one
    round trip per block instead of one per row). Ids are unique and never reused; a block's
    unused ids are lost when the process stops, as PostgreSQL's own sequence cache loses
    them, so ids have gaps and, between processes, follow allocation rather than commit
    order."""

    def __init__(self, block: int = 64) -> None:
        self.block = block
        self._free: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def next_id(self, table: str, raw: RawSql) -> int:
        with self._lock:
            free = self._at_hand(table, 1, raw)
            return free.pop()

    def reserve(self, table: str, n: int, raw: RawSql) -> None:
        """Have at least ``n`` ids for ``table`` at hand (one round trip if not), so the next
        ``n`` rows take theirs without waiting: report intake reserves a group's ids with its
        reads (``StoreReport.prefetch``), so no insert mid-group sends the writes waiting so
        far to fetch a block."""
        with self._lock:
            self._at_hand(table, n, raw)

    def _at_hand(self, table: str, n: int, raw: RawSql) -> list[int]:
        if table not in ID_TABLES:
            raise ValueError(f"no id sequence is used for {table!r}")
        free = self._free.setdefault(table, [])
        if len(free) < n:
            rows = raw.all(
                "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :n)",
                {"table": table, "n": max(self.block, n - len(free))},
            )
            # Popped from the end: the smallest first, after those already at hand.
            free[:0] = sorted((int(r[0]) for r in rows), reverse=True)
        return free


_BEGIN_KEY = "takedown_explicit_begin"
BEGIN = "BEGIN ISOLATION LEVEL READ COMMITTED"
"""How the writer's held connection starts a transaction (what psycopg itself sends)."""


def begin_explicitly(connection: Connection) -> None:
    """PostgreSQL, for a connection the group-commit writer holds: start its transactions
    with a ``BEGIN`` sent in the same round trip as their first statements, instead of the
    round trip of its own that psycopg spends on the ``BEGIN`` it sends (its pipeline waits
    for the answer, so as to know the transaction has begun). psycopg is put in autocommit
    mode, which sends no ``BEGIN``; ``RawSql`` sends it first in its first pipeline, and any
    other statement sends it first (``install_write_barrier``), so nothing runs outside a
    transaction. ``COMMIT`` and ``ROLLBACK`` are psycopg's as before (it sends them whenever a
    transaction is open). ``end_explicit_begin`` undoes it before the connection goes back to
    the pool. Nothing to do on SQLite."""
    if connection.dialect.name == "sqlite":
        return
    connection.connection.driver_connection.autocommit = True  # type: ignore[union-attr]
    connection.info[_BEGIN_KEY] = True


def end_explicit_begin(connection: Connection) -> None:
    """Undo ``begin_explicitly`` (a connection in the pool must start its own transactions):
    end any transaction still open, then leave autocommit mode."""
    # An invalidated connection is discarded, not pooled; and reading its ``info`` would
    # check a new one out.
    if connection.invalidated or connection.info.pop(_BEGIN_KEY, None) is None:
        return
    driver = connection.connection.driver_connection
    if driver is None:
        return
    if driver.info.transaction_status != _IDLE:
        driver.rollback()
    driver.autocommit = False


def _begin_pending(info: dict[Any, Any], driver: Any) -> bool:
    return bool(info.get(_BEGIN_KEY)) and driver.info.transaction_status == _IDLE


def install_write_barrier(engine: Engine) -> None:
    """PostgreSQL: before any statement ``RawSql`` did not send itself, and before a commit,
    send the writes waiting on that connection (see the module); on a connection that begins
    explicitly (``begin_explicitly``), before any statement outside a transaction, ``BEGIN``."""

    def _send_waiting(conn: Any, *_args: Any) -> None:
        ref = conn.info.get(_RAW_KEY)
        raw = ref() if ref is not None else None
        if raw is not None:
            raw.flush()

    def _before_statement(conn: Any, *_args: Any) -> None:
        _send_waiting(conn)
        if conn.info.get(_BEGIN_KEY):
            driver = conn.connection.driver_connection
            if driver.info.transaction_status == _IDLE:
                driver.execute(BEGIN)

    event.listen(engine, "before_cursor_execute", _before_statement)
    event.listen(engine, "commit", _send_waiting)


class HasSession(Protocol):
    """What a repository needs of its unit of work."""

    raw: RawSql

    @property
    def session(self) -> Session: ...


class RawRepository:
    """A repository whose hot paths are ``RawSql`` and whose other methods use the ORM: it
    reaches the unit of work's session only when such a method runs, since a unit of work on
    the writer's own connection makes its session on first use (``SqlAlchemyUnitOfWork``)."""

    def __init__(self, uow: HasSession) -> None:
        self._uow = uow
        self._raw = uow.raw

    @property
    def _s(self) -> Session:
        return self._uow.session


class RawSql:
    """Runs pre-written SQL in a unit of work's transaction, on the connection that
    ``connection()`` gives (``Session.connection``, which opens the transaction, ``BEGIN``, on
    first use; or the writer's own connection, already in its transaction). The driver's
    errors reach the caller as SQLAlchemy's (``IntegrityError`` and so on), as they would
    from the ORM."""

    def __init__(
        self, connection: Callable[[], Connection], *, dialect: Dialect, ids: IdBlocks | None = None
    ) -> None:
        self._connection = connection
        self._cursor: Any = None
        self._writer: Any = None
        self._driver: Any = None
        self._info: dict[Any, Any] | None = None
        self._ids = ids
        self.sqlite = dialect.name == "sqlite"
        self._dbapi_error: type[Exception] = dialect.loaded_dbapi.Error
        self._last_dt: tuple[datetime, str] | None = None
        # PostgreSQL: writes not sent yet: (sql, params, many).
        self._waiting: list[tuple[str, Any, bool]] = []
        # SQLite: the next rowid of each table this transaction has taken ids for.
        self._rowids: dict[str, int] = {}

    def _cur(self) -> Any:
        if self._cursor is None:
            connection = self._connection()
            self._driver = connection.connection.driver_connection
            self._cursor = self._driver.cursor()
            if not self.sqlite:
                self._writer = self._driver.cursor()
                self._info = connection.info
                self._info[_RAW_KEY] = weakref.ref(self)
        return self._cursor

    def _wrapped(self, sql: str, params: Any, error: Exception) -> exc.StatementError:
        """The driver's error as SQLAlchemy's (``IntegrityError`` and so on)."""
        return exc.DBAPIError.instance(sql, params, error, self._dbapi_error)

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        """Run a statement now (with the waiting writes before it) and return the cursor."""
        cursor = self._cur()
        try:
            if self.sqlite:
                numbered, values = _to_sqlite(sql)
                cursor.execute(numbered, values(params) if params else ())
            elif self._waiting or self._driver.info.transaction_status == _IDLE:
                # Also when the transaction has not begun: psycopg's BEGIN then goes out in
                # the same round trip as the statement instead of one of its own.
                self._send_waiting(then=(_to_pg(sql), params or {}))
            else:
                cursor.execute(_to_pg(sql), params or {})
        except self._dbapi_error as error:
            raise self._wrapped(sql, params, error) from error
        return cursor

    def write(self, sql: str, params: dict[str, Any]) -> None:
        """A statement whose result nobody reads: on PostgreSQL it is sent with the next read
        or at commit (see the module); on SQLite at once."""
        self._write(sql, params, many=False)

    def write_many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        """``write`` for many rows of one statement."""
        self._write(sql, rows, many=True)

    def _write(self, sql: str, params: Any, *, many: bool) -> None:
        cursor = self._cur()
        if not self.sqlite:
            self._waiting.append((_to_pg(sql), params, many))
            return
        numbered, values = _to_sqlite(sql)
        try:
            if many:
                cursor.executemany(numbered, map(values, params))
            else:
                cursor.execute(numbered, values(params))
        except self._dbapi_error as error:
            raise self._wrapped(sql, params, error) from error

    def flush(self, *, commit: bool = False) -> None:
        """Send the waiting writes now (one round trip); a failed one raises here. With
        ``commit`` (PostgreSQL, a transaction this ``RawSql`` has written in), ``COMMIT`` goes
        in the same round trip; if a write fails, the transaction is left failed, for the
        caller to roll back, and nothing is committed."""
        commit = (
            commit
            and not self.sqlite
            and self._driver is not None
            and (bool(self._waiting) or self._driver.info.transaction_status != _IDLE)
        )
        if self._waiting or commit:
            try:
                self._send_waiting(commit=commit)
            except self._dbapi_error as error:
                raise self._wrapped("(waiting writes)", None, error) from error

    def _send_waiting(self, then: tuple[str, Any] | None = None, *, commit: bool = False) -> None:
        waiting, self._waiting = self._waiting, []
        writer = self._writer
        driver = self._driver
        begin = self._info is not None and _begin_pending(self._info, driver)
        with driver.pipeline():
            if begin:
                writer.execute(BEGIN)
            for sql, params, many in waiting:
                (writer.executemany if many else writer.execute)(sql, params)
            if then is not None:
                self._cursor.execute(*then)
            if commit:
                # As a statement, not ``driver.commit()``, which syncs on its own: that
                # would be a second round trip when the pipeline ends.
                writer.execute("COMMIT")

    def end_transaction(self) -> None:
        """The transaction ended: drop the writes not sent (a rollback) and let go of the
        connection, which goes back to the pool; a later statement takes the session's next
        one."""
        self._waiting = []
        self._rowids = {}
        if self._info is not None:
            self._info.pop(_RAW_KEY, None)
            self._info = None
        self._cursor = self._writer = self._driver = None

    def insert(
        self, table: str, sql_returning_id: str, sql_with_id: str, params: dict[str, Any]
    ) -> int:
        """Insert one row and return its id. SQLite: ``sql_returning_id`` runs at once.
        PostgreSQL: the id comes from ``IdBlocks`` and ``sql_with_id`` (with an ``:id``
        parameter) waits to be sent as a ``write``."""
        if self.sqlite or self._ids is None:
            return int(self.value(sql_returning_id, params))
        new_id = self._ids.next_id(table, self)
        self.write(sql_with_id, {**params, "id": new_id})
        return new_id

    def new_id(self, table: str) -> int:
        """An id for a new row of ``table`` (one of ``ID_TABLES``), before the row is written,
        that no other transaction can take. PostgreSQL: from ``IdBlocks``, or the table's
        sequence. SQLite: the next rowid, which is this transaction's alone: a writing unit
        of work holds the database's write lock from its ``BEGIN IMMEDIATE``. Every new row
        of ``table`` must take its id from here."""
        if table not in ID_TABLES:
            raise ValueError(f"no id sequence is used for {table!r}")
        if self.sqlite:
            # Read once a transaction; the ids after it are this transaction's too, as long as
            # every new row of ``table`` takes its id from here (``CaseRepository.save`` does).
            next_id = self._rowids.get(table)
            if next_id is None:
                next_id = int(self.value(_NEXT_ROWID[table]))
            self._rowids[table] = next_id + 1
            return next_id
        if self._ids is None:
            return int(self.value(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id'))"))
        return self._ids.next_id(table, self)

    def reserve_ids(self, counts: dict[str, int]) -> None:
        """PostgreSQL: have ids at hand for the next rows of these tables (``IdBlocks``);
        SQLite takes them from ``RETURNING``: nothing to do."""
        if self.sqlite or self._ids is None:
            return
        for table, n in counts.items():
            self._ids.reserve(table, n, self)

    def one(self, sql: str, params: dict[str, Any] | None = None) -> tuple[Any, ...] | None:
        row = self.execute(sql, params).fetchone()
        return tuple(row) if row is not None else None

    def value(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        row = self.one(sql, params)
        return row[0] if row is not None else None

    def all(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self.execute(sql, params).fetchall()]

    # Values in and out, as SQLAlchemy's types store them.

    def dt(self, value: datetime | None) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        if self.sqlite:
            # A report stamps several columns with the same moment: format it once.
            last = self._last_dt
            if last is not None and last[0] is value:
                return last[1]
            text = utc_text(value)  # ``strftime("%Y-%m-%d %H:%M:%S.%f")`` of the UTC time
            self._last_dt = (value, text)
            return text
        return value

    def json(self, value: Any) -> Any:
        if self.sqlite:
            # pydantic-core's encoder: one C call, a quarter of ``json.dumps``'s time (which
            # builds its encoder in Python on every call). Compact: the text is only read back.
            return to_json(value).decode()
        from psycopg.types.json import Jsonb

        return Jsonb(value)

    def flag(self, value: bool | None) -> Any:
        if value is None:
            return None
        return int(value) if self.sqlite else bool(value)

    @staticmethod
    def read_dt(value: Any) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            if len(value) <= 26:  # naive UTC text, as stored: parsed aware, without ``replace``
                try:
                    return datetime.fromisoformat(value + "+00:00")
                except ValueError:  # text that carries its own offset
                    pass
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @staticmethod
    def read_json(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str | bytes) else value
