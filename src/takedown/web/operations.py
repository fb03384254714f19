"""The operations page: actions waiting, delivered and failed, and deferred work parked after
its last attempt, each with a retry (admins and child-safety leads); and, to those who may
read the CyberTipline reports, how many of them failed or wait for a person, with the way to
the filing page, where each is retried."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from takedown.flows import DELIVERY
from takedown.identity import Permission
from takedown.server.container import container_of
from takedown.server.security import Access, principal_of
from takedown.services import actions, filing, parked
from takedown.web.pages import render

router = APIRouter(include_in_schema=False)
OPERATE = [Depends(Access(Permission.actions_manage, html=True))]


@router.get("/console/operations", dependencies=OPERATE)
def operations_page(request: Request) -> HTMLResponse:
    c = container_of(request)
    actor = principal_of(request)
    filings = (
        filing.stuck(uow=c.uow(readonly=True), actor=actor)
        if actor.can(Permission.ncmec_read)
        else None
    )
    return render(
        request,
        "operations.html",
        {
            "counts": actions.counts(uow=c.uow(readonly=True), actor=actor),
            "failed": actions.failed(uow=c.uow(readonly=True), actor=actor),
            "parked": parked.parked_events(uow=c.uow(readonly=True), actor=actor),
            "webhook": c.settings.platform_webhook_url,
            "filings": filings,
        },
    )


@router.post("/console/operations/actions/{action_id}/retry", dependencies=OPERATE)
def retry_action(request: Request, action_id: Annotated[str, Path(max_length=36)]) -> Response:
    c = container_of(request)
    actions.retry(uow=c.uow(), actor=principal_of(request), action_id=action_id, now=c.clock.now())
    c.runtime.wake(DELIVERY)
    return RedirectResponse("/console/operations", status_code=303)


@router.post("/console/operations/events/{event_id}/retry", dependencies=OPERATE)
def retry_event(request: Request, event_id: Annotated[int, Path(ge=1)]) -> Response:
    c = container_of(request)
    event_type = parked.retry_event(
        uow=c.uow(), actor=principal_of(request), event_id=event_id, now=c.clock.now()
    )
    c.runtime.wake(c.runtime.lane_for(event_type))
    return RedirectResponse("/console/operations", status_code=303)
