"""Actions for platforms that cannot receive webhooks: pull them in delivery order and
acknowledge each once carried out. The platform's own key (scope ``scan``) is enough."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from takedown.api.deps import read_uow, uow
from takedown.api.schemas import IpEventIn, StrictModel
from takedown.identity import Permission
from takedown.server.container import container_of
from takedown.server.errors import ERROR_RESPONSES
from takedown.server.security import Access, principal_of
from takedown.services import actions, filing
from takedown.services.delivery import action_json
from takedown.store import UnitOfWork

router = APIRouter(prefix="/v1", tags=["actions"], responses=ERROR_RESPONSES)
UoW = Annotated[UnitOfWork, Depends(uow)]
ReadUoW = Annotated[UnitOfWork, Depends(read_uow)]
PULL = [Depends(Access(Permission.actions_pull))]


class ActionsRead(BaseModel):
    items: list[dict[str, Any]] = Field(
        description="Each `{action_id, type, content_id | account_id, case_id, case_number, "
        "category, reason, statement_of_reasons}`, as the webhook sends them."
    )
    next: int | None = Field(description="Pass as `after` for the next page; null at the end.")


class AccountDetailsIn(StrictModel):
    screen_name: str | None = Field(None, max_length=255)
    display_name: str | None = Field(None, max_length=255)
    profile_url: str | None = Field(None, max_length=2083)
    ip_capture_events: list[IpEventIn] = Field(default_factory=list, max_length=20)


class AccountDetailsRead(BaseModel):
    action_id: str
    case_id: int
    ncmec_report: str = Field(description="The report's state (the details are on its draft).")


class AckRead(BaseModel):
    action_id: str
    state: str


@router.get("/actions", dependencies=PULL)
def pull_actions(
    request: Request,
    uow: ReadUoW,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ActionsRead:
    """Pending actions in delivery order. Carry each out, then acknowledge it; an action not
    acknowledged is given again from `after=0`."""
    found, cursor = actions.pull(uow=uow, actor=principal_of(request), after=after, limit=limit)
    return ActionsRead(items=[action_json(a) for a in found], next=cursor)


@router.post("/actions/{action_id}/ack", dependencies=PULL)
def ack_action(
    request: Request, action_id: Annotated[str, Path(max_length=36)], uow: UoW
) -> AckRead:
    """The action was carried out. Acknowledging twice changes nothing."""
    done = actions.ack(
        uow=uow,
        actor=principal_of(request),
        action_id=action_id,
        now=container_of(request).clock.now(),
    )
    return AckRead(action_id=done.action_id, state=done.state)


@router.post("/actions/{action_id}/account", dependencies=PULL)
def account_details(
    request: Request,
    action_id: Annotated[str, Path(max_length=36)],
    details: AccountDetailsIn,
    uow: UoW,
) -> AccountDetailsRead:
    """What the platform knows of the account a `suspend_account` action named (screen name,
    profile address, IP addresses captured at its log-ins and uploads), for the case's
    CyberTipline report while it is not submitted yet. 409 `not_an_account` for another kind
    of action, `no_ncmec_report` for a case with no report, `filed` once it is with NCMEC."""
    filing_now = filing.account_details(
        uow=uow,
        actor=principal_of(request),
        action_id=action_id,
        details=filing.AccountDetails(
            screen_name=details.screen_name,
            display_name=details.display_name,
            profile_url=details.profile_url,
            ip_events=tuple(e.value() for e in details.ip_capture_events),
        ),
        now=container_of(request).clock.now(),
    )
    return AccountDetailsRead(
        action_id=action_id, case_id=filing_now.case_id, ncmec_report=filing_now.state
    )
