"""API keys of platforms, trusted flaggers, law enforcement and scrapers: ``/v1/keys``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status

from takedown.api.deps import read_uow, uow
from takedown.api.schemas import ApiKeyCreate, ApiKeyIssued, ApiKeyRead
from takedown.identity import Permission
from takedown.server.errors import ERROR_RESPONSES
from takedown.server.security import Access, principal_of
from takedown.services import accounts, keys
from takedown.store import UnitOfWork

router = APIRouter(prefix="/v1/keys", tags=["keys"], responses=ERROR_RESPONSES)
MANAGE = [Depends(Access(Permission.keys_manage))]


@router.get("", dependencies=MANAGE)
def list_keys(request: Request, uow: Annotated[UnitOfWork, Depends(read_uow)]) -> list[ApiKeyRead]:
    return [ApiKeyRead.of(k) for k in keys.list_api_keys(uow=uow, actor=principal_of(request))]


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=MANAGE)
def create_key(
    request: Request, key_in: ApiKeyCreate, uow: Annotated[UnitOfWork, Depends(uow)]
) -> ApiKeyIssued:
    """Issue a key with scopes. The secret is in this response only."""
    issued = keys.create_api_key(
        uow=uow, actor=principal_of(request), name=key_in.name, scopes=key_in.scopes
    )
    return ApiKeyIssued(**ApiKeyRead.of(issued.key).model_dump(), secret=issued.secret)


@router.delete("/{key_pk}", dependencies=MANAGE)
def revoke_key(
    request: Request,
    key_pk: Annotated[int, Path(ge=1, le=2**62)],
    uow: Annotated[UnitOfWork, Depends(uow)],
) -> ApiKeyRead:
    """Revoke a key; requests with it are refused from now on. Revoking twice is harmless."""
    key = accounts.revoke_credential(uow=uow, actor=principal_of(request), key_pk=key_pk)
    return ApiKeyRead.of(key)
