"""decisions: a table of their own, with the decision messages moved into it

Until now a decision was a ``case_messages`` row of kind ``decision`` (the automatic
confirmation of a bank match, its text the statement of reasons). Each becomes a
``decisions`` row: a violation of category ``csam``, made by the ``matcher``, automated.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from takedown.store.types import BigId, JSONType, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_PREFIX = "Confirmed automatically: the content "


def _reason(statement: str) -> str:
    """The short reason inside an automatic confirmation's text ("matched the known-CSAM
    hash bank ..."), or the whole text."""
    if statement.startswith(_PREFIX) and ". " in statement:
        return statement[len(_PREFIX) :].split(". ", 1)[0]
    return statement


def upgrade() -> None:
    decisions = op.create_table(
        "decisions",
        sa.Column("id", BigId, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.String(length=256), nullable=False),
        sa.Column("automated", sa.Boolean(), nullable=False),
        sa.Column("grounds", JSONType, nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_decisions_case_id"), ["case_id"], unique=False)
    bind = op.get_bind()
    messages = sa.table(
        "case_messages",
        sa.column("id", BigId),
        sa.column("case_id", BigId),
        sa.column("body", sa.Text()),
        sa.column("kind", sa.String()),
        sa.column("at", UTCDateTime()),
    )
    rows = bind.execute(
        sa.select(messages.c.case_id, messages.c.body, messages.c.at)
        .where(messages.c.kind == "decision")
        .order_by(messages.c.id)
    ).all()
    if rows:
        op.bulk_insert(
            decisions,
            [
                {
                    "case_id": case_id,
                    "outcome": "violation",
                    "category": "csam",
                    "reason": _reason(body),
                    "statement": body,
                    "decided_by": "matcher",
                    "automated": True,
                    "grounds": [],
                    "decided_at": at,
                }
                for case_id, body, at in rows
            ],
        )
    bind.execute(sa.delete(messages).where(messages.c.kind == "decision"))


def downgrade() -> None:
    bind = op.get_bind()
    decisions = sa.table(
        "decisions",
        sa.column("case_id", BigId),
        sa.column("statement", sa.Text()),
        sa.column("decided_at", UTCDateTime()),
        sa.column("id", BigId),
    )
    rows = bind.execute(
        sa.select(decisions.c.case_id, decisions.c.statement, decisions.c.decided_at).order_by(
            decisions.c.id
        )
    ).all()
    if rows:
        messages = sa.table(
            "case_messages",
            sa.column("case_id", BigId),
            sa.column("report_id", BigId),
            sa.column("author", sa.String()),
            sa.column("kind", sa.String()),
            sa.column("body", sa.Text()),
            sa.column("at", UTCDateTime()),
        )
        op.bulk_insert(
            messages,
            [
                {
                    "case_id": case_id,
                    "report_id": None,
                    "author": "system",
                    "kind": "decision",
                    "body": statement,
                    "at": at,
                }
                for case_id, statement, at in rows
            ],
        )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_decisions_case_id"))
    op.drop_table("decisions")
