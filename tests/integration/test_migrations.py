"""Migrations build the schema the models describe, on SQLite and PostgreSQL."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from takedown.services import system
from takedown.store import SqlAlchemyUnitOfWork, migrate
from takedown.store.models import Base


def test_migrated_schema_matches_the_models(db):
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_reports_the_head(db):
    migrate.upgrade(db)
    migrate.upgrade(db)
    assert migrate.current_revision(db) == migrate.head_revision()
    assert migrate.is_current(db)


def test_readiness_reports_a_schema_behind_head(db):
    assert system.readiness(uow=SqlAlchemyUnitOfWork(db, readonly=True)).ready
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'older'"))
    r = system.readiness(uow=SqlAlchemyUnitOfWork(db, readonly=True))
    assert not r.ready and r.schema_revision == "older"


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_full_sync(db):
    if not db.is_sqlite:
        pytest.skip("SQLite pragmas do not apply to PostgreSQL")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_readiness_reports_an_unreachable_database_without_raising():
    from takedown.store import Database

    down = Database("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    r = system.readiness(uow=SqlAlchemyUnitOfWork(down, readonly=True))
    assert not r.ready and r.database.startswith("unreachable")
    down.dispose()
