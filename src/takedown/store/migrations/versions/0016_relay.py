"""relay: the distributed mode's bookkeeping. Each outbox event keeps the case it belongs to
(``ordering_key``: a case's events of one lane run one at a time, in order) and, once a relay
handed it to the broker, until when that hand-over stands (``relayed_until``; past it, an
event no worker finished is relayed again). A partial index over pending events serves the
relay's questions without costing intake, whose events are stored done. ``schedules``: each
periodic job's next run, claimed by one relay however many run. ``heartbeats``: each relay's
and worker's latest sign of life, with what it reports (its lag, its queues), for
``/readyz`` and the metrics of every web process. ``bank_changes``: the bank entries each
change touched, as id ranges under its matching version, so a process whose indexes are
behind applies what changed instead of reading every entry again; ``matching_state``'s
``pruned_version``: the newest version whose changes were pruned (a process behind it reads
every entry instead).

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from takedown.store.types import BigId, JSONType, UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("ordering_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("relayed_until", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("relayed_by", sa.String(length=64), nullable=True))
    op.create_index(
        "ix_outbox_pending_key",
        "outbox",
        ["ordering_key", "id"],
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "schedules",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("next_at", UTCDateTime(), nullable=False),
        sa.Column("last_run_at", UTCDateTime(), nullable=True),
        sa.Column("last_run_by", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "heartbeats",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.Column("details", JSONType, nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )

    op.create_table(
        "bank_changes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("first_id", sa.BigInteger(), nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_bank_changes_version", "bank_changes", ["version"])
    with op.batch_alter_table("matching_state") as batch:
        batch.add_column(
            sa.Column("pruned_version", sa.BigInteger(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("matching_state") as batch:
        batch.drop_column("pruned_version")
    op.drop_index("ix_bank_changes_version", table_name="bank_changes")
    op.drop_table("bank_changes")
    op.drop_table("heartbeats")
    op.drop_table("schedules")
    op.drop_index("ix_outbox_pending_key", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("relayed_by")
        batch.drop_column("relayed_until")
        batch.drop_column("ordering_key")
