"""Transparency reports at a million cases: each case's clocks in one narrow row
(``case_clocks``, kept by ``store.clock_repos``), filled here from the events already stored;
and the indexes a report's counts read alone, in the order they are grouped (a case's reports
by case also give their source, so whether it has a notice is read from the index).

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from takedown.store.types import BigId, UTCDateTime

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

_CLOCKS = {"look_s": "", "decision_s": "", "removal_s": " AND removals_pending = 0",
           "filing_s": ""}  # fmt: skip


def _seconds(sqlite: bool, later: str) -> str:
    if sqlite:
        return f"CAST(round((julianday({later}) - julianday(c.opened_at)) * 86400.0) AS INTEGER)"
    return f"CAST(round(extract(epoch from ({later} - c.opened_at))) AS BIGINT)"


def upgrade() -> None:
    op.create_table(
        "case_clocks",
        sa.Column("case_id", BigId, sa.ForeignKey("cases.id"), primary_key=True),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("priority", sa.String(length=4), nullable=False),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("look_s", sa.BigInteger(), nullable=True),
        sa.Column("decision_s", sa.BigInteger(), nullable=True),
        sa.Column("removal_s", sa.BigInteger(), nullable=True),
        sa.Column("removals_pending", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("filing_s", sa.BigInteger(), nullable=True),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    s = _seconds
    # Statistics first (a database just restored has none), so that each case's first
    # decision is found by its index, not by reading every decision again.
    op.execute("ANALYZE")
    op.execute(
        "INSERT INTO case_clocks (case_id, opened_at, priority, category, look_s, "  # noqa: S608
        "decision_s, removal_s, removals_pending, filing_s) "
        "SELECT c.id, c.opened_at, c.priority, coalesce((SELECT x.category FROM decisions x "
        "WHERE x.case_id = c.id AND x.outcome IN ('violation', 'no_violation') "
        "ORDER BY x.decided_at, x.id LIMIT 1), c.category), "
        f"{s(sqlite, 'r.first_look_at')}, {s(sqlite, 'd.first')}, {s(sqlite, 'a.last')}, "
        f"coalesce(a.pending, 0), {s(sqlite, 'f.filed_at')} FROM cases c "
        "LEFT JOIN case_reviews r ON r.case_id = c.id "
        "LEFT JOIN (SELECT case_id, min(decided_at) AS first FROM decisions "
        "WHERE outcome IN ('violation', 'no_violation') GROUP BY case_id) d ON d.case_id = c.id "
        "LEFT JOIN (SELECT case_id, max(delivered_at) AS last, "
        "sum(CASE WHEN state <> 'delivered' THEN 1 ELSE 0 END) AS pending FROM actions "
        "WHERE type = 'remove' GROUP BY case_id) a ON a.case_id = c.id "
        "LEFT JOIN ncmec_filings f ON f.case_id = c.id "
        "WHERE c.status <> 'merged' AND (r.first_look_at IS NOT NULL OR d.first IS NOT NULL "
        "OR a.case_id IS NOT NULL OR f.filed_at IS NOT NULL)"
    )
    for column, where in _CLOCKS.items():
        condition = sa.text(f"{column} IS NOT NULL{where}")
        op.create_index(
            f"ix_case_clocks_{column.removesuffix('_s')}", "case_clocks",
            ["priority", column, "opened_at"],
            sqlite_where=condition, postgresql_where=condition,
        )  # fmt: skip
    decided = sa.text("decision_s IS NOT NULL")
    op.create_index("ix_case_clocks_category", "case_clocks",
                    ["category", "decision_s", "opened_at"], sqlite_where=decided,
                    postgresql_where=decided)  # fmt: skip
    ncii = sa.text("remove_by IS NOT NULL")
    op.create_index("ix_cases_ncii", "cases", ["opened_at"], sqlite_where=ncii,
                    postgresql_where=ncii)  # fmt: skip
    op.create_index("ix_reports_counts", "reports",
                    ["category", "source", "reporter_role", "received_at"])  # fmt: skip
    op.create_index("ix_actions_counts", "actions", ["type", "category", "created_at"])
    # Whether a case has a notice, from the index alone.
    op.drop_index("ix_reports_case_reporter", table_name="reports")
    op.create_index("ix_reports_case_reporter", "reports", ["case_id", "reporter_key", "source"])
    op.create_index("ix_decisions_counts", "decisions", ["outcome", "automated", "decided_at"])


def downgrade() -> None:
    op.drop_index("ix_reports_case_reporter", table_name="reports")
    op.create_index("ix_reports_case_reporter", "reports", ["case_id", "reporter_key"])
    for name, table in (("ix_decisions_counts", "decisions"), ("ix_actions_counts", "actions"),
                        ("ix_reports_counts", "reports"), ("ix_cases_ncii", "cases")):  # fmt: skip
        op.drop_index(name, table_name=table)
    op.drop_table("case_clocks")
