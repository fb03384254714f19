"""leaner intake indexes: hash and parent indexes only where there is a value; no index on
reports.case_id alone

Every report registers the item it is about (``content``) and adds it to a case
(``case_items``), and most items reported are not ones the platform scanned, so they have no
hashes and no parent. Their indexes on those columns held an entry for every such row; now
they hold only the rows with a value, which is all a lookup by hash or by parent ever reads
(``col = value`` implies ``col IS NOT NULL``, so SQLite and PostgreSQL both use the partial
index for it). ``ix_reports_case_reporter`` (case_id, reporter_key) serves every lookup by
case_id, so ``ix_reports_case_id`` was a second copy of the same order.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# (table, index, column): each becomes partial, ``WHERE column IS NOT NULL``.
_PARTIAL = (
    ("content", "ix_content_md5", "md5"),
    ("content", "ix_content_sha256", "sha256"),
    ("content", "ix_content_parent_content_id", "parent_content_id"),
    ("case_items", "ix_case_items_md5", "md5"),
    ("case_items", "ix_case_items_sha256", "sha256"),
)


def upgrade() -> None:
    for table, name, column in _PARTIAL:
        op.drop_index(name, table_name=table)
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            name, table, [column], unique=False, sqlite_where=where, postgresql_where=where
        )
    op.drop_index("ix_reports_case_id", table_name="reports")


def downgrade() -> None:
    op.create_index("ix_reports_case_id", "reports", ["case_id"], unique=False)
    for table, name, column in _PARTIAL:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, [column], unique=False)
