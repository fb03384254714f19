"""Plain values the store hands out for reports, case items and messages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from takedown.cases.model import (
    Category,
    ReporterRole,
    ReportSource,
)


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
