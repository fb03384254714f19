"""Indexes for searching every case (``ReviewRepository.search``): closed case items by
content id, case items by account and by PDQ hash, reports by police case number and by
content URL (its first 512 characters). Each holds only the rows with a value, so report
intake, whose reports mostly carry none of these, writes little more.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_SET = (  # (index, table, column): rows with a value only
    ("ix_case_items_account_id", "case_items", "account_id"),
    ("ix_case_items_pdq", "case_items", "pdq"),
    ("ix_reports_police_case_number", "reports", "police_case_number"),
)


def upgrade() -> None:
    closed = sa.text("NOT open")
    op.create_index(
        "ix_case_items_closed_content", "case_items", ["content_id"],
        sqlite_where=closed, postgresql_where=closed,
    )  # fmt: skip
    for name, table, column in _SET:
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(name, table, [column], sqlite_where=where, postgresql_where=where)
    url = sa.text("content_url IS NOT NULL")
    op.create_index(
        "ix_reports_content_url", "reports", [sa.text("substr(content_url, 1, 512)")],
        sqlite_where=url, postgresql_where=url,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_reports_content_url", table_name="reports")
    for name, table, _ in _SET:
        op.drop_index(name, table_name=table)
    op.drop_index("ix_case_items_closed_content", table_name="case_items")
