"""The audit log: the one function everything writes through, and the chain check."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from takedown.audit import AuditRecord, ChainProblem, verify_chain
from takedown.identity import Permission, Principal, require
from takedown.store.types import utcnow
from takedown.store.uow import SqlAlchemyUnitOfWork


def record(
    uow: SqlAlchemyUnitOfWork,
    *,
    actor: Principal,
    action: str,
    target_type: str | None = None,
    target_id: str | int | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Append an entry in the caller's transaction: it commits or rolls back with the change
    (entries are chained and written together when the unit of work commits).

    ``action`` is a dotted verb (``user.created``, ``auth.login_failed``); ``details`` must be
    JSON-serialisable and never holds a secret. Example::

        audit.record(uow, actor=actor, action="key.revoked", target_type="api_key",
                     target_id=key.id)
    """
    uow.audit.append(
        actor_kind=str(actor.kind),
        actor_id=actor.subject_id,
        actor_name=actor.name,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        details=details or {},
        at=at or utcnow(),
    )


@dataclass(frozen=True)
class VerifyResult:
    entries: int
    head_seq: int
    problems: list[ChainProblem]

    @property
    def ok(self) -> bool:
        return not self.problems


def head(*, uow: SqlAlchemyUnitOfWork, actor: Principal) -> tuple[int, str]:
    """The last entry's ``seq`` and hash: publish them elsewhere as an anchor."""
    require(actor, Permission.audit_read)
    with uow:
        return uow.audit.head()


def verify(
    *, uow: SqlAlchemyUnitOfWork, actor: Principal, anchors: dict[int, str] | None = None
) -> VerifyResult:
    """Walk the whole chain, and check any published ``anchors`` (seq → hash).

    Streams in batches, so memory stays flat on a long log.
    """
    require(actor, Permission.audit_read)
    uow.snapshot = True
    with uow:
        head_seq, head_hash = uow.audit.head()
        count = 0

        def counted() -> Any:
            nonlocal count
            for rec in uow.audit.iter_all():
                count += 1
                yield rec

        problems = verify_chain(counted(), head_seq=head_seq, head_hash=head_hash, anchors=anchors)
    return VerifyResult(entries=count, head_seq=head_seq, problems=problems)


def list_entries(
    *,
    uow: SqlAlchemyUnitOfWork,
    actor: Principal,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> list[AuditRecord]:
    require(actor, Permission.audit_read)
    with uow:
        return uow.audit.list(
            action=action,
            target_type=target_type,
            target_id=target_id,
            before_seq=before_seq,
            limit=limit,
        )
