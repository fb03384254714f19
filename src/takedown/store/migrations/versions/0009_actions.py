"""actions: what enforcement asks the platform to do, each with a state, attempts and times;
and the frame hashes of registered videos (a violation's copies are found by them)

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from takedown.store.types import BigId, UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "actions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("action_id", sa.String(length=36), nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("content_id", sa.String(length=256), nullable=True),
        sa.Column("account_id", sa.String(length=256), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("action_id"),
    )
    op.create_index(
        "ix_actions_due",
        "actions",
        ["next_attempt_at", "id"],
        sqlite_where=sa.text("state = 'pending'"),
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.create_index("ix_actions_case_id", "actions", ["case_id"])
    op.create_table(
        "content_frames",
        sa.Column("id", BigId, nullable=False),
        sa.Column("content_id", sa.String(length=256), nullable=False),
        sa.Column("pdq", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_content_frames_content_id", "content_frames", ["content_id"])
    op.create_index(
        "ix_actions_failed",
        "actions",
        ["id"],
        sqlite_where=sa.text("state = 'failed'"),
        postgresql_where=sa.text("state = 'failed'"),
    )


def downgrade() -> None:
    op.drop_table("content_frames")
    op.drop_table("actions")
