"""Staff users, API keys and sessions as plain values, and the events they raise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from takedown.identity.model import Role, Scope


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: Role
    active: bool
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime
    last_login_at: datetime | None
    password_hash: str | None = None
    child_safety: bool = False  # granted to see cases about minors (``Principal``)
    daily_reveal_cap: int | None = None  # a lead's cap on this reviewer's reveals a day
    # How the reviewer wants media shown: at least this blur, grayscale and a warning screen
    # for every category (each only adds to what the settings give).
    blur_radius: int | None = None
    always_grayscale: bool = False
    always_warn: bool = False

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now


@dataclass(frozen=True)
class ApiKey:
    """An API key (``user_id`` None) or a staff member's personal token (``user_id`` set)."""

    id: int
    key_id: str
    digest: str
    name: str
    user_id: int | None
    scopes: frozenset[Scope]
    created_at: datetime
    created_by: str
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def is_personal_token(self) -> bool:
        return self.user_id is not None


@dataclass(frozen=True)
class StaffSession:
    id: int
    key_id: str
    digest: str
    user_id: int
    csrf_token: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None


# Events (past tense). ``event_type`` is the stable name stored in the outbox.


@dataclass(frozen=True)
class UserCreated:
    event_type: ClassVar[str] = "identity.user_created"
    user_id: int
    name: str
    role: str


@dataclass(frozen=True)
class PermissionChanged:
    """A staff member's permissions changed (the child-safety grant): credentials checked
    before must be checked again."""

    event_type: ClassVar[str] = "identity.permission_changed"
    user_id: int
    name: str


@dataclass(frozen=True)
class AccountLockedOut:
    event_type: ClassVar[str] = "identity.account_locked_out"
    user_id: int
    name: str
    locked_until: datetime


@dataclass(frozen=True)
class CredentialIssued:
    event_type: ClassVar[str] = "identity.credential_issued"
    key_id: int
    name: str
    user_id: int | None
    scopes: list[str]


@dataclass(frozen=True)
class CredentialRevoked:
    event_type: ClassVar[str] = "identity.credential_revoked"
    key_id: int
    name: str
