"""The queue's partial indexes with their condition as equalities joined by OR instead of an
``IN`` list (``models.status_among``): SQLite built the list into a temporary B-tree for each
insert of a case, which cost more than the insert. Same rows, same columns.

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_DUE = ("open", "pending_second_review", "appealed")
_HELD = ("on_hold", "pending_second_review", "appealed")
_COLUMNS = {
    "ix_cases_due": ["respond_by", "priority", "status", "minor_safety", "category"],
    "ix_cases_held": ["status", "minor_safety", "respond_by"],
}


def _or(statuses: tuple[str, ...]) -> str:
    return "(" + " OR ".join(f"status = '{s}'" for s in statuses) + ")"


def _in(statuses: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")"


def _recreate(condition: dict[str, str]) -> None:
    for name, columns in _COLUMNS.items():
        op.drop_index(name, table_name="cases")
        where = sa.text(condition[name])
        op.create_index(name, "cases", columns, sqlite_where=where, postgresql_where=where)


def upgrade() -> None:
    _recreate({"ix_cases_due": _or(_DUE), "ix_cases_held": _or(_HELD)})


def downgrade() -> None:
    _recreate({"ix_cases_due": _in(_DUE), "ix_cases_held": _in(_HELD)})
