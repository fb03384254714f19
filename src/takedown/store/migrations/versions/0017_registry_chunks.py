"""content_pdq_chunks, content_frame_chunks: the registry's near-copy search in the database.

Each registered item's PDQ hash (and each registered video frame's) is cut into the eleven
chunks of ``matching.pdq_index`` (ten of 23–24 bits, one of 20), each chunk's value in an
indexed column. A hash within 31 bits of a query agrees with it, within 2 bits (1 on the small
chunk), on one chunk; so a search probes each column's index for the few thousand values near
the query's and checks the full distance of what it finds. On PostgreSQL, triggers on
``content`` and ``content_frames`` keep these tables in step with the hashes however the rows
are written; on SQLite the tables stay empty (one process searches its registry in memory).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from takedown.store.types import BigId

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

# ``matching.pdq_index.CHUNK_BITS`` when this was written; a test checks they agree.
CHUNK_BITS = (24, 24, 24, 24, 24, 24, 23, 23, 23, 23, 20)
COLUMNS = [f"k{c}" for c in range(len(CHUNK_BITS))]
HEX = "'^[0-9a-fA-F]{64}$'"
TABLES = (  # (chunk table, the table whose hashes it follows)
    ("content_pdq_chunks", "content"),
    ("content_frame_chunks", "content_frames"),
)


def _chunk_values() -> str:
    parts, offset = [], 0
    for width in CHUNK_BITS:
        parts.append(f"substring(b from {offset + 1} for {width})::bit({width})::int")
        offset += width
    return ", ".join(parts)


def _follow(table: str, source: str) -> list[str]:
    values = ", ".join(f"k[{i + 1}]" for i in range(len(COLUMNS)))
    assigned = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS)
    function = f"takedown_{table}"
    statements = [
        f"""CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE k int[];
BEGIN
  IF NEW.pdq IS NULL OR NEW.pdq !~ {HEX} THEN
    DELETE FROM {table} WHERE id = NEW.id;
    RETURN NULL;
  END IF;
  k := takedown_pdq_chunks(NEW.pdq);
  INSERT INTO {table} (id, {", ".join(COLUMNS)}) VALUES (NEW.id, {values})
  ON CONFLICT (id) DO UPDATE SET {assigned};
  RETURN NULL;
END $$""",  # noqa: S608 - constant names
        f"CREATE TRIGGER {table}_new AFTER INSERT ON {source} FOR EACH ROW "
        f"WHEN (NEW.pdq IS NOT NULL) EXECUTE FUNCTION {function}()",
        f"CREATE TRIGGER {table}_changed AFTER UPDATE OF pdq ON {source} FOR EACH ROW "
        f"WHEN (OLD.pdq IS DISTINCT FROM NEW.pdq) EXECUTE FUNCTION {function}()",
        f"INSERT INTO {table} (id, {', '.join(COLUMNS)}) "  # noqa: S608 - constant names
        f"SELECT id, {values} FROM (SELECT id, takedown_pdq_chunks(pdq) AS k FROM {source} "
        f"WHERE pdq ~ {HEX}) AS hashed",
    ]
    return statements


def upgrade() -> None:
    for table, source in TABLES:
        op.create_table(
            table,
            sa.Column("id", BigId, nullable=False),
            *(sa.Column(c, sa.Integer(), nullable=False) for c in COLUMNS),
            sa.ForeignKeyConstraint(["id"], [f"{source}.id"], ondelete="CASCADE"),
            sa.PrimaryKeyConstraint("id"),
        )
    if op.get_bind().dialect.name == "sqlite":
        for table, _ in TABLES:
            for c in COLUMNS:
                op.create_index(f"ix_{table}_{c}", table, [c])
        return
    # PL/pgSQL, not SQL: a SQL function that cannot be inlined costs a plan a row.
    op.execute(
        "CREATE FUNCTION takedown_pdq_chunks(pdq text) RETURNS int[] LANGUAGE plpgsql "
        "IMMUTABLE STRICT PARALLEL SAFE AS $$ DECLARE b bit(256) := ('x' || pdq)::bit(256); "
        f"BEGIN RETURN ARRAY[{_chunk_values()}]; END $$"
    )
    for table, source in TABLES:
        for statement in _follow(table, source):
            op.execute(statement)
        # Indexed after the backfill: one sort per column instead of a row at a time.
        for c in COLUMNS:
            op.create_index(f"ix_{table}_{c}", table, [c])
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        for table, source in TABLES:
            op.execute(f"DROP TRIGGER {table}_new ON {source}")
            op.execute(f"DROP TRIGGER {table}_changed ON {source}")
            op.execute(f"DROP FUNCTION takedown_{table}()")
        op.execute("DROP FUNCTION takedown_pdq_chunks(text)")
    for table, _ in TABLES:
        op.drop_table(table)
