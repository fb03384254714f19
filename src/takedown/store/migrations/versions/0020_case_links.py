"""Links between cases (``case_links``: related, or merged) and the reporter's own reference
for a report (``reports.reporter_reference``, e.g. a trusted flagger's ticket number), indexed
where set so a search by it reads an index.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from takedown.store.types import BigId, UTCDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_links",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("case_id", BigId, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("other_case_id", BigId, sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_by", sa.String(length=256), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("case_id", "other_case_id", name="uq_case_links_pair"),
    )
    op.create_index("ix_case_links_other_case_id", "case_links", ["other_case_id"])
    op.add_column("reports", sa.Column("reporter_reference", sa.String(length=128), nullable=True))
    where = sa.text("reporter_reference IS NOT NULL")
    op.create_index(
        "ix_reports_reporter_reference", "reports", ["reporter_reference"],
        sqlite_where=where, postgresql_where=where,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_reports_reporter_reference", table_name="reports")
    # Not in batch mode: SQLite drops a column itself, and a batch would rebuild the table
    # without the expression index it cannot reflect (``ix_reports_content_url``).
    op.drop_column("reports", "reporter_reference")
    op.drop_index("ix_case_links_other_case_id", table_name="case_links")
    op.drop_table("case_links")
