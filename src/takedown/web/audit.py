"""The audit log in the console (``/console/audit``): entries newest first with filters, the
hash chain's verification, and an export of what the filters select, as JSON lines. The rules
are the API's (``services.audit``): without the child-safety permission, an entry about a
minor's case keeps its number, time, actor and action, and nothing of what it was about, on
the page and in the export alike."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from takedown.identity import Permission
from takedown.server.container import container_of
from takedown.server.security import Access, principal_of
from takedown.services import audit
from takedown.web.pages import render

router = APIRouter(include_in_schema=False)
READ = [Depends(Access(Permission.audit_read, html=True))]
PAGE = 100
Filter = Annotated[str | None, Query(max_length=128)]


@router.get("/console/audit", dependencies=READ)
def audit_page(
    request: Request,
    action: Filter = None,
    target_type: Filter = None,
    target_id: Filter = None,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    verify: bool = False,
) -> HTMLResponse:
    c = container_of(request)
    actor = principal_of(request)
    filters = {"action": action, "target_type": target_type, "target_id": target_id}
    entries = audit.list_entries(
        uow=c.uow(readonly=True), actor=actor, before_seq=before, limit=PAGE + 1,
        **{k: v or None for k, v in filters.items()},
    )  # fmt: skip
    more = len(entries) > PAGE
    entries = entries[:PAGE]
    chain = audit.verify(uow=c.uow(readonly=True), actor=actor) if verify else None
    return render(
        request,
        "audit.html",
        {
            "entries": entries,
            "filters": filters,
            "query": {k: v for k, v in filters.items() if v},
            "older": entries[-1].seq if more and entries else None,
            "chain": chain,
        },
    )


@router.get("/console/audit/export", dependencies=READ)
def audit_export(
    request: Request,
    action: Filter = None,
    target_type: Filter = None,
    target_id: Filter = None,
) -> StreamingResponse:
    """Every entry the filters select, newest first, one JSON object a line."""
    c = container_of(request)
    actor = principal_of(request)
    filters = {"action": action or None, "target_type": target_type or None,
               "target_id": target_id or None}  # fmt: skip

    def lines() -> Iterator[str]:
        records = audit.export(uow=lambda: c.uow(readonly=True), actor=actor, **filters)
        return (audit.json_line(r) for r in records)

    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="takedown-audit.jsonl"'},
    )
