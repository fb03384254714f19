"""CyberTipline reports, for compliance (and, to read, child-safety leads): a case's draft,
changing it, filing it (idempotent), settling a filing that needs attention, and the list."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, Field, StrictBool, StrictInt

from takedown.api.deps import read_uow, uow
from takedown.api.schemas import IpEventIn, StrictModel
from takedown.authorities import (
    Filing,
    IncidentType,
    IndustryClassification,
    ReportAnnotation,
)
from takedown.cases import case_number
from takedown.identity import Permission
from takedown.server.container import container_of
from takedown.server.errors import ERROR_RESPONSES, ErrorResponse
from takedown.server.security import Access, principal_of
from takedown.services import filing
from takedown.services.errors import InvalidInput
from takedown.store import UnitOfWork

router = APIRouter(prefix="/v1", tags=["ncmec"], responses=ERROR_RESPONSES)
UoW = Annotated[UnitOfWork, Depends(uow)]
ReadUoW = Annotated[UnitOfWork, Depends(read_uow)]
CaseId = Annotated[int, Path(ge=1, le=2**62)]
READ = [Depends(Access(Permission.ncmec_read))]
FILE = [Depends(Access(Permission.ncmec_file))]

State = Literal["drafted", "filing", "filed", "failed", "needs_attention", "withdrawn"]


class FilingRead(BaseModel):
    case_id: int
    case_number: str
    state: State
    report_id: int | None = Field(description="NCMEC's report id, once /submit gave one.")
    drafted_at: datetime
    requested_at: datetime | None
    filed_at: datetime | None
    error: str | None = Field(description="Why it failed or needs attention.")
    auto: bool = Field(description="Filed without waiting for a person (a bank match).")
    overdue: bool = Field(description="Not filed within TAKEDOWN_NCMEC_FILE_WITHIN_HOURS.")
    age_hours: float

    @classmethod
    def of(cls, f: Filing, *, overdue: bool, now: datetime) -> FilingRead:
        return cls(
            case_id=f.case_id,
            case_number=case_number(f.case_id),
            state=f.state,
            report_id=f.report_id,
            drafted_at=f.drafted_at,
            requested_at=f.requested_at,
            filed_at=f.filed_at,
            error=f.error,
            auto=f.auto,
            overdue=overdue,
            age_hours=round((now - f.drafted_at).total_seconds() / 3600, 2),
        )


class FileRead(BaseModel):
    content_id: str | None
    evidence_item_id: int
    ncmec_file_id: str | None
    classification: IndustryClassification | None
    uploaded_at: datetime | None
    described_at: datetime | None


class DraftRead(BaseModel):
    filing: FilingRead
    document: str = Field(description="The report's XML: as submitted, or as it would be now.")
    files: list[FileRead]


class DraftChangeIn(StrictModel):
    incident_type: IncidentType | None = None
    escalate_to_high_priority: str | None = Field(None, max_length=3000)
    annotations: list[ReportAnnotation] | None = None
    additional_info: str | None = Field(None, max_length=3000)
    screen_name: str | None = Field(None, max_length=255)
    profile_url: str | None = Field(None, max_length=2083)
    classifications: dict[str, IndustryClassification] | None = Field(
        None, description="Industry classification by content id."
    )
    publicly_available: StrictBool | None = None
    ip_capture_events: list[IpEventIn] | None = Field(
        None, max_length=20, description="The reported account's, replacing those on the draft."
    )


class ResolveIn(StrictModel):
    report_id: StrictInt | None = Field(
        None, ge=1, description="The report NCMEC made of it; null: it made none."
    )
    made_no_report: StrictBool = Field(
        False, description="True with no report_id: NCMEC confirmed it made none."
    )


def _draft(request: Request, case_id: int) -> DraftRead:
    c = container_of(request)
    now = c.clock.now()
    view = filing.view(
        uow=c.uow(readonly=True),
        actor=principal_of(request),
        case_id=case_id,
        now=now,
        within=c.filing_settings.file_within,
    )
    return DraftRead(
        filing=FilingRead.of(view.filing, overdue=view.overdue, now=now),
        document=view.document,
        files=[
            FileRead(
                content_id=f.content_id,
                evidence_item_id=f.evidence_item_id,
                ncmec_file_id=f.file_id,
                classification=f.details.classification,
                uploaded_at=f.uploaded_at,
                described_at=f.described_at,
            )
            for f in view.files
        ],
    )


@router.get(
    "/cases/{case_id}/ncmec",
    dependencies=READ,
    responses={409: {"model": ErrorResponse, "description": "The case drafted no report"}},
)
def read_draft(request: Request, case_id: CaseId) -> DraftRead:
    """The case's CyberTipline report: its state, its XML and its files. 409
    `no_ncmec_report` for a case that drafted none (only a confirmed CSAM case does)."""
    return _draft(request, case_id)


@router.post("/cases/{case_id}/ncmec/draft", dependencies=FILE)
def change_draft(request: Request, case_id: CaseId, change: DraftChangeIn, uow: UoW) -> DraftRead:
    """Add what the platform knows before filing. 409 `filed` once a report id exists; 422
    when the change would not fit NCMEC's schema."""
    c = container_of(request)
    filing.update_draft(
        uow=uow,
        actor=principal_of(request),
        case_id=case_id,
        change=filing.DraftChange(
            incident_type=change.incident_type,
            escalate=change.escalate_to_high_priority,
            annotations=frozenset(change.annotations) if change.annotations is not None else None,
            additional_info=change.additional_info,
            screen_name=change.screen_name,
            profile_url=change.profile_url,
            classifications=change.classifications,
            publicly_available=change.publicly_available,
            ip_events=(
                tuple(e.value() for e in change.ip_capture_events)
                if change.ip_capture_events is not None
                else None
            ),
        ),
        now=c.clock.now(),
    )
    return _draft(request, case_id)


@router.post("/cases/{case_id}/ncmec/file", dependencies=FILE)
def file_report(request: Request, case_id: CaseId, uow: UoW) -> FilingRead:
    """File the case's report now, or a failed one again (resuming from its report id where
    it has one). Idempotent: a report filing, filed or needing attention is answered as it
    is. The filing itself runs in the background; read its state here or on the case. 409
    `ncmec_not_configured` where NCMEC's address and credentials are not set."""
    c = container_of(request)
    now = c.clock.now()
    f = filing.request_filing(
        uow=uow,
        actor=principal_of(request),
        case_id=case_id,
        now=now,
        configured=c.ncmec_configured,
    )
    return FilingRead.of(f, overdue=f.overdue(now, c.filing_settings.file_within), now=now)


@router.post("/cases/{case_id}/ncmec/resolve", dependencies=FILE)
def resolve_filing(request: Request, case_id: CaseId, resolve: ResolveIn, uow: UoW) -> FilingRead:
    """Settle a filing whose `/submit` went unanswered, after checking with NCMEC: the
    report it made (`report_id`: the filing resumes from it), or that it made none
    (`made_no_report`: it is submitted again). 409 `not_needing_attention` otherwise."""
    if resolve.report_id is None and not resolve.made_no_report:
        raise InvalidInput("give report_id, or made_no_report: true", field="report_id")
    c = container_of(request)
    now = c.clock.now()
    f = filing.resolve(
        uow=uow, actor=principal_of(request), case_id=case_id, report_id=resolve.report_id, now=now
    )
    return FilingRead.of(f, overdue=f.overdue(now, c.filing_settings.file_within), now=now)


@router.get("/ncmec/filings", dependencies=READ)
def list_filings(request: Request, uow: ReadUoW) -> list[FilingRead]:
    """Every report not filed yet, overdue first, then the 50 filed last."""
    c = container_of(request)
    now = c.clock.now()
    within = c.filing_settings.file_within
    return [
        FilingRead.of(f, overdue=overdue, now=now)
        for f, overdue in filing.listing(
            uow=uow, actor=principal_of(request), now=now, within=within
        )
    ]
