"""exchanges: hash exchanges a bank is kept in step with, the provenance of the entries they
give, and the feedback owed to them; the frames of vPDQ entries; each entry's recent uploads
and its quarantine (the flood guard); bank entries lose the (signal_type, value) index no
query used (every lookup names the bank, which the unique constraint serves), so a sync of a
million hashes maintains one index of their values, not two

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from takedown.store.types import BigId, JSONType, UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchanges",
        sa.Column("id", BigId, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("bank_id", BigId, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("credentials", sa.LargeBinary(), nullable=True),
        sa.Column("credentials_wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("credentials_key", sa.String(length=16), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("checkpoint", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_fetch_at", UTCDateTime(), nullable=True),
        sa.Column("last_success_at", UTCDateTime(), nullable=True),
        sa.Column("next_run_at", UTCDateTime(), nullable=True),
        sa.Column("leased_until", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("fetched", sa.BigInteger(), nullable=False),
        sa.Column("added", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn", sa.BigInteger(), nullable=False),
        sa.Column("errors", JSONType, nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "exchange_feedback",
        sa.Column("id", BigId, nullable=False),
        sa.Column("exchange_id", BigId, nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["exchange_id"], ["exchanges.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "exchange_id", "entry_id", "case_id", "verdict", name="uq_exchange_feedback"
        ),
    )
    op.create_index("ix_exchange_feedback_due", "exchange_feedback", ["state", "next_attempt_at"])
    with op.batch_alter_table("bank_entries") as batch:
        batch.add_column(sa.Column("exchange_id", BigId, nullable=True))
        batch.add_column(sa.Column("external_id", sa.String(length=256), nullable=True))
        batch.add_column(sa.Column("tags", sa.Text(), nullable=True))
        batch.add_column(sa.Column("withdrawn_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("quarantined_at", UTCDateTime(), nullable=True))
        batch.create_foreign_key(
            "fk_bank_entries_exchange_id_exchanges",
            "exchanges",
            ["exchange_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.drop_index("ix_bank_entries_signal", table_name="bank_entries")
    op.create_table(
        "bank_entry_hits",
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("content_id", sa.String(length=256), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id", "content_id"),
    )
    op.create_table(
        "bank_entry_frames",
        sa.Column("entry_id", BigId, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("pdq", sa.String(length=64), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["bank_entries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("entry_id", "position"),
    )
    op.create_index(
        "ix_bank_entries_exchange",
        "bank_entries",
        ["exchange_id"],
        sqlite_where=sa.text("exchange_id IS NOT NULL"),
        postgresql_where=sa.text("exchange_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_table("bank_entry_frames")
    op.drop_table("bank_entry_hits")
    op.drop_index("ix_bank_entries_exchange", table_name="bank_entries")
    op.create_index("ix_bank_entries_signal", "bank_entries", ["signal_type", "value"])
    with op.batch_alter_table("bank_entries") as batch:
        batch.drop_constraint("fk_bank_entries_exchange_id_exchanges", type_="foreignkey")
        batch.drop_column("quarantined_at")
        batch.drop_column("withdrawn_at")
        batch.drop_column("tags")
        batch.drop_column("external_id")
        batch.drop_column("exchange_id")
    op.drop_index("ix_exchange_feedback_due", table_name="exchange_feedback")
    op.drop_table("exchange_feedback")
    op.drop_table("exchanges")
