"""A case's preserved evidence, for compliance and child-safety leads: list it, open an item
for a stated reason (audited), set or lift a legal hold."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from takedown.api.deps import read_uow, uow
from takedown.api.schemas import StrictModel
from takedown.identity import Permission
from takedown.server.container import container_of
from takedown.server.errors import ERROR_RESPONSES, error_response
from takedown.server.security import Access, principal_of, require_csrf_on_read
from takedown.services import evidence
from takedown.services.errors import InvalidInput
from takedown.store import UnitOfWork

router = APIRouter(prefix="/v1", tags=["evidence"], responses=ERROR_RESPONSES)
UoW = Annotated[UnitOfWork, Depends(uow)]
ReadUoW = Annotated[UnitOfWork, Depends(read_uow)]
CaseId = Annotated[int, Path(ge=1, le=2**62)]
READ = [Depends(Access(Permission.evidence_read))]


class EvidenceItemRead(BaseModel):
    id: int
    kind: str
    content_id: str | None
    media_type: str
    size: int
    sha256: str = Field(description="Of the preserved bytes, before encryption.")
    created_at: datetime
    retained_until: datetime
    legal_hold: bool
    hold_reason: str | None
    purged_at: datetime | None
    purge_reason: str | None


class HoldCreate(StrictModel):
    reason: str | None = Field(
        None, max_length=500, description="Why the evidence is held; null lifts the hold."
    )


class HoldRead(BaseModel):
    items: int


@router.get("/cases/{case_id}/evidence", dependencies=READ)
def list_evidence(request: Request, case_id: CaseId, uow: ReadUoW) -> list[EvidenceItemRead]:
    """What the case preserved (media and metadata), with each item's retention and hold."""
    items = evidence.list_items(uow=uow, actor=principal_of(request), case_id=case_id)
    return [EvidenceItemRead.model_validate(i, from_attributes=True) for i in items]


@router.get("/cases/{case_id}/evidence/{item_id}", dependencies=READ)
def open_evidence(
    request: Request,
    case_id: CaseId,
    item_id: Annotated[int, Path(ge=1, le=2**62)],
    uow: UoW,
    reason: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    """An item's bytes. `reason` is required (400 `reason_required` without) and goes into the
    audit log. Called with the console's session cookie rather than a bearer token, it needs
    the session's token in `X-CSRF-Token`, like a write: a link on another site must not open
    evidence under a compliance officer's name."""
    c = container_of(request)
    require_csrf_on_read(request)
    if not reason or not reason.strip():
        return error_response(400, "reason_required", "say why you open this evidence: ?reason=...")
    vault = c.vault
    if vault is None:
        raise InvalidInput("no evidence key is set (TAKEDOWN_EVIDENCE_KEY)")
    record, data = evidence.open_item(
        uow=uow,
        actor=principal_of(request),
        case_id=case_id,
        item_id=item_id,
        reason=reason,
        vault=vault,
        now=c.clock.now(),
    )
    return Response(
        data,
        media_type=record.media_type,
        headers={"Cache-Control": "no-store, private", "X-Content-Type-Options": "nosniff"},
    )


@router.post(
    "/cases/{case_id}/evidence/hold", dependencies=[Depends(Access(Permission.evidence_hold))]
)
def hold_evidence(request: Request, case_id: CaseId, hold: HoldCreate, uow: UoW) -> HoldRead:
    """Set a legal hold (kept past the year until lifted), or lift it with a null reason."""
    held = evidence.set_hold(
        uow=uow,
        actor=principal_of(request),
        case_id=case_id,
        reason=hold.reason,
        now=container_of(request).clock.now(),
    )
    return HoldRead(items=held)
