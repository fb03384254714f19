"""Transparency reports (``services.transparency``): the figures of any period, as JSON or as
CSV."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime

from takedown.api.deps import read_uow
from takedown.identity import Permission
from takedown.server.errors import ERROR_RESPONSES
from takedown.server.security import Access, principal_of
from takedown.services import transparency
from takedown.store import UnitOfWork

router = APIRouter(prefix="/v1", tags=["transparency"], responses=ERROR_RESPONSES)
ReadUoW = Annotated[UnitOfWork, Depends(read_uow)]
READ = [Depends(Access(Permission.transparency_read))]


@router.get(
    "/transparency",
    dependencies=READ,
    responses={200: {"content": {"text/csv": {}}, "description": "The report."}},
)
def read_transparency(
    request: Request,
    uow: ReadUoW,
    start: Annotated[AwareDatetime, Query(alias="from", description="The period's start.")],
    end: Annotated[AwareDatetime, Query(alias="to", description="Its end (not included).")],
    format: Literal["json", "csv"] = "json",
) -> Any:
    """The transparency report of a period: notices by category and source, actions by type
    and ground, decisions by a person or automated, the clocks (median and 90th percentile to
    a person's first look, to the decision, to the last removal and to the NCMEC filing), NCII
    requests decided within 48 hours, appeals and reversals, NCMEC reports filed and the
    share of automated decisions reversed. Figures only: no case is named."""
    found = transparency.report(uow=uow, actor=principal_of(request), start=start, end=end)
    if format == "csv":
        return Response(
            transparency.figures_csv(found),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="takedown-transparency.csv"'},
        )
    return found.as_json()
