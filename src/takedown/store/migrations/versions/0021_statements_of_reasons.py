"""Statements of reasons (``cases.reasons``): one per restricting action, with the state of its
submission to the Transparency Database (``services.transparency_db``); its fields, in the
database's form, in a template the copies of one decision alike share (``puid`` apart), so a
takedown of 100,000 copies writes one document, not 100,000.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from takedown.store.types import BigId, JSONType, UTCDateTime

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

_PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    op.create_table(
        "statement_templates",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("fields", JSONType, nullable=False),
    )
    op.create_table(
        "statements_of_reasons",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("puid", sa.String(length=64), nullable=False, unique=True),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("restriction", sa.String(length=32), nullable=False),
        sa.Column("template_id", BigId, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
    )
    op.create_index("ix_statements_of_reasons_case_id", "statements_of_reasons", ["case_id"])
    op.create_index("ix_statements_of_reasons_created_at", "statements_of_reasons", ["created_at"])
    op.create_index(
        "ix_statements_of_reasons_due", "statements_of_reasons", ["next_attempt_at", "id"],
        sqlite_where=_PENDING, postgresql_where=_PENDING,
    )  # fmt: skip


def downgrade() -> None:
    op.drop_table("statements_of_reasons")
    op.drop_table("statement_templates")
