"""Transparency reports (``services.transparency``): the figures of any period, as JSON or as
CSV."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime

from takedown.api.deps import read_uow
from takedown.identity import Permission
from takedown.server.container import container_of
from takedown.server.errors import ERROR_RESPONSES
from takedown.server.security import Access, principal_of
from takedown.services import dsa_template, transparency
from takedown.store import UnitOfWork

router = APIRouter(prefix="/v1", tags=["transparency"], responses=ERROR_RESPONSES)
ReadUoW = Annotated[UnitOfWork, Depends(read_uow)]
READ = [Depends(Access(Permission.transparency_read))]
PeriodStart = Annotated[AwareDatetime, Query(alias="from", description="The period's start.")]
PeriodEnd = Annotated[AwareDatetime, Query(alias="to", description="Its end (not included).")]


@router.get(
    "/transparency",
    dependencies=READ,
    responses={200: {"content": {"text/csv": {}}, "description": "The report."}},
)
def read_transparency(
    request: Request,
    uow: ReadUoW,
    start: PeriodStart,
    end: PeriodEnd,
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


@router.get(
    "/transparency/dsa-template",
    dependencies=READ,
    responses={200: {"content": {"application/zip": {}}, "description": "The template."}},
)
def read_dsa_template(
    request: Request,
    uow: ReadUoW,
    start: PeriodStart,
    end: PeriodEnd,
    published: Annotated[
        date | None, Query(description="The report's publication date; by default today.")
    ] = None,
    previous: Annotated[
        date | None, Query(description="The previous report's publication date.")
    ] = None,
) -> Response:
    """The quantitative transparency report of a period in the harmonised templates of
    Implementing Regulation (EU) 2024/2835: a zip of the template's CSV parts (summary,
    notices, own-initiative measures for illegal content and for the terms, complaints,
    automated means), filled with what takedown counted; the provider completes the figures
    it keeps elsewhere. Figures only: no case is named."""
    c = container_of(request)
    found = dsa_template.build(
        uow=uow, actor=principal_of(request), start=start, end=end,
        provider=c.settings.platform_name, published=published or c.clock.now().date(),
        previous=previous,
    )  # fmt: skip
    name = f"takedown-dsa-template-{start.date()}-{end.date()}.zip"
    return Response(
        found.zip_bytes(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
