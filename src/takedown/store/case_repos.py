"""Repositories for reports, cases, their items and messages, and content stats.

Intake runs on the group-commit writer at thousands of reports a second, so the write paths
here are single Core statements (``INSERT … RETURNING``, ``UPDATE … WHERE id``), not ORM
object graphs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from takedown.cases import CaseFacts, CaseStatus, Category, Priority, ReporterRole, ReportSource
from takedown.cases.records import Case, CaseItem, CaseMessage, Report
from takedown.store.models import (
    CaseItemRow,
    CaseMessageRow,
    CaseRow,
    ContentStatsRow,
    InstanceSecretRow,
    ReportRow,
)
from takedown.store.repositories import _value


def _case(row: CaseRow) -> Case:
    return _value(
        Case,
        row,
        status=CaseStatus(row.status),
        priority=Priority(row.priority),
        facts=CaseFacts.from_json(row.facts),
    )


def _report(row: ReportRow) -> Report:
    return _value(
        Report,
        row,
        category=Category(row.category),
        reporter_role=ReporterRole(row.reporter_role),
        source=ReportSource(row.source),
    )


class ReportRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, **values: Any) -> int:
        return int(
            self._s.execute(insert(ReportRow).values(**values).returning(ReportRow.id)).scalar_one()
        )

    def get(self, report_id: int) -> Report | None:
        row = self._s.get(ReportRow, report_id)
        return _report(row) if row else None

    def by_idempotency_key(self, submitter: str, key: str) -> Report | None:
        row = self._s.scalar(
            select(ReportRow).where(
                ReportRow.submitter == submitter, ReportRow.idempotency_key == key
            )
        )
        return _report(row) if row else None

    def by_status_digest(self, digest: str) -> Report | None:
        row = self._s.scalar(select(ReportRow).where(ReportRow.status_digest == digest))
        return _report(row) if row else None

    def reporter_seen(self, case_id: int, reporter_key: str) -> bool:
        found = self._s.scalar(
            select(ReportRow.id)
            .where(ReportRow.case_id == case_id, ReportRow.reporter_key == reporter_key)
            .limit(1)
        )
        return found is not None

    def for_case(self, case_id: int) -> list[Report]:
        rows = self._s.scalars(
            select(ReportRow).where(ReportRow.case_id == case_id).order_by(ReportRow.id)
        )
        return [_report(r) for r in rows]

    def count(self) -> int:
        return int(self._s.scalar(select(func.count(ReportRow.id))) or 0)


class CaseRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, **values: Any) -> int:
        return int(
            self._s.execute(insert(CaseRow).values(**values).returning(CaseRow.id)).scalar_one()
        )

    def get(self, case_id: int) -> Case | None:
        row = self._s.get(CaseRow, case_id, populate_existing=True)
        return _case(row) if row else None

    def update(self, case_id: int, **values: Any) -> None:
        self._s.execute(update(CaseRow).where(CaseRow.id == case_id).values(**values))

    def open_case_for(
        self,
        *,
        content_id: str,
        root_content_id: str,
        md5: str | None = None,
        sha256: str | None = None,
    ) -> int | None:
        """The oldest open case about this content, its family (same root) or an exact copy."""
        same = [
            CaseItemRow.content_id == content_id,
            CaseItemRow.root_content_id == root_content_id,
        ]
        if md5:
            same.append(CaseItemRow.md5 == md5)
        if sha256:
            same.append(CaseItemRow.sha256 == sha256)
        found = self._s.scalar(
            select(func.min(CaseItemRow.case_id)).where(and_(CaseItemRow.open, or_(*same)))
        )
        return int(found) if found is not None else None

    def open_pdq_items(self) -> list[tuple[int, str]]:
        """(case id, PDQ) of every open case's items that have one."""
        rows = self._s.execute(
            select(CaseItemRow.case_id, CaseItemRow.pdq).where(
                CaseItemRow.open, CaseItemRow.pdq.is_not(None)
            )
        )
        return [(int(case_id), str(pdq)) for case_id, pdq in rows]

    def has_item(self, case_id: int, content_id: str) -> bool:
        found = self._s.scalar(
            select(CaseItemRow.id).where(
                CaseItemRow.case_id == case_id, CaseItemRow.content_id == content_id
            )
        )
        return found is not None

    def add_item(self, **values: Any) -> None:
        self._s.execute(insert(CaseItemRow).values(**values))

    def items(self, case_id: int) -> list[CaseItem]:
        rows = self._s.scalars(
            select(CaseItemRow).where(CaseItemRow.case_id == case_id).order_by(CaseItemRow.id)
        )
        return [_value(CaseItem, r) for r in rows]

    def set_items_open(self, case_id: int, open_: bool) -> None:
        self._s.execute(
            update(CaseItemRow).where(CaseItemRow.case_id == case_id).values(open=open_)
        )

    def prior_removals(self, account_id: str, *, excluding_case: int | None = None) -> int:
        """How many confirmed cases hold content of this account (other than ``excluding``)."""
        query = (
            select(func.count(func.distinct(CaseItemRow.case_id)))
            .join(CaseRow, CaseRow.id == CaseItemRow.case_id)
            .where(
                CaseItemRow.account_id == account_id,
                CaseRow.status == CaseStatus.confirmed.value,
            )
        )
        if excluding_case is not None:
            query = query.where(CaseItemRow.case_id != excluding_case)
        return int(self._s.scalar(query) or 0)

    def case_ids_for_content(self, content_id: str) -> list[int]:
        rows = self._s.scalars(
            select(CaseItemRow.case_id).where(
                CaseItemRow.content_id == content_id, CaseItemRow.open
            )
        )
        return [int(r) for r in rows]


class CaseMessageRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, **values: Any) -> int:
        statement = insert(CaseMessageRow).values(**values).returning(CaseMessageRow.id)
        return int(self._s.execute(statement).scalar_one())

    def for_report(self, case_id: int, report_id: int) -> list[CaseMessage]:
        """What one reporter sees: the case's decisions and their own thread."""
        rows = self._s.scalars(
            select(CaseMessageRow)
            .where(
                CaseMessageRow.case_id == case_id,
                or_(CaseMessageRow.report_id.is_(None), CaseMessageRow.report_id == report_id),
            )
            .order_by(CaseMessageRow.id)
        )
        return [_value(CaseMessage, r) for r in rows]

    def for_case(self, case_id: int) -> list[CaseMessage]:
        rows = self._s.scalars(
            select(CaseMessageRow)
            .where(CaseMessageRow.case_id == case_id)
            .order_by(CaseMessageRow.id)
        )
        return [_value(CaseMessage, r) for r in rows]


class ContentStatsRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def record(
        self, content_id: str, *, views: int, reposts: int, at: datetime
    ) -> tuple[int, int, datetime, int | None, int | None, datetime | None]:
        """Store a reading; returns (views, reposts, at) now and before."""
        row = self._s.get(ContentStatsRow, content_id, with_for_update=True)
        if row is None:
            row = ContentStatsRow(content_id=content_id, views=views, reposts=reposts, at=at)
            self._s.add(row)
        else:
            row.previous_views, row.previous_reposts, row.previous_at = (
                row.views,
                row.reposts,
                row.at,
            )
            row.views, row.reposts, row.at = views, reposts, at
        self._s.flush()
        return (
            row.views,
            row.reposts,
            row.at,
            row.previous_views,
            row.previous_reposts,
            row.previous_at,
        )


class InstanceSecretRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, name: str) -> str | None:
        return self._s.scalar(select(InstanceSecretRow.value).where(InstanceSecretRow.name == name))
