"""Plain values the store hands out for reports, case items, messages and the queue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from takedown.cases.model import (
    CaseStatus,
    Category,
    Priority,
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
    reporter_reference: str | None
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


@dataclass(frozen=True)
class QueueEntry:
    """A row of the review queue: a case waiting for a person, in deadline order."""

    case_id: int
    status: CaseStatus
    priority: Priority
    category: Category
    respond_by: datetime
    remove_by: datetime | None
    minor_safety: bool
    content_ids: tuple[str, ...]
    claimed_by: str | None  # who holds an unexpired claim
    escalated_to: str | None

    @property
    def state(self) -> str:
        """The state a client reads: ``in_review`` for an open case someone holds."""
        return readable_state(self.status, claimed=self.claimed_by is not None)

    def overdue(self, now: datetime) -> bool:
        """Past its time to respond (which is never after its time to remove)."""
        return self.respond_by <= now


def readable_state(status: CaseStatus, *, claimed: bool) -> str:
    """A case's state as clients read it: its status, or ``in_review`` while someone holds an
    open case."""
    return "in_review" if claimed and status is CaseStatus.open else str(status)


@dataclass(frozen=True)
class QueueFilter:
    """What a reviewer narrows the queue to (None: any)."""

    category: Category | None = None
    priority: Priority | None = None
    status: CaseStatus | None = None  # open, pending_second_review or appealed
    overdue: bool = False
    escalated: bool = False


@dataclass(frozen=True)
class CaseSearch:
    """What a search over every case, open or closed, asks for (None: any). ``text`` is one
    value matched against each key a case is found by: its number or id, a content id, an
    account id, a content URL, a media hash, a police case number, a reporter's own
    reference."""

    text: str | None = None
    category: Category | None = None
    priority: Priority | None = None
    status: CaseStatus | None = None
    decided_by: str | None = None
    opened_from: datetime | None = None
    opened_before: datetime | None = None
    overdue: bool = False


@dataclass(frozen=True)
class QaSample:
    id: int
    case_id: int
    decided_by: str
    category: str
    outcome: str
    sampled_at: datetime
    reviewer: str | None
    agrees: bool | None
    reviewed_at: datetime | None


@dataclass(frozen=True)
class CaseLink:
    """Another case, seen from one case's page: ``related`` (a reviewer linked them),
    ``merged_into`` (this case was merged into that one) or ``merged_from`` (that one was
    merged into this)."""

    case_id: int  # the other case
    kind: str
    note: str
    created_by: str
    created_at: datetime
