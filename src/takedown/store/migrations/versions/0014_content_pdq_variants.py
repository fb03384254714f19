"""content.pdq_variants: a scanned image's PDQ hashes mirrored and rotated, so a confirmed
case finds the mirrored and rotated copies in the registry

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("content") as batch:
        batch.add_column(sa.Column("pdq_variants", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("content") as batch:
        batch.drop_column("pdq_variants")
