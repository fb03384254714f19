"""case_reviews.appeal_heard: a decision made on appeal is final (one appeal per decision)

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_reviews") as batch:
        batch.add_column(
            sa.Column("appeal_heard", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("case_reviews") as batch:
        batch.drop_column("appeal_heard")
