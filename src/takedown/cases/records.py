"""Plain values the store hands out for reports, cases and messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from takedown.cases.model import (
    CaseFacts,
    CaseStatus,
    Category,
    Priority,
    ReporterRole,
    ReportSource,
    case_number,
)


# Made for every report: slotted and not frozen, for speed; still treated as a value, never
# changed (docs/developing.md, "Domain").
@dataclass(slots=True)
class Case:
    id: int
    status: CaseStatus
    priority: Priority
    reasons: list[dict[str, Any]]
    facts: CaseFacts
    respond_by: datetime
    remove_by: datetime | None
    opened_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None

    @property
    def number(self) -> str:
        return case_number(self.id)


@dataclass(frozen=True)
class Report:
    id: int
    case_id: int
    content_id: str
    content_url: str | None
    category: Category
    reporter_role: ReporterRole
    depicted_minor: bool | None
    police_agency: str | None
    police_case_number: str | None
    contact_name: str | None
    contact_email: str | None
    signature: str | None
    good_faith_statement: bool
    description: str
    valid_request: bool | None
    source: ReportSource
    principal_kind: str
    principal_name: str
    received_at: datetime


@dataclass(frozen=True)
class CaseMessage:
    id: int
    case_id: int
    report_id: int | None
    author: str
    kind: str
    body: str
    at: datetime


@dataclass(frozen=True)
class CaseItem:
    case_id: int
    content_id: str
    root_content_id: str
    account_id: str | None
    pdq: str | None
    md5: str | None
    sha256: str | None
