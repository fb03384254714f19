"""Staff accounts and personal tokens: ``/v1/me``, ``/v1/users``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, status

from takedown.api.deps import read_uow, uow
from takedown.api.schemas import (
    ApiKeyIssued,
    ApiKeyRead,
    ChildSafetyGrant,
    MeRead,
    TokenCreate,
    UserCreate,
    UserRead,
)
from takedown.identity import Permission
from takedown.server.errors import ERROR_RESPONSES
from takedown.server.security import Access, principal_of
from takedown.services import accounts
from takedown.store import UnitOfWork

router = APIRouter(prefix="/v1", tags=["accounts"], responses=ERROR_RESPONSES)
UoW = Annotated[UnitOfWork, Depends(uow)]
ReadUoW = Annotated[UnitOfWork, Depends(read_uow)]
KeyPk = Annotated[int, Path(ge=1, le=2**62)]


@router.get("/me", dependencies=[Depends(Access(Permission.account_self))])
def read_me(request: Request) -> MeRead:
    """Who the credential belongs to, with the permissions it carries."""
    p = principal_of(request)
    return MeRead(
        kind=p.kind.value,
        name=p.name,
        role=p.role,
        scopes=sorted(p.scopes),
        permissions=sorted(p.permissions),
    )


@router.get("/me/tokens", dependencies=[Depends(Access(Permission.account_self))])
def list_my_tokens(request: Request, uow: ReadUoW) -> list[ApiKeyRead]:
    keys = accounts.list_personal_tokens(uow=uow, actor=principal_of(request))
    return [ApiKeyRead.of(k) for k in keys]


@router.post(
    "/me/tokens",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(Access(Permission.account_self))],
)
def create_my_token(request: Request, token_in: TokenCreate, uow: UoW) -> ApiKeyIssued:
    """Issue a personal token that acts as you, with your role. The secret is shown once."""
    issued = accounts.create_personal_token(
        uow=uow, actor=principal_of(request), user_name=None, label=token_in.name
    )
    return ApiKeyIssued(**ApiKeyRead.of(issued.key).model_dump(), secret=issued.secret)


@router.delete("/me/tokens/{key_pk}", dependencies=[Depends(Access(Permission.account_self))])
def revoke_my_token(request: Request, key_pk: KeyPk, uow: UoW) -> ApiKeyRead:
    key = accounts.revoke_credential(uow=uow, actor=principal_of(request), key_pk=key_pk)
    return ApiKeyRead.of(key)


@router.get("/users", dependencies=[Depends(Access(Permission.users_manage))])
def list_users(request: Request, uow: ReadUoW) -> list[UserRead]:
    return [UserRead.of(u) for u in accounts.list_users(uow=uow, actor=principal_of(request))]


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(Access(Permission.users_manage))],
)
def create_user(request: Request, user_in: UserCreate, uow: UoW) -> UserRead:
    user = accounts.create_user(
        uow=uow,
        actor=principal_of(request),
        name=user_in.name,
        role=user_in.role,
        password=user_in.password,
        child_safety=user_in.child_safety,
    )
    return UserRead.of(user)


@router.put(
    "/users/{user_id}/child-safety", dependencies=[Depends(Access(Permission.account_self))]
)
def set_child_safety(
    request: Request,
    user_id: Annotated[int, Path(ge=1, le=2**62)],
    grant: ChildSafetyGrant,
    uow: UoW,
) -> UserRead:
    """Grant or withdraw the permission to see cases about minors (an admin or a
    child-safety lead: 403 for anyone else)."""
    user = accounts.set_child_safety(
        uow=uow, actor=principal_of(request), user_id=user_id, granted=grant.granted
    )
    return UserRead.of(user)


@router.post("/users/{user_id}/disable", dependencies=[Depends(Access(Permission.users_manage))])
def disable_user(
    request: Request, user_id: Annotated[int, Path(ge=1, le=2**62)], uow: UoW
) -> UserRead:
    """Disable an account; its sessions and personal tokens stop working at once. 409 for
    your own account and for the last active admin."""
    return UserRead.of(accounts.disable_user(uow=uow, actor=principal_of(request), user_id=user_id))


@router.post("/users/{user_id}/enable", dependencies=[Depends(Access(Permission.users_manage))])
def enable_user(
    request: Request, user_id: Annotated[int, Path(ge=1, le=2**62)], uow: UoW
) -> UserRead:
    """Enable a disabled account again; it logs in afresh (old sessions stay ended)."""
    return UserRead.of(accounts.enable_user(uow=uow, actor=principal_of(request), user_id=user_id))
