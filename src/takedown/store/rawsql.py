"""Hand-written SQL on the unit of work's own connection, for the paths that run thousands of
times a second (report intake, the audit log, the outbox).

Why: building and executing a SQLAlchemy statement costs a few hundred microseconds of Python
here, and a report takes a dozen statements; the driver itself takes tens. These statements
run in the session's transaction (``Session.connection()``), so they commit or roll back with
everything else in the unit of work, and the rows they write read back through the ORM like
any other (the integration tests read every row the intake writes through the ORM on both
databases).

SQL is written once with ``:name`` parameters (SQLite's style) and turned into psycopg's
``%(name)s`` for PostgreSQL. Values are stored the way SQLAlchemy's column types store them:
``UTCDateTime`` as naive UTC text ``YYYY-MM-DD HH:MM:SS.ffffff`` on SQLite and ``timestamptz``
on PostgreSQL, JSON as text on SQLite and ``jsonb`` on PostgreSQL, booleans as 0/1 on SQLite.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

_PARAM = re.compile(r"(?<![:\w]):(\w+)")
_pg_sql: dict[str, str] = {}


def _to_pg(sql: str) -> str:
    converted = _pg_sql.get(sql)
    if converted is None:
        converted = _pg_sql[sql] = _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
    return converted


class RawSql:
    """Runs pre-written SQL in a session's transaction; opens it (``BEGIN``) on first use."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._cursor: Any = None
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        self._last_dt: tuple[datetime, str] | None = None

    def _cur(self) -> Any:
        if self._cursor is None:
            connection = self._session.connection()
            self._cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        return self._cursor

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        cursor = self._cur()
        cursor.execute(sql if self.sqlite else _to_pg(sql), params or {})
        return cursor

    def executemany(self, sql: str, rows: list[dict[str, Any]]) -> None:
        self._cur().executemany(sql if self.sqlite else _to_pg(sql), rows)

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
            text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            self._last_dt = (value, text)
            return text
        return value

    def json(self, value: Any) -> Any:
        if self.sqlite:
            return json.dumps(value)
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
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @staticmethod
    def read_json(value: Any) -> Any:
        return json.loads(value) if isinstance(value, str | bytes) else value
