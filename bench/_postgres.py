"""A scratch PostgreSQL database for one benchmark run, dropped after."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from sqlalchemy import create_engine, text

PG_ADMIN = os.environ.get(
    "TAKEDOWN_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@localhost:5432/postgres"
)


@contextmanager
def scratch_database(console: Console) -> Iterator[str | None]:
    """Yield the URL of a new, empty database (None, said on ``console``, where no
    PostgreSQL answers); drop it after."""
    name = f"takedown_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        console.print(f"[yellow]PostgreSQL skipped: {exc}[/yellow]")
        yield None
        return
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
