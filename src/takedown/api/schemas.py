"""Request and response bodies of the JSON API (``*Create`` in, ``*Read`` out)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from takedown.identity import Role, Scope


class StrictModel(BaseModel):
    """Input models refuse unknown fields, so a typo is an error and not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


class UserCreate(StrictModel):
    name: str = Field(min_length=1, max_length=64, examples=["ana"])
    role: Role
    password: str | None = Field(
        None, min_length=1, max_length=1024, description="Omit for a token-only account."
    )


class ReadModel(BaseModel):
    """Output models are read from the services' plain values by attribute name."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, value: object) -> Self:
        return cls.model_validate(value)


class UserRead(ReadModel):
    id: int
    name: str
    role: Role
    active: bool
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None


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


class ApiKeyRead(ReadModel):
    id: int
    key_id: str
    name: str
    user_id: int | None
    scopes: list[Scope]
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None

    @field_validator("scopes", mode="before")
    @classmethod
    def _sorted(cls, scopes: Iterable[Scope]) -> list[Scope]:
        return sorted(scopes)


class ApiKeyIssued(ApiKeyRead):
    secret: str = Field(description="Shown once. Store it now; takedown keeps only its hash.")


class AuditEntryRead(ReadModel):
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
