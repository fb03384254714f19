"""login_devices: browsers that have logged in to an account, which the account-wide
lock-out does not shut out

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from takedown.store.types import BigId, UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_devices",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("user_id", BigId, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_used_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("digest"),
    )
    op.create_index("ix_login_devices_user_id", "login_devices", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_login_devices_user_id", table_name="login_devices")
    op.drop_table("login_devices")
