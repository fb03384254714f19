"""Rows for store-level tests of cases."""

from __future__ import annotations

from datetime import UTC, datetime

from takedown.cases import Case, CaseFacts, CaseStatus, Priority
from takedown.store import SqlAlchemyUnitOfWork

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def new_case(uow: SqlAlchemyUnitOfWork) -> int:
    """An open P2 case with no reports, written through the repository as intake does."""
    case = empty_case(uow.cases.new_id())
    uow.cases.save(case, before=None)
    return case.id


def empty_case(case_id: int) -> Case:
    """An open P2 case that has heard nothing."""
    return Case(
        id=case_id,
        status=CaseStatus.open,
        priority=Priority.p2,
        reasons=[],
        facts=CaseFacts(),
        respond_by=NOW,
        remove_by=None,
        opened_at=NOW,
        updated_at=NOW,
        confirmed_at=None,
    )
