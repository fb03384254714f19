"""ncmec: one CyberTipline filing per case, its files, and a reviewer's classification

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from takedown.store.types import BigId, JSONType, UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("classification", sa.String(length=2), nullable=True))
    op.create_table(
        "ncmec_filings",
        sa.Column("id", BigId, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("tip", JSONType, nullable=False),
        sa.Column("document", sa.Text(), nullable=True),
        sa.Column("report_id", sa.BigInteger(), nullable=True),
        sa.Column("drafted_at", UTCDateTime(), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=True),
        sa.Column("submit_sent_at", UTCDateTime(), nullable=True),
        sa.Column("filed_at", UTCDateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=True),
        sa.Column("lease_until", UTCDateTime(), nullable=True),
        sa.Column("auto", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("case_id", name="uq_ncmec_filings_case"),
    )
    op.create_index(
        "ix_ncmec_filings_due",
        "ncmec_filings",
        ["next_attempt_at"],
        sqlite_where=sa.text("state = 'filing'"),
        postgresql_where=sa.text("state = 'filing'"),
    )
    op.create_table(
        "ncmec_files",
        sa.Column("id", BigId, nullable=False),
        sa.Column("filing_id", BigId, nullable=False),
        sa.Column("evidence_item_id", BigId, nullable=False),
        sa.Column("content_id", sa.String(length=256), nullable=True),
        sa.Column("details", JSONType, nullable=False),
        sa.Column("file_id", sa.String(length=255), nullable=True),
        sa.Column("uploaded_at", UTCDateTime(), nullable=True),
        sa.Column("described_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["filing_id"], ["ncmec_filings.id"]),
        sa.ForeignKeyConstraint(["evidence_item_id"], ["evidence_items.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("filing_id", "evidence_item_id", name="uq_ncmec_files_item"),
    )


def downgrade() -> None:
    op.drop_table("ncmec_files")
    op.drop_table("ncmec_filings")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_column("classification")
