"""Review for platforms with their own tools (a staff member's personal token): the queue,
a case, claims, decisions; and uploaders' appeals posted by the platform. The rules are the
console's (``services.review``): a refusal is a 409 whose code names the rule."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import AwareDatetime, BaseModel, Field

from takedown.api.deps import read_uow, uow
from takedown.api.schemas import StrictModel
from takedown.cases import CaseStatus, Category, Decision, Outcome, Priority, case_number
from takedown.cases.records import CaseSearch, QueueEntry, QueueFilter
from takedown.identity import Permission
from takedown.server.container import container_of
from takedown.server.errors import ERROR_RESPONSES, ErrorResponse
from takedown.server.security import Access, principal_of
from takedown.services import filing, review
from takedown.store import UnitOfWork

router = APIRouter(prefix="/v1", tags=["review"], responses=ERROR_RESPONSES)
UoW = Annotated[UnitOfWork, Depends(uow)]
ReadUoW = Annotated[UnitOfWork, Depends(read_uow)]
CaseId = Annotated[int, Path(ge=1, le=2**62)]
READ = [Depends(Access(Permission.cases_read))]
REVIEW = [Depends(Access(Permission.cases_review))]


State = Literal[
    "open",
    "in_review",
    "pending_second_review",
    "on_hold",
    "confirmed",
    "closed",
    "appealed",
    "merged",
]


class QueueItem(BaseModel):
    case_id: int
    case_number: str
    state: State
    priority: Priority
    category: Category
    respond_by: datetime
    remove_by: datetime | None
    content_ids: list[str]
    overdue: bool
    claimed_by: str | None

    @classmethod
    def of(cls, entry: QueueEntry, now: datetime) -> QueueItem:
        return cls(
            case_id=entry.case_id,
            case_number=case_number(entry.case_id),
            state=entry.state,
            priority=entry.priority,
            category=entry.category,
            respond_by=entry.respond_by,
            remove_by=entry.remove_by,
            content_ids=list(entry.content_ids),
            overdue=entry.overdue(now),
            claimed_by=entry.claimed_by,
        )


class QueueRead(BaseModel):
    items: list[QueueItem]
    next: str | None = Field(description="Pass as `after` for the next page; null at the end.")
    counts: dict[str, int]


class SearchRead(BaseModel):
    items: list[QueueItem]
    next: str | None = Field(description="Pass as `after` for the next page; null at the end.")


class ReportRead(BaseModel):
    id: int
    category: Category
    reporter_role: str
    depicted_minor: bool | None
    police_agency: str | None
    police_case_number: str | None
    reference: str | None = Field(description="The reporter's own reference for the report.")
    description: str
    received_at: datetime
    contact_name: str | None = Field(description="Only for leads and compliance.")
    contact_email: str | None = Field(description="Only for leads and compliance.")


class DecisionRead(BaseModel):
    outcome: Outcome
    category: Category
    reason: str
    statement_of_reasons: str
    decided_by: str
    decided_at: datetime
    automated: bool


class ClaimRead(BaseModel):
    by: str
    until: datetime


class NcmecReportRead(BaseModel):
    state: Literal["drafted", "filing", "filed", "failed", "needs_attention", "withdrawn"]
    report_id: int | None = Field(description="NCMEC's report id, once /submit gave one.")
    drafted_at: datetime
    filed_at: datetime | None
    error: str | None = Field(description="Why it failed or needs attention.")


class CaseRead(BaseModel):
    case_id: int
    case_number: str
    state: State
    priority: Priority
    category: Category
    reasons: list[dict[str, object]]
    respond_by: datetime
    remove_by: datetime | None
    claim: ClaimRead | None
    proposal: DecisionRead | None
    reports: list[ReportRead]
    content_ids: list[str]
    decisions: list[DecisionRead]
    appeals: list[dict[str, object]]
    previous_case: str | None
    opened_at: datetime
    first_look_at: datetime | None = Field(description="When a reviewer first claimed it.")
    decided_at: datetime | None
    ncmec_report: NcmecReportRead | None = Field(
        description="The case's CyberTipline report: a confirmed CSAM case drafts one."
    )
    merged_into: str | None = Field(
        None, description="The case this one was merged into (state `merged`)."
    )


class DecisionCreate(StrictModel):
    outcome: Outcome
    category: Category | None = Field(None, description="Required for a violation.")
    reason: str = Field(min_length=1, max_length=2000)
    statement_of_reasons: str | None = Field(
        None,
        max_length=10000,
        description="What the reporters (and, for a violation, the uploader) read; omitted: "
        "the template for the outcome, with the reason in it.",
    )
    escalate_to: Literal["lead", "law_enforcement"] | None = None
    classification: Literal["A1", "A2", "B1", "B2"] | None = Field(
        None,
        description="A CSAM violation's industry classification (A prepubescent, B pubescent; "
        "1 a sex act, 2 a lascivious exhibition), filed with each file to NCMEC.",
    )


class AppealCreate(StrictModel):
    content_id: str = Field(min_length=1, max_length=256)
    appellant: Literal["uploader", "reporter"]
    text: str = Field(min_length=1, max_length=5000)


class AppealRead(BaseModel):
    case_id: int
    case_number: str
    state: CaseStatus


def _decision(d: Decision) -> DecisionRead:
    return DecisionRead(
        outcome=d.outcome,
        category=d.category,
        reason=d.reason,
        statement_of_reasons=d.statement,
        decided_by=d.decided_by,
        decided_at=d.decided_at,
        automated=d.automated,
    )


@router.get("/queue", dependencies=READ)
def read_queue(
    request: Request,
    uow: ReadUoW,
    category: Category | None = None,
    priority: Priority | None = None,
    state: Literal["open", "pending_second_review", "appealed"] | None = None,
    overdue: bool = False,
    escalated: bool = False,
    after: Annotated[str | None, Query(max_length=80)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> QueueRead:
    """The cases waiting for a person, deadline first, then priority; a page at a time.
    Cases about minors appear only for staff with the child-safety permission."""
    now = container_of(request).clock.now()
    page = review.queue(
        uow=uow,
        actor=principal_of(request),
        filters=QueueFilter(
            category=category,
            priority=priority,
            status=CaseStatus(state) if state else None,
            overdue=overdue,
            escalated=escalated,
        ),
        now=now,
        after=after,
        limit=limit,
    )
    return QueueRead(
        items=[QueueItem.of(e, now) for e in page.entries], next=page.next, counts=page.counts
    )


@router.get("/cases", dependencies=READ)
def search_cases(
    request: Request,
    uow: ReadUoW,
    q: Annotated[
        str | None,
        Query(
            max_length=review.MAX_SEARCH,
            description="A case number or id, content id, account id, content URL, MD5, "
            "SHA-256 or PDQ hash, police case number, or a reporter's own reference.",
        ),
    ] = None,
    state: CaseStatus | None = None,
    category: Category | None = None,
    priority: Priority | None = None,
    decided_by: Annotated[str | None, Query(max_length=256)] = None,
    opened_from: AwareDatetime | None = None,
    opened_before: AwareDatetime | None = None,
    overdue: bool = False,
    after: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> SearchRead:
    """Every case, open or closed, newest first, that the search finds; a page at a time.
    Cases about minors appear only for staff with the child-safety permission."""
    now = container_of(request).clock.now()
    page = review.search(
        uow=uow,
        actor=principal_of(request),
        query=CaseSearch(
            text=q,
            category=category,
            priority=priority,
            status=state,
            decided_by=decided_by,
            opened_from=opened_from,
            opened_before=opened_before,
            overdue=overdue,
        ),
        now=now,
        after=after,
        limit=limit,
    )
    return SearchRead(items=[QueueItem.of(e, now) for e in page.entries], next=page.next)


class HistoryEntryRead(BaseModel):
    at: datetime
    kind: str = Field(
        description="`report`, `actions`, or the audit log's action (`case.claimed`, …)."
    )
    by: str
    summary: str


class HistoryRead(BaseModel):
    entries: list[HistoryEntryRead] = Field(description="Oldest first.")


@router.get("/cases/{case_id}/history", dependencies=READ)
def read_case_history(case_id: CaseId, request: Request, uow: ReadUoW) -> HistoryRead:
    """A case's whole history as one timeline: its reports, everything done to it (claims,
    decisions, holds, appeals, messages, reveals, evidence and filing) and its actions on
    the platform, planned and delivered. A case about a minor is not found without the
    child-safety permission."""
    entries = review.case_history(uow=uow, actor=principal_of(request), case_id=case_id)
    return HistoryRead(
        entries=[
            HistoryEntryRead(at=e.at, kind=e.kind, by=e.by, summary=e.summary) for e in entries
        ]
    )


def _case_read(view: review.CaseView) -> CaseRead:
    case = view.case
    claim = case.claim_by
    held = view.held
    return CaseRead(
        case_id=case.id,
        case_number=case.number,
        state=view.state,
        priority=case.priority,
        category=case.category,
        reasons=case.reasons,
        respond_by=case.respond_by,
        remove_by=case.remove_by,
        claim=ClaimRead(by=claim.name, until=claim.until) if claim and held else None,
        proposal=_decision(case.proposal) if case.proposal else None,
        reports=[
            ReportRead(
                id=r.id,
                category=r.category,
                reporter_role=str(r.reporter_role),
                depicted_minor=r.depicted_minor,
                police_agency=r.police_agency,
                police_case_number=r.police_case_number,
                reference=r.reporter_reference,
                description=r.description,
                received_at=r.received_at,
                contact_name=r.contact_name,
                contact_email=r.contact_email,
            )
            for r in view.reports
        ],
        content_ids=[i.content_id for i in view.items],
        decisions=[_decision(d) for d in view.decisions],
        appeals=[
            {"by": m.author, "text": m.body, "at": m.at.isoformat()}
            for m in view.messages
            if m.kind == "appeal"
        ],
        previous_case=case_number(view.previous_case) if view.previous_case else None,
        opened_at=case.opened_at,
        first_look_at=case.first_look_at,
        decided_at=case.decided_at,
        ncmec_report=(
            NcmecReportRead.model_validate(filing.state_json(view.ncmec)) if view.ncmec else None
        ),
        merged_into=case_number(case.facts.merged_into) if case.facts.merged_into else None,
    )


@router.get("/cases/{case_id}", dependencies=READ)
def read_case(request: Request, case_id: CaseId, uow: ReadUoW) -> CaseRead:
    """A case: state, priority and its reasons, deadlines, reports, content, decisions and
    appeals. 404 for a case about a minor without the child-safety permission."""
    view = review.case_view(
        uow=uow, actor=principal_of(request), case_id=case_id, now=container_of(request).clock.now()
    )
    return _case_read(view)


def _after(request: Request, case_id: int) -> CaseRead:
    c = container_of(request)
    return _case_read(
        review.case_view(
            uow=c.uow(readonly=True),
            actor=principal_of(request),
            case_id=case_id,
            now=c.clock.now(),
        )
    )


@router.post("/cases/{case_id}/claim", dependencies=REVIEW)
def claim_case(request: Request, case_id: CaseId, uow: UoW) -> CaseRead:
    """Claim the case (or renew your claim) for `TAKEDOWN_REVIEW_CLAIM_MINUTES`. 409
    `claim_held` while someone else holds it."""
    c = container_of(request)
    review.claim(
        uow=uow,
        actor=principal_of(request),
        case_id=case_id,
        now=c.clock.now(),
        settings=c.review_settings,
    )
    return _after(request, case_id)


@router.post("/cases/{case_id}/release", dependencies=REVIEW)
def release_case(request: Request, case_id: CaseId, uow: UoW) -> CaseRead:
    """Give your claim back (a lead may take anyone's)."""
    review.release(
        uow=uow, actor=principal_of(request), case_id=case_id, now=container_of(request).clock.now()
    )
    return _after(request, case_id)


@router.post("/cases/{case_id}/decisions", status_code=status.HTTP_201_CREATED, dependencies=REVIEW)
def decide_case(
    request: Request, case_id: CaseId, decision_in: DecisionCreate, uow: UoW
) -> CaseRead:
    """Decide the case you hold. On a case about a minor a `no_violation`, or a violation of
    a lesser category than CSAM, is a proposal: the case waits in `pending_second_review`
    for a senior reviewer who is not you."""
    c = container_of(request)
    review.decide(
        uow=uow,
        actor=principal_of(request),
        case_id=case_id,
        decision_in=review.DecisionIn(
            outcome=decision_in.outcome,
            category=decision_in.category,
            reason=decision_in.reason,
            statement=decision_in.statement_of_reasons,
            escalate_to=decision_in.escalate_to,
            classification=decision_in.classification,
        ),
        now=c.clock.now(),
        settings=c.review_settings,
    )
    return _after(request, case_id)


@router.post(
    "/appeals",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(Access(Permission.appeals_submit))],
    responses={404: {"model": ErrorResponse, "description": "No decided case holds the content"}},
)
def post_appeal(request: Request, appeal_in: AppealCreate, uow: UoW) -> AppealRead:
    """An appeal against a decision about `content_id` (DSA Art. 20), from its uploader or a
    reporter, posted by the platform; accepted for six months after the decision. The case
    reopens as `appealed`, for someone other than its decider. 404 when no decided case
    holds the content; 409 `not_decidable` when it is already under appeal or too late."""
    c = container_of(request)
    case = review.platform_appeal(
        uow=uow,
        actor=principal_of(request),
        content_id=appeal_in.content_id,
        appellant=appeal_in.appellant,
        text=appeal_in.text,
        now=c.clock.now(),
        policy=c.review_settings.policy,
    )
    return AppealRead(case_id=case.id, case_number=case.number, state=case.status)
