"""Staff accounts, API keys and personal tokens, console sessions and the browsers trusted to
log in: the identity package's values, stored."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from takedown.identity import ApiKey, Role, Scope, StaffSession, User
from takedown.store.models import (
    ApiKeyRow,
    LoginDeviceRow,
    StaffSessionRow,
    UserRow,
)
from takedown.store.types import utcnow
from takedown.store.values import row_value


def _user(row: UserRow) -> User:
    return row_value(User, row, role=Role(row.role))


def _key(row: ApiKeyRow) -> ApiKey:
    return row_value(ApiKey, row, scopes=frozenset(Scope(s) for s in row.scopes))


def _staff_session(row: StaffSessionRow) -> StaffSession:
    return row_value(StaffSession, row)


class UserRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(self, *, name: str, role: Role, password_hash: str | None) -> User:
        row = UserRow(
            name=name,
            role=role.value,
            password_hash=password_hash,
            active=True,
            failed_logins=0,
            created_at=utcnow(),
        )
        self._s.add(row)
        self._s.flush()
        return _user(row)

    def get(self, user_id: int) -> User | None:
        row = self._s.get(UserRow, user_id)
        return _user(row) if row else None

    def get_by_name(self, name: str) -> User | None:
        row = self._s.scalar(select(UserRow).where(UserRow.name == name))
        return _user(row) if row else None

    def list(self) -> list[User]:
        return [_user(r) for r in self._s.scalars(select(UserRow).order_by(UserRow.id))]

    def update(self, user_id: int, **values: Any) -> None:
        if "role" in values and isinstance(values["role"], Role):
            values["role"] = values["role"].value
        self._s.execute(update(UserRow).where(UserRow.id == user_id).values(**values))


class ApiKeyRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(
        self,
        *,
        key_id: str,
        digest: str,
        name: str,
        user_id: int | None,
        scopes: Sequence[Scope],
        created_by: str,
    ) -> ApiKey:
        row = ApiKeyRow(
            key_id=key_id,
            digest=digest,
            name=name,
            user_id=user_id,
            scopes=sorted(s.value for s in scopes),
            created_by=created_by,
            created_at=utcnow(),
        )
        self._s.add(row)
        self._s.flush()
        return _key(row)

    def get(self, key_pk: int) -> ApiKey | None:
        row = self._s.get(ApiKeyRow, key_pk)
        return _key(row) if row else None

    def get_by_key_id(self, key_id: str) -> ApiKey | None:
        row = self._s.scalar(select(ApiKeyRow).where(ApiKeyRow.key_id == key_id))
        return _key(row) if row else None

    def list(self, *, user_id: int | None = None, personal: bool | None = None) -> list[ApiKey]:
        q = select(ApiKeyRow).order_by(ApiKeyRow.id)
        if user_id is not None:
            q = q.where(ApiKeyRow.user_id == user_id)
        if personal is True:
            q = q.where(ApiKeyRow.user_id.is_not(None))
        elif personal is False:
            q = q.where(ApiKeyRow.user_id.is_(None))
        return [_key(r) for r in self._s.scalars(q)]

    def revoke(self, key_pk: int, at: datetime) -> None:
        self._s.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.id == key_pk, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    def revoke_all_of_user(self, user_id: int, at: datetime) -> int:
        result = self._s.execute(
            update(ApiKeyRow)
            .where(ApiKeyRow.user_id == user_id, ApiKeyRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    def touch(self, key_pk: int, at: datetime) -> None:
        self._s.execute(update(ApiKeyRow).where(ApiKeyRow.id == key_pk).values(last_used_at=at))


class StaffSessionRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def add(
        self, *, key_id: str, digest: str, user_id: int, csrf_token: str, expires_at: datetime
    ) -> StaffSession:
        row = StaffSessionRow(
            key_id=key_id,
            digest=digest,
            user_id=user_id,
            csrf_token=csrf_token,
            expires_at=expires_at,
            created_at=utcnow(),
        )
        self._s.add(row)
        self._s.flush()
        return _staff_session(row)

    def get_by_key_id(self, key_id: str) -> StaffSession | None:
        row = self._s.scalar(select(StaffSessionRow).where(StaffSessionRow.key_id == key_id))
        return _staff_session(row) if row else None

    def revoke(self, session_pk: int, at: datetime) -> None:
        self._s.execute(
            update(StaffSessionRow)
            .where(StaffSessionRow.id == session_pk, StaffSessionRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )

    def revoke_all_of_user(self, user_id: int, at: datetime) -> None:
        self._s.execute(
            update(StaffSessionRow)
            .where(StaffSessionRow.user_id == user_id, StaffSessionRow.revoked_at.is_(None))
            .values(revoked_at=at)
        )


class LoginDeviceRepository:
    """Browsers known to have logged in to an account, by the digest of their cookie."""

    def __init__(self, session: Session) -> None:
        self._s = session

    def user_of(self, digest: str, *, used_since: datetime | None = None) -> int | None:
        """The account the browser logged in to, if it did so after ``used_since``."""
        row = self._s.get(LoginDeviceRow, digest)
        if row is None or (used_since is not None and row.last_used_at < used_since):
            return None
        return row.user_id

    def remember(
        self, digest: str, user_id: int, at: datetime, *, forget_before: datetime | None = None
    ) -> None:
        """Note a login from this browser; the account's browsers unused since
        ``forget_before`` are forgotten on the way."""
        if forget_before is not None:
            self._s.execute(
                delete(LoginDeviceRow).where(
                    LoginDeviceRow.user_id == user_id, LoginDeviceRow.last_used_at < forget_before
                )
            )
        row = self._s.get(LoginDeviceRow, digest)
        if row is None:
            self._s.add(
                LoginDeviceRow(digest=digest, user_id=user_id, created_at=at, last_used_at=at)
            )
        else:
            row.last_used_at = at
        self._s.flush()

    def forget_user(self, user_id: int) -> None:
        self._s.execute(delete(LoginDeviceRow).where(LoginDeviceRow.user_id == user_id))
