"""case reviews: the review state of a case in a table of its own; case statuses up to 32
characters (``pending_second_review``)

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from takedown.store.types import BigId, JSONType, UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite does not hold text to a declared length, and rebuilding ``cases`` (what a batch
    # alter does there) would have to drop a table other rows refer to: PostgreSQL only.
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "cases", "status", existing_type=sa.String(length=16), type_=sa.String(length=32)
        )
    op.create_table(
        "case_reviews",
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("claim_user_id", sa.BigInteger(), nullable=True),
        sa.Column("claim_name", sa.String(length=256), nullable=True),
        sa.Column("claim_until", UTCDateTime(), nullable=True),
        sa.Column("proposal", JSONType, nullable=True),
        sa.Column("first_look_at", UTCDateTime(), nullable=True),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.Column("decided_by", sa.String(length=256), nullable=True),
        sa.Column("second_by", sa.String(length=256), nullable=True),
        sa.Column("appeal_of", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("case_id"),
    )


def downgrade() -> None:
    op.drop_table("case_reviews")
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column(
            "cases", "status", existing_type=sa.String(length=32), type_=sa.String(length=16)
        )
