"""The compliance console's CyberTipline pages: every report drafted, filing, filed, failed
or needing attention, overdue first against the filing target; a case's report (its XML,
its files, what can still be added) with one button to file it; a retry for a failed one
and the form that settles an unanswered ``/submit``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from takedown.authorities import IncidentType, IndustryClassification, IpEvent, ReportAnnotation
from takedown.flows import FILING
from takedown.identity import Permission
from takedown.server.container import container_of
from takedown.server.security import Access, principal_of
from takedown.services import filing
from takedown.services.errors import InvalidInput, StateConflict
from takedown.web.pages import render

router = APIRouter(include_in_schema=False)
READ = [Depends(Access(Permission.ncmec_read, html=True))]
FILE = [Depends(Access(Permission.ncmec_file, html=True))]
CaseId = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/console/ncmec", dependencies=READ)
def filings_page(request: Request) -> HTMLResponse:
    c = container_of(request)
    now = c.clock.now()
    within = c.filing_settings.file_within
    rows = filing.listing(
        uow=c.uow(readonly=True), actor=principal_of(request), now=now, within=within
    )
    return render(
        request,
        "ncmec.html",
        {
            "rows": rows,
            "now": now,
            "within_hours": within.total_seconds() / 3600,
            "configured": bool(c.settings.ncmec_url),
        },
    )


def _view(request: Request, case_id: int) -> filing.FilingView:
    c = container_of(request)
    return filing.view(
        uow=c.uow(readonly=True),
        actor=principal_of(request),
        case_id=case_id,
        now=c.clock.now(),
        within=c.filing_settings.file_within,
    )


def _draft_page(
    request: Request, case_id: int, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    c = container_of(request)
    view = _view(request, case_id)
    return render(
        request,
        "ncmec_report.html",
        {
            "case_id": case_id,
            "view": view,
            "error": error,
            "IncidentType": IncidentType,
            "ReportAnnotation": ReportAnnotation,
            "classes": list(IndustryClassification),
            "configured": bool(c.settings.ncmec_url),
        },
        status=status,
    )


@router.get("/console/cases/{case_id}/ncmec", dependencies=READ)
def report_page(request: Request, case_id: CaseId) -> HTMLResponse:
    return _draft_page(request, case_id)


@router.post("/console/cases/{case_id}/ncmec/draft", dependencies=FILE)
async def change_draft(request: Request, case_id: CaseId) -> Response:
    form = await request.form()
    c = container_of(request)

    def text(name: str, limit: int = 3000) -> str | None:
        value = form.get(name)
        return str(value)[:limit] if isinstance(value, str) else None

    incident = text("incident_type", 100)
    classifications = {
        str(k)[len("class:") :]: IndustryClassification(str(v))
        for k, v in form.multi_items()
        if str(k).startswith("class:") and str(v) in IndustryClassification.__members__
    }
    ip_events = None
    address = (text("ip_address", 45) or "").strip()
    if address:
        if not re.fullmatch(r"[0-9A-Fa-f:.]{2,45}", address):
            return _draft_page(request, case_id, error="That is not an IP address.", status=422)
        when = text("ip_at", 32)
        try:
            at = datetime.fromisoformat(when).replace(tzinfo=UTC) if when else None
        except ValueError:
            return _draft_page(request, case_id, error="That is not a date and time.", status=422)
        event = text("ip_event", 16) or "Upload"
        shown = _view(request, case_id).tip.reported
        earlier = shown.ip_events if shown is not None else ()
        events = {"Login", "Registration", "Purchase", "Upload", "Other", "Unknown"}
        added = IpEvent(ip_address=address, event=event if event in events else "Unknown", at=at)
        ip_events = (*earlier, added)
    change = filing.DraftChange(
        incident_type=IncidentType(incident) if incident in set(IncidentType) else None,
        escalate=text("escalate"),
        annotations=frozenset(
            ReportAnnotation(str(v))
            for v in form.getlist("annotation")
            if str(v) in set(ReportAnnotation)
        ),
        additional_info=text("additional_info"),
        screen_name=text("screen_name", 255),
        profile_url=text("profile_url", 2083),
        classifications=classifications,
        ip_events=ip_events,
    )
    try:
        filing.update_draft(
            uow=c.uow(),
            actor=principal_of(request),
            case_id=case_id,
            change=change,
            now=c.clock.now(),
        )
    except (StateConflict, InvalidInput) as exc:
        return _draft_page(
            request, case_id, error=str(exc), status=409 if isinstance(exc, StateConflict) else 422
        )
    return RedirectResponse(f"/console/cases/{case_id}/ncmec", status_code=303)


@router.post("/console/cases/{case_id}/ncmec/file", dependencies=FILE)
def file_report(
    request: Request, case_id: CaseId, back: Annotated[str, Form(max_length=16)] = ""
) -> Response:
    c = container_of(request)
    try:
        filing.request_filing(
            uow=c.uow(),
            actor=principal_of(request),
            case_id=case_id,
            now=c.clock.now(),
            configured=c.ncmec_configured,
        )
    except StateConflict as exc:
        return _draft_page(request, case_id, error=str(exc), status=409)
    c.runtime.wake(FILING)
    target = "/console/ncmec" if back == "list" else f"/console/cases/{case_id}/ncmec"
    return RedirectResponse(target, status_code=303)


@router.post("/console/cases/{case_id}/ncmec/resolve", dependencies=FILE)
def resolve_filing(
    request: Request,
    case_id: CaseId,
    report_id: Annotated[str, Form(max_length=20)] = "",
    made_no_report: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    c = container_of(request)
    found = int(report_id) if report_id.strip().isdigit() else None
    if found is None and made_no_report != "yes":
        return _draft_page(
            request, case_id, error="Give NCMEC's report id, or confirm it made none.", status=422
        )
    try:
        filing.resolve(
            uow=c.uow(),
            actor=principal_of(request),
            case_id=case_id,
            report_id=found,
            now=c.clock.now(),
        )
    except StateConflict as exc:
        return _draft_page(request, case_id, error=str(exc), status=409)
    return RedirectResponse(f"/console/cases/{case_id}/ncmec", status_code=303)
