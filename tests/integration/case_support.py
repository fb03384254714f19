"""Rows for store-level tests of cases."""

from __future__ import annotations

from datetime import UTC, datetime

from takedown.store import SqlAlchemyUnitOfWork

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def new_case(uow: SqlAlchemyUnitOfWork) -> int:
    """An open P2 case with no reports, written through the repository as intake does."""
    return uow.cases.add(
        status="open",
        priority="P2",
        reasons=[],
        facts={},
        respond_by=NOW,
        opened_at=NOW,
        updated_at=NOW,
    )
