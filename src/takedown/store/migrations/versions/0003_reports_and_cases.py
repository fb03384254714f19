"""reports, cases, case items and messages, content stats, instance secrets

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

from takedown.store.types import BigId, JSONType, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", BigId, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=4), nullable=False),
        sa.Column("reasons", JSONType, nullable=False),
        sa.Column("facts", JSONType, nullable=False),
        sa.Column("respond_by", UTCDateTime(), nullable=False),
        sa.Column("remove_by", UTCDateTime(), nullable=True),
        sa.Column("opened_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_queue", ["status", "priority", "respond_by"], unique=False)

    op.create_table(
        "content_stats",
        sa.Column("content_id", sa.String(length=256), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=False),
        sa.Column("reposts", sa.BigInteger(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("previous_views", sa.BigInteger(), nullable=True),
        sa.Column("previous_reposts", sa.BigInteger(), nullable=True),
        sa.Column("previous_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("content_id"),
    )
    op.create_table(
        "instance_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    # Status links are derived from this key (HMAC of the report id), so a repeated request
    # with the same idempotency key can answer with the same link without storing it.
    op.bulk_insert(
        sa.table("instance_secrets", sa.column("name"), sa.column("value")),
        [{"name": "status_link_key", "value": secrets.token_hex(32)}],
    )
    op.create_table(
        "case_items",
        sa.Column("id", BigId, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("content_id", sa.String(length=256), nullable=False),
        sa.Column("root_content_id", sa.String(length=256), nullable=False),
        sa.Column("account_id", sa.String(length=256), nullable=True),
        sa.Column("pdq", sa.String(length=64), nullable=True),
        sa.Column("md5", sa.String(length=32), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("added_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_items_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_case_items_md5", ["md5"], unique=False)
        batch_op.create_index("ix_case_items_root", ["root_content_id", "open"], unique=False)
        batch_op.create_index("ix_case_items_sha256", ["sha256"], unique=False)
        batch_op.create_index(
            "uq_case_items_open_content",
            ["content_id"],
            unique=True,
            sqlite_where=sa.text("open"),
            postgresql_where=sa.text("open"),
        )

    op.create_table(
        "reports",
        sa.Column("id", BigId, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("content_id", sa.String(length=256), nullable=False),
        sa.Column("content_url", sa.String(length=2048), nullable=True),
        sa.Column("category", sa.String(length=16), nullable=False),
        sa.Column("reporter_role", sa.String(length=32), nullable=False),
        sa.Column("depicted_minor", sa.Boolean(), nullable=True),
        sa.Column("police_agency", sa.String(length=256), nullable=True),
        sa.Column("police_case_number", sa.String(length=128), nullable=True),
        sa.Column("contact_name", sa.String(length=256), nullable=True),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.Column("signature", sa.String(length=256), nullable=True),
        sa.Column("good_faith_statement", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("valid_request", sa.Boolean(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("principal_kind", sa.String(length=32), nullable=False),
        sa.Column("principal_id", sa.BigInteger(), nullable=True),
        sa.Column("principal_name", sa.String(length=128), nullable=False),
        sa.Column("submitter", sa.String(length=64), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.Column("reporter_key", sa.String(length=64), nullable=True),
        sa.Column("status_digest", sa.String(length=64), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("status_digest"),
        sa.UniqueConstraint("submitter", "idempotency_key", name="uq_reports_idempotency"),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reports_case_id"), ["case_id"], unique=False)
        batch_op.create_index("ix_reports_case_reporter", ["case_id", "reporter_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_reports_content_id"), ["content_id"], unique=False)

    op.create_table(
        "case_messages",
        sa.Column("id", BigId, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("report_id", BigId, nullable=True),
        sa.Column("author", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("case_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_messages_case_id"), ["case_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_messages_report_id"), ["report_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_messages_report_id"))
        batch_op.drop_index(batch_op.f("ix_case_messages_case_id"))

    op.drop_table("case_messages")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reports_content_id"))
        batch_op.drop_index("ix_reports_case_reporter")
        batch_op.drop_index(batch_op.f("ix_reports_case_id"))

    op.drop_table("reports")
    with op.batch_alter_table("case_items", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_case_items_open_content",
            sqlite_where=sa.text("open"),
            postgresql_where=sa.text("open"),
        )
        batch_op.drop_index("ix_case_items_sha256")
        batch_op.drop_index("ix_case_items_root")
        batch_op.drop_index("ix_case_items_md5")
        batch_op.drop_index(batch_op.f("ix_case_items_case_id"))

    op.drop_table("case_items")
    op.drop_table("instance_secrets")
    op.drop_table("content_stats")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_queue")

    op.drop_table("cases")
