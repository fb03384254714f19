"""review: the queue's columns and index on cases, the child-safety grant on users, holds on
case reviews, the last closed case on content, and the tables of media reveals and quality
samples

``cases.category`` (the most severe category any report gave) and ``cases.minor_safety``
(a report said CSAM, or that the person shown is a minor) are filled from each case's facts.
The queue's index holds only the cases waiting for a person (``QUEUE_STATUSES``), in deadline
order, and replaces the one on (status, priority, respond_by), so intake writes no more index
entries than before.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from takedown.store.types import BigId, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_QUEUE = "status IN ('open', 'pending_second_review', 'appealed')"
_SEVERITY = ("csam", "ncii", "other_illegal", "policy")


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column("child_safety", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("users", sa.Column("daily_reveal_cap", sa.Integer(), nullable=True))
    op.add_column("users", sa.Column("blur_radius", sa.Integer(), nullable=True))
    op.add_column(
        "users",
        sa.Column("always_grayscale", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "users",
        sa.Column("always_warn", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "cases",
        sa.Column("category", sa.String(length=16), nullable=False, server_default="policy"),
    )
    op.add_column(
        "cases",
        sa.Column("minor_safety", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("case_reviews", sa.Column("held_from", sa.String(length=32), nullable=True))
    op.add_column("case_reviews", sa.Column("hold_reason", sa.Text(), nullable=True))
    op.add_column("case_reviews", sa.Column("escalated_to", sa.String(length=32), nullable=True))
    op.add_column("content", sa.Column("closed_case_id", sa.BigInteger(), nullable=True))
    bind = op.get_bind()
    cases = sa.table(
        "cases",
        sa.column("id", BigId),
        sa.column("facts", sa.Text()),
        sa.column("category", sa.String()),
        sa.column("minor_safety", sa.Boolean()),
    )
    rows = bind.execute(sa.text("SELECT id, facts FROM cases")).all()
    for case_id, facts in rows:
        data = json.loads(facts) if isinstance(facts, str) else (facts or {})
        categories = set(data.get("categories") or ())
        category = next((c for c in _SEVERITY if c in categories), "policy")
        minor = "csam" in categories or bool(data.get("depicted_minor"))
        bind.execute(
            cases.update()
            .where(cases.c.id == case_id)
            .values(category=category, minor_safety=minor)
        )
    op.drop_index("ix_cases_queue", table_name="cases")
    op.create_index(
        "ix_cases_due",
        "cases",
        ["respond_by", "priority", "status", "minor_safety", "category"],
        sqlite_where=sa.text(_QUEUE),
        postgresql_where=sa.text(_QUEUE),
    )
    op.create_index(
        "ix_cases_held",
        "cases",
        ["status", "minor_safety", "respond_by"],
        sqlite_where=sa.text("status IN ('on_hold', 'pending_second_review', 'appealed')"),
        postgresql_where=sa.text("status IN ('on_hold', 'pending_second_review', 'appealed')"),
    )
    op.create_table(
        "media_reveals",
        sa.Column("id", BigId, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("content_id", sa.String(length=256), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_media_reveals_user_at", "media_reveals", ["user_id", "at"])
    op.create_table(
        "qa_samples",
        sa.Column("id", BigId, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("decided_by", sa.String(length=256), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("sampled_at", UTCDateTime(), nullable=False),
        sa.Column("reviewer", sa.String(length=256), nullable=True),
        sa.Column("agrees", sa.Boolean(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_qa_samples_open", "qa_samples", ["reviewed_at", "id"])


def downgrade() -> None:
    op.drop_table("qa_samples")
    op.drop_table("media_reveals")
    op.drop_index("ix_cases_held", table_name="cases")
    op.drop_index("ix_cases_due", table_name="cases")
    op.create_index("ix_cases_queue", "cases", ["status", "priority", "respond_by"])
    with op.batch_alter_table("content") as batch:
        batch.drop_column("closed_case_id")
    with op.batch_alter_table("case_reviews") as batch:
        batch.drop_column("escalated_to")
        batch.drop_column("hold_reason")
        batch.drop_column("held_from")
    with op.batch_alter_table("cases") as batch:
        batch.drop_column("minor_safety")
        batch.drop_column("category")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("always_warn")
        batch.drop_column("always_grayscale")
        batch.drop_column("blur_radius")
        batch.drop_column("daily_reveal_cap")
        batch.drop_column("child_safety")
