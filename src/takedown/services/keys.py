"""API keys for platforms, trusted flaggers, law enforcement and metrics scrapers."""

from __future__ import annotations

from collections.abc import Iterable

from takedown.identity import (
    ApiKey,
    Permission,
    Principal,
    Scope,
    SecretKind,
    issue_secret,
    require,
)
from takedown.services.accounts import IssuedCredential, clean_label, record_issued
from takedown.services.errors import InvalidInput
from takedown.store.uow import UnitOfWork


def create_api_key(
    *, uow: UnitOfWork, actor: Principal, name: str, scopes: Iterable[Scope]
) -> IssuedCredential:
    """Issue a key. The secret is in the result only; the store keeps its SHA-256.

    Raises ``InvalidInput`` without scopes or with a bad name. Example::

        issued = create_api_key(uow=uow, actor=admin, name="upload-path", scopes=[Scope.scan])
        print(issued.secret)  # tdk_…, shown once
    """
    require(actor, Permission.keys_manage)
    scope_set = frozenset(scopes)
    if not scope_set:
        raise InvalidInput("a key needs at least one scope", field="scopes")
    name = clean_label(name)
    issued = issue_secret(SecretKind.api_key)
    with uow:
        key = uow.keys.add(
            key_id=issued.key_id,
            digest=issued.digest,
            name=name,
            user_id=None,
            scopes=sorted(scope_set),
            created_by=actor.name,
        )
        record_issued(uow, actor, key)
        uow.commit()
    return IssuedCredential(key=key, secret=issued.value)


def list_api_keys(*, uow: UnitOfWork, actor: Principal) -> list[ApiKey]:
    require(actor, Permission.keys_manage)
    with uow:
        return uow.keys.list(personal=False)
