"""The platform's actions: pulled and acknowledged by the platform (for platforms that cannot
receive webhooks), and the failed deliveries an operator retries."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from takedown.identity import Permission, Principal, require
from takedown.services import audit
from takedown.services.delivery import publish_removals
from takedown.services.errors import InvalidInput, NotFound
from takedown.store.enforcement_repos import ActionRecord
from takedown.store.uow import UnitOfWork


def pull(
    *, uow: UnitOfWork, actor: Principal, after: int, limit: int
) -> tuple[list[ActionRecord], int | None]:
    """Pending actions in delivery order after the cursor ``after``; and the next cursor
    (None when there are no more)."""
    require(actor, Permission.actions_pull)
    if after < 0:
        raise InvalidInput("after is a cursor this API gave, or 0", field="after")
    with uow:
        found = uow.actions.after(after, limit=limit + 1)
    more = len(found) > limit
    found = found[:limit]
    return found, (found[-1].id if more and found else None)


def ack(*, uow: UnitOfWork, actor: Principal, action_id: str, now: datetime) -> ActionRecord:
    """The platform carried out ``action_id``: it is delivered (again: no change)."""
    require(actor, Permission.actions_pull)
    with uow:
        before = uow.actions.by_action_id(action_id)
        done = uow.actions.ack(action_id, at=now)
        if done is None:
            raise NotFound(f"no action {action_id}")
        if before is not None and before.state != "delivered":
            publish_removals(uow, [done])
        uow.commit()
    return done


@dataclass(frozen=True)
class FailedAction:
    """A failed delivery as the operations page shows it. ``hidden``: it belongs to a case
    about a minor and the viewer lacks the child-safety permission, so its content, account,
    reason and case are left out (the retry needs only the action's id)."""

    action: ActionRecord
    hidden: bool = False


def failed(*, uow: UnitOfWork, actor: Principal) -> list[FailedAction]:
    require(actor, Permission.actions_manage)
    with uow:
        records = uow.actions.failed()
        if actor.sees_minor_safety:
            return [FailedAction(r) for r in records]
        minors = uow.cases.minor_safety_among({r.case_id for r in records})
    return [
        FailedAction(
            replace(r, content_id=None, account_id=None, reason="", statement=""), hidden=True
        )
        if r.case_id in minors
        else FailedAction(r)
        for r in records
    ]


def counts(*, uow: UnitOfWork, actor: Principal) -> dict[str, int]:
    require(actor, Permission.actions_manage)
    with uow:
        return uow.actions.counts()


def retry(*, uow: UnitOfWork, actor: Principal, action_id: str, now: datetime) -> None:
    """A failed action is delivered again from now on (its attempts counted afresh)."""
    require(actor, Permission.actions_manage)
    with uow:
        if not uow.actions.retry(action_id, at=now):
            raise NotFound(f"no failed action {action_id}")
        audit.record(
            uow,
            actor=actor,
            action="action.retried",
            target_type="action",
            target_id=action_id,
            at=now,
        )
        uow.commit()
