"""Request and response bodies of the JSON API (``*Create`` in, ``*Read`` out)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from takedown.identity import ApiKey, Role, Scope, User


class StrictModel(BaseModel):
    """Input models refuse unknown fields, so a typo is an error and not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class UserCreate(StrictModel):
    name: str = Field(min_length=1, max_length=64, examples=["ana"])
    role: Role
    password: str | None = Field(
        None, min_length=1, max_length=1024, description="Omit for a token-only account."
    )


class UserRead(BaseModel):
    id: int
    name: str
    role: Role
    active: bool
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserRead:
        return cls(
            id=user.id,
            name=user.name,
            role=user.role,
            active=user.active,
            locked_until=user.locked_until,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )


class MeRead(BaseModel):
    kind: str
    name: str
    role: Role | None
    scopes: list[Scope]
    permissions: list[str]


class ApiKeyCreate(StrictModel):
    name: str = Field(min_length=1, max_length=128, examples=["upload-path"])
    scopes: list[Scope] = Field(min_length=1, examples=[["scan"]])


class TokenCreate(StrictModel):
    name: str = Field(min_length=1, max_length=128, examples=["review-tool"])


class ApiKeyRead(BaseModel):
    id: int
    key_id: str
    name: str
    user_id: int | None
    scopes: list[Scope]
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyRead:
        return cls(
            id=key.id,
            key_id=key.key_id,
            name=key.name,
            user_id=key.user_id,
            scopes=sorted(key.scopes),
            created_at=key.created_at,
            created_by=key.created_by,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class ApiKeyIssued(ApiKeyRead):
    secret: str = Field(description="Shown once. Store it now; takedown keeps only its hash.")


class AuditEntryRead(BaseModel):
    seq: int
    at: datetime
    actor_kind: str
    actor_id: int | None
    actor_name: str
    action: str
    target_type: str | None
    target_id: str | None
    details: dict[str, object]
    hash: str


class AuditVerifyRead(BaseModel):
    ok: bool
    entries: int
    head_seq: int
    problems: list[str]
