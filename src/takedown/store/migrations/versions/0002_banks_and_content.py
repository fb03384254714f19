"""banks, entries, content registry

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from takedown.store.types import BigId, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "banks",
        sa.Column("id", BigId, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("policy", sa.String(length=32), nullable=False),
        sa.Column("pdq_threshold", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "content",
        sa.Column("id", BigId, nullable=False),
        sa.Column("content_id", sa.String(length=256), nullable=False),
        sa.Column("account_id", sa.String(length=256), nullable=False),
        sa.Column("parent_content_id", sa.String(length=256), nullable=True),
        sa.Column("media_kind", sa.String(length=16), nullable=True),
        sa.Column("pdq", sa.String(length=64), nullable=True),
        sa.Column("pdq_quality", sa.Integer(), nullable=True),
        sa.Column("md5", sa.String(length=32), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("first_seen_at", UTCDateTime(), nullable=False),
        sa.Column("last_scanned_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("content_id"),
    )
    with op.batch_alter_table("content", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_content_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_content_md5"), ["md5"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_content_parent_content_id"), ["parent_content_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_content_sha256"), ["sha256"], unique=False)

    op.create_table(
        "matching_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # The row exists from the start, so every change bumps one row (and locks it).
    op.bulk_insert(
        sa.table("matching_state", sa.column("id"), sa.column("version")),
        [{"id": 1, "version": 0}],
    )
    op.create_table(
        "bank_entries",
        sa.Column("id", BigId, nullable=False),
        sa.Column("bank_id", BigId, nullable=False),
        sa.Column("signal_type", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.Column("disabled_until", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("bank_id", "signal_type", "value", name="uq_bank_entries_value"),
    )
    with op.batch_alter_table("bank_entries", schema=None) as batch_op:
        batch_op.create_index("ix_bank_entries_signal", ["signal_type", "value"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("bank_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_bank_entries_signal")

    op.drop_table("bank_entries")
    op.drop_table("matching_state")
    with op.batch_alter_table("content", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_sha256"))
        batch_op.drop_index(batch_op.f("ix_content_parent_content_id"))
        batch_op.drop_index(batch_op.f("ix_content_md5"))
        batch_op.drop_index(batch_op.f("ix_content_account_id"))

    op.drop_table("content")
    op.drop_table("banks")
