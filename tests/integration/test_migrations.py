"""Migrations build the schema the models describe, on SQLite and PostgreSQL."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from takedown.services import system
from takedown.store import SqlAlchemyUnitOfWork, migrate
from takedown.store.models import Base


# SQLite's reflection leaves out expression indexes (the content URL's), with this warning.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based")
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


def _plan(conn, sql: str, params: dict) -> str:
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
        return "\n".join(str(r[-1]) for r in rows)
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # tiny tables: ask what it can use
    from takedown.store.rawsql import _to_pg

    return "\n".join(r[0] for r in conn.exec_driver_sql(f"EXPLAIN {_to_pg(sql)}", params).all())


def test_lookups_by_hash_read_the_partial_indexes(db):
    """Migration 0004 made the hash and parent indexes partial (``IS NOT NULL``): a lookup by
    hash must still use them, the intake's (a value from another table) and a case's (a
    parameter), or it would scan every item ever reported."""
    from takedown.store import case_repos

    with db.engine.connect() as conn:
        defs = (
            conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'index'").scalars()
            if db.is_sqlite
            else conn.exec_driver_sql("SELECT indexdef FROM pg_indexes").scalars()
        )
        partial = {d.split(" ON ")[0].split()[-1] for d in defs if d and "IS NOT NULL" in d}
        assert {
            "ix_content_md5",
            "ix_content_sha256",
            "ix_content_parent_content_id",
            "ix_case_items_md5",
            "ix_case_items_sha256",
        } <= partial
        intake = _plan(
            conn,
            case_repos._INTAKE_LOOKUP_SQLITE if db.is_sqlite else case_repos._INTAKE_LOOKUP_PG,
            {"content_id": "x", "reporter_key": None},
        )
        related = _plan(
            conn,
            "SELECT case_id FROM case_items WHERE md5 = :md5 AND open UNION ALL "
            "SELECT case_id FROM case_items WHERE sha256 = :sha256 AND open",
            {"md5": "a" * 32, "sha256": "b" * 64},
        )
    for plan in (intake, related):
        assert "ix_case_items_md5" in plan and "ix_case_items_sha256" in plan, plan


def test_intake_lookups_probe_by_key_and_never_read_a_whole_table(db):
    """PostgreSQL may plan ``EXISTS`` as a hashed subplan, which reads the whole table on
    every statement: with a few thousand case items it did, so each group of reports read
    every item ever reported, and the plan stayed cached on the connection while the table
    grew. The intake's lookups must probe by key."""
    if db.is_sqlite:
        pytest.skip("SQLite has no hashed subplans")
    from takedown.store import case_repos
    from takedown.store.rawsql import _to_pg

    rows = "FROM generate_series(1, 3000) AS g"
    with db.engine.begin() as conn:
        for table, insert in (
            (
                "cases",
                "INSERT INTO cases (id, status, priority, reasons, facts, respond_by, "
                "opened_at, updated_at) SELECT g, 'open', 'P2', '[]', '{}', now(), now(), now()",
            ),
            (
                "case_items",
                "INSERT INTO case_items (case_id, content_id, root_content_id, open, added_at) "
                "SELECT g, 'c' || g, 'c' || g, true, now()",
            ),
            (
                "reports",
                "INSERT INTO reports (case_id, content_id, category, reporter_role, "
                "good_faith_statement, description, source, principal_kind, principal_name, "
                "submitter, status_digest, received_at, reporter_key) SELECT g, 'c' || g, "
                "'csam', 'user', false, '', 'api', 'api_key', 'k', 's', md5(g::text), now(), "
                "'r' || g",
            ),
            (
                "content",
                "INSERT INTO content (content_id, account_id, first_seen_at) "
                "SELECT 'c' || g, '', now()",
            ),
        ):
            conn.exec_driver_sql(f"{insert} {rows}")
            conn.exec_driver_sql(f"ANALYZE {table}")
        ids = [f"c{n}" for n in range(1, 10)]
        plan = "\n".join(
            r[0]
            for r in conn.exec_driver_sql(
                f"EXPLAIN {_to_pg(case_repos._INTAKE_LOOKUP_MANY_PG)}",
                {"content_ids": ids, "reporter_keys": ["r1"] * len(ids)},
            ).all()
        )
    assert "Seq Scan" not in plan, plan


def test_0006_moves_decision_messages_into_the_decisions_table(db):
    from alembic import command

    command.downgrade(migrate._config(db), "0005")
    at = "2026-12-01 12:00:00"
    with db.engine.begin() as conn:
        case_id = conn.execute(
            text(
                "INSERT INTO cases (status, priority, reasons, facts, respond_by, opened_at, "
                "updated_at) VALUES ('confirmed', 'P0', '[]', '{}', :at, :at, :at) RETURNING id"
            ),
            {"at": at},
        ).scalar_one()
        for kind, body in (
            (
                "decision",
                "Confirmed automatically: the content matched the known-CSAM hash "
                "bank ncmec. Its removal, with every copy, is the next step.",
            ),
            ("reply", "thank you"),
        ):
            conn.execute(
                text(
                    "INSERT INTO case_messages (case_id, author, kind, body, at) "
                    "VALUES (:case_id, 'system', :kind, :body, :at)"
                ),
                {"case_id": case_id, "kind": kind, "body": body, "at": at},
            )
    migrate.upgrade(db)
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        [decision] = uow.decisions.for_case(case_id)
    assert (decision.outcome, decision.category, decision.automated, decision.decided_by) == (
        "violation",
        "csam",
        True,
        "matcher",
    )
    assert decision.reason == "matched the known-CSAM hash bank ncmec"
    assert decision.statement.startswith("Confirmed automatically")
    with db.engine.connect() as conn:
        kinds = conn.execute(text("SELECT kind FROM case_messages")).scalars().all()
    assert kinds == ["reply"]


def test_a_search_reads_each_keys_index_and_never_a_whole_table(db):
    """Migration 0019's indexes: a search by any key (``ReviewRepository.search``) must read
    each part from its own index; a scan would read every report or item ever stored."""
    from takedown.store.review_repos import _found_by

    migrate.upgrade(db)
    plans = []
    with db.engine.connect() as conn:
        for text_ in ("TD-0000042", "a" * 64):  # a case number; a SHA-256 or PDQ hash
            params: dict = {}
            plans.append(_plan(conn, _found_by(text_, params, sqlite=db.is_sqlite), params))
    plan = "\n".join(plans)
    for index in (
        "ix_reports_content_id",
        "uq_case_items_open_content",
        "ix_case_items_closed_content",
        "ix_case_items_account_id",
        "ix_reports_content_url",
        "ix_reports_police_case_number",
        "ix_case_items_sha256",
        "ix_case_items_pdq",
    ):
        assert index in plan, (index, plan)
    assert "SCAN reports" not in plan and "SCAN case_items" not in plan, plan
    assert "Seq Scan" not in plan, plan


def test_writing_a_case_builds_no_temporary_btree_and_the_queue_reads_its_indexes(db):
    """SQLite evaluates a partial index's condition on every insert into its table; an ``IN``
    list of three or more values there is built into a temporary B-tree each time, which cost
    more than the insert of a new case. The queue's indexes state their condition as
    equalities (``models.status_among``), and the queue's reads, which repeat it, still find
    them."""
    if not db.is_sqlite:
        pytest.skip("PostgreSQL has no such temporary B-tree; its plans are tested elsewhere")
    from takedown.store.models import HELD_STATUSES, QUEUE_STATUSES, status_among

    with db.engine.connect() as conn:
        for write in (
            "INSERT INTO cases (id, status, priority, reasons, facts, respond_by, opened_at, "
            "updated_at) VALUES (1, 'open', 'P2', '[]', '{}', 'x', 'x', 'x')",
            "UPDATE cases SET status = 'closed', priority = 'P1', respond_by = 'y' WHERE id = 1",
        ):
            program = conn.exec_driver_sql(f"EXPLAIN {write}").all()
            assert not [op for op in program if op[1] == "OpenEphemeral"], write
        queue = _plan(
            conn,
            f"SELECT c.id FROM cases c WHERE {status_among(QUEUE_STATUSES, 'c')} "
            "AND c.minor_safety = 0 ORDER BY c.respond_by LIMIT 10",
            {},
        )
        held = _plan(
            conn,
            f"SELECT c.id FROM cases c WHERE {status_among(HELD_STATUSES, 'c')} "
            "AND c.status = 'on_hold' ORDER BY c.respond_by LIMIT 10",
            {},
        )
    assert "ix_cases_due" in queue, queue
    assert "ix_cases_held" in held, held
