"""The audit log: the one function everything writes through, and the chain check."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from takedown.audit import AuditRecord, ChainProblem, verify_chain
from takedown.identity import Permission, Principal, require
from takedown.store.types import utcnow
from takedown.store.uow import UnitOfWork


def record(
    uow: UnitOfWork,
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


def head(*, uow: UnitOfWork, actor: Principal) -> tuple[int, str]:
    """The last entry's ``seq`` and hash: publish them elsewhere as an anchor."""
    require(actor, Permission.audit_read)
    with uow:
        return uow.audit.head()


def verify(
    *, uow: UnitOfWork, actor: Principal, anchors: dict[int, str] | None = None
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
    uow: UnitOfWork,
    actor: Principal,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> list[AuditRecord]:
    """Entries newest first. For someone without the child-safety permission, entries about a
    minor-safety case (the case itself, its reports, actions and content) keep their number,
    time, actor and action, but not what they were about: no target, no details (where the
    reasons for decisions and for opening evidence are). Asked for such a case by its id, the
    log answers nothing, as every other read does."""
    require(actor, Permission.audit_read)
    with uow:
        records = uow.audit.list(
            action=action,
            target_type=target_type,
            target_id=target_id,
            before_seq=before_seq,
            limit=limit,
        )
        if actor.sees_minor_safety:
            return records
        hidden = about_minors(uow, records)
    if target_id is not None and hidden:
        return [r for r in records if r.seq not in hidden]
    return [_redacted(r) if r.seq in hidden else r for r in records]


EXPORT_PAGE = 1000


def export(
    *,
    uow: Callable[[], UnitOfWork],
    actor: Principal,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
) -> Iterator[AuditRecord]:
    """Every entry the filters select, newest first, read a page at a time (``uow`` makes a
    unit of work per page), redacted as ``list_entries`` does."""
    before = None
    while True:
        page = list_entries(
            uow=uow(),
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before_seq=before,
            limit=EXPORT_PAGE,
        )
        yield from page
        if len(page) < EXPORT_PAGE:
            return
        before = page[-1].seq


def json_line(record: AuditRecord) -> str:
    """An entry as one line of JSON, with ``prev_hash`` and ``hash``: an export verifies by
    itself (each entry's hash covers its fields and the one before)."""
    return json.dumps({**asdict(record), "at": record.at.isoformat()}, default=str) + "\n"


_REDACTED = {"redacted": "about a case concerning a minor: needs the child-safety permission"}


def _redacted(record: AuditRecord) -> AuditRecord:
    return replace(record, target_id=None, details=dict(_REDACTED))


def _case_of(record: AuditRecord) -> int | None:
    if record.target_type == "case" and record.target_id and record.target_id.isdigit():
        return int(record.target_id)
    case_id = record.details.get("case_id")
    return case_id if isinstance(case_id, int) else None


def about_minors(uow: UnitOfWork, records: list[AuditRecord]) -> set[int]:
    """The ``seq`` of each entry about a minor-safety case."""
    action_ids = {r.target_id for r in records if r.target_type == "action" and r.target_id}
    action_cases = {a: uow.actions.by_action_id(a) for a in action_ids}
    cases = {r.seq: _case_of(r) for r in records}
    for r in records:
        action = action_cases.get(r.target_id or "") if r.target_type == "action" else None
        if action is not None:
            cases[r.seq] = action.case_id
    minors = uow.cases.minor_safety_among({c for c in cases.values() if c is not None})
    contents = {r.target_id for r in records if r.target_type == "content" and r.target_id}
    minor_contents = uow.cases.minor_safety_content(contents)
    return {
        r.seq
        for r in records
        if cases[r.seq] in minors or (r.target_type == "content" and r.target_id in minor_contents)
    }
