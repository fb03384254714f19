"""Report intake for a platform's report button, trusted flaggers and police: ``/v1/reports``;
and the platform's exposure counts: ``/v1/content/{content_id}/stats``.

Both are answered only after the report (or reading) has committed, through the process's
group-commit writer."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response, status
from pydantic import BaseModel, Field, StrictBool, StrictInt
from pydantic_core import to_json

from takedown.api.deps import container
from takedown.api.schemas import JSONBytes, StrictModel, json_body, json_body_doc
from takedown.cases import Category, ReporterRole
from takedown.identity import Permission
from takedown.server.container import Container, container_of
from takedown.server.errors import ERROR_RESPONSES
from takedown.server.hot_routes import direct
from takedown.server.security import Access, checks_access, principal_of
from takedown.services import reports
from takedown.services.errors import InvalidInput

# The service's field names, as this document names them.
API_FIELDS = {
    "contact_email": "contact.email",
    "contact_name": "contact.name",
    "police_agency": "law_enforcement.agency",
    "police_case_number": "law_enforcement.case_number",
    "reporter_reference": "reference",
}
router = APIRouter(prefix="/v1", tags=["reports"], responses=ERROR_RESPONSES)


class LawEnforcement(StrictModel):
    agency: str = Field(min_length=1, max_length=256, examples=["Metropolitan Police"])
    case_number: str = Field(min_length=1, max_length=128, examples=["2026/123456"])


class Contact(StrictModel):
    name: str | None = Field(None, max_length=256)
    email: str | None = Field(None, max_length=320)


class ReportCreate(StrictModel):
    content_id: str | None = Field(
        None, min_length=1, max_length=256, description="The platform's id of the content."
    )
    content_url: str | None = Field(
        None, max_length=2048, description="A link to the content, when there is no id."
    )
    category: Category = Field(
        description="`csam`, `ncii` (an intimate image shared without consent), "
        "`other_illegal` or `policy`."
    )
    reporter_role: ReporterRole = Field(
        description="`depicted_person`, `parent_guardian` or `user`; `trusted_flagger`, "
        "`law_enforcement` and `platform_staff` where the key allows."
    )
    depicted_minor: StrictBool | None = Field(
        None, description="Is or was the person shown a minor?"
    )
    law_enforcement: LawEnforcement | None = None
    contact: Contact | None = Field(
        None, description="Optional. A CSAM report needs no contact details at all."
    )
    signature: str | None = Field(
        None, max_length=256, description="ncii: the reporter's full name, typed, as signature."
    )
    good_faith_statement: StrictBool = Field(
        False,
        description="ncii: the reporter states in good faith that the image is shared without "
        "consent.",
    )
    description: str | None = Field(None, max_length=5000)
    reference: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="Your own reference for this report (a ticket number): reviewers find the "
        "case by it.",
        examples=["TF-2026-0042"],
    )
    idempotency_key: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        description="The same key twice (from the same caller) gives the same report.",
    )


class ReportReceipt(BaseModel):
    report_id: int
    case_id: int
    case_number: str = Field(examples=["TD-0000042"])
    status_url: str = Field(description="The reporter's private status page. Give it to them.")
    acknowledged_at: datetime
    priority: str = Field(description="P0 (most urgent), P1 or P2.")
    respond_by: datetime = Field(description="When a person will have looked at the case.")
    remove_by: datetime | None = Field(
        description="The legal removal deadline where one applies (ncii: 48 hours after the "
        "first valid request)."
    )
    case_status: str
    missing_for_valid_request: list[str] | None = Field(
        None,
        description="ncii: what the report lacks to be a valid removal request under the TAKE "
        "IT DOWN Act (the 48-hour clock starts once a valid request is in).",
    )


@router.post(
    "/reports",
    status_code=status.HTTP_201_CREATED,
    response_model=ReportReceipt,
    openapi_extra=json_body_doc(ReportCreate),
)
@direct
@checks_access(Access(Permission.reports_submit))
async def submit_report(request: Request) -> Response:
    """Submit a report. Answered once it is stored with its case, audit entry and events.

    Reports about the same content, its reposts or matching media join one open case. A
    repeated ``idempotency_key`` answers with the same report (header
    ``Idempotent-Replayed: true``)."""
    # The busiest JSON route: it checks its access, reads its body and writes its answer
    # itself (one pydantic pass each way) instead of through FastAPI's dependencies, body and
    # response handling, which together cost more than the report's own work.
    report_in = await json_body(request, ReportCreate)
    c: Container = container_of(request)
    law = report_in.law_enforcement
    contact = report_in.contact
    try:
        receipt = await reports.file_report(
            c,
            actor=principal_of(request),
            report_in=reports.ReportCreate(
                category=report_in.category,
                reporter_role=report_in.reporter_role,
                content_id=report_in.content_id,
                content_url=report_in.content_url,
                depicted_minor=report_in.depicted_minor,
                police_agency=law.agency if law else None,
                police_case_number=law.case_number if law else None,
                reporter_reference=report_in.reference,
                contact_name=contact.name if contact else None,
                contact_email=contact.email if contact else None,
                signature=report_in.signature,
                good_faith_statement=report_in.good_faith_statement,
                description=report_in.description or "",
                idempotency_key=report_in.idempotency_key,
            ),
        )
    except InvalidInput as exc:
        # The service names its own fields; the caller sent this document's.
        field = API_FIELDS.get(exc.field or "", exc.field)
        message = exc.message.replace(exc.field or "\x00", field or "")
        raise InvalidInput(message, field=field) from exc
    return JSONBytes(
        receipt_json(c.status_url(receipt.status_token), receipt),
        status_code=status.HTTP_201_CREATED,
        headers={"Idempotent-Replayed": "true"} if receipt.duplicate else None,
    )


def receipt_json(status_url: str, receipt: reports.Receipt) -> bytes:
    """The answer's JSON: ``ReportReceipt``'s, field for field (a test holds them equal),
    encoded from a plain dict in one call. Building the model first, only to encode it, was
    two thirds of the answer's instructions."""
    return to_json(
        {
            "report_id": receipt.report_id,
            "case_id": receipt.case_id,
            "case_number": receipt.case_number,
            "status_url": status_url,
            "acknowledged_at": receipt.acknowledged_at,
            "priority": str(receipt.priority),
            "respond_by": receipt.respond_by,
            "remove_by": receipt.remove_by,
            "case_status": str(receipt.case_status),
            "missing_for_valid_request": receipt.missing_for_valid,
        }
    )


class StatsCreate(StrictModel):
    views: StrictInt = Field(ge=0, le=2**62, description="Total views so far.")
    reposts: StrictInt = Field(0, ge=0, le=2**62, description="Total reposts and shares so far.")


class StatsRead(BaseModel):
    content_id: str
    fast_growing: bool
    views_per_hour: float | None
    reposts_per_hour: float | None
    cases_raised: list[int]


@router.post("/content/{content_id}/stats", dependencies=[Depends(Access(Permission.scan))])
async def post_stats(
    request: Request,
    stats_in: StatsCreate,
    c: Annotated[Container, Depends(container)],
    content_id: Annotated[str, Path(min_length=1, max_length=256)],
) -> StatsRead:
    """Post an item's exposure (total views and reposts). When it grows fast, the open cases
    about it are raised."""
    result = await c.run_work(
        partial(
            reports.record_stats,
            actor=principal_of(request),
            content_id=content_id,
            views=stats_in.views,
            reposts=stats_in.reposts,
            policy=c.triage_policy,
            exposure=c.exposure_policy,
            now=c.clock.now(),
            reasons=c.reasons_policy,
        )
    )
    return StatsRead(
        content_id=result.content_id,
        fast_growing=result.fast,
        views_per_hour=result.views_per_hour,
        reposts_per_hour=result.reposts_per_hour,
        cases_raised=result.cases_raised,
    )
