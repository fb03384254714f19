"""The audit log, for compliance: ``/v1/audit``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from takedown.api.deps import read_uow
from takedown.api.schemas import AuditEntryRead, AuditVerifyRead
from takedown.identity import Permission
from takedown.server.errors import ERROR_RESPONSES
from takedown.server.security import Access, principal_of
from takedown.services import audit
from takedown.store import UnitOfWork

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=ERROR_RESPONSES)
READ = [Depends(Access(Permission.audit_read))]
ReadUoW = Annotated[UnitOfWork, Depends(read_uow)]


@router.get("", dependencies=READ)
def list_audit(
    request: Request,
    uow: ReadUoW,
    action: Annotated[str | None, Query(max_length=64)] = None,
    target_type: Annotated[str | None, Query(max_length=64)] = None,
    target_id: Annotated[str | None, Query(max_length=128)] = None,
    before_seq: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AuditEntryRead]:
    """Newest first. Page with ``before_seq`` set to the last ``seq`` you got."""
    records = audit.list_entries(
        uow=uow,
        actor=principal_of(request),
        action=action,
        target_type=target_type,
        target_id=target_id,
        before_seq=before_seq,
        limit=limit,
    )
    return [AuditEntryRead.of(r) for r in records]


@router.get("/verify", dependencies=READ)
def verify_audit(request: Request, uow: ReadUoW) -> AuditVerifyRead:
    """Recompute the hash chain; ``problems`` names every edited, inserted or deleted entry."""
    result = audit.verify(uow=uow, actor=principal_of(request))
    return AuditVerifyRead(
        ok=result.ok,
        entries=result.entries,
        head_seq=result.head_seq,
        problems=[str(p) for p in result.problems],
    )
