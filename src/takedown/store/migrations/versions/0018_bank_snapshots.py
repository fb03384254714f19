"""bank_snapshots, bank_snapshot_parts: the bank indexes' arrays at a matching version, so a
process starts from them plus the changes logged since instead of reading every entry. The
parts are stored uncompressed on PostgreSQL (hashes do not compress; trying costs the load).

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from takedown.store.types import BigId, JSONType, UTCDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bank_snapshots",
        sa.Column("id", BigId, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("entries", sa.BigInteger(), nullable=False),
        sa.Column("arrays", JSONType, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "bank_snapshot_parts",
        sa.Column("snapshot_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["snapshot_id"], ["bank_snapshots.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("snapshot_id", "name", "part"),
    )
    if op.get_bind().dialect.name != "sqlite":
        op.execute("ALTER TABLE bank_snapshot_parts ALTER COLUMN data SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("bank_snapshot_parts")
    op.drop_table("bank_snapshots")
