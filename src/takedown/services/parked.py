"""Deferred work parked for a person: outbox events whose last attempt failed (the job
runtime's rule, ``takedown.retry``), listed with their last error and retried by an operator.
The other lanes park in their own tables and are retried from their own lists: failed actions
(``services.actions``) and failed filings (``services.filing``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from takedown.identity import Permission, Principal, require
from takedown.services import audit
from takedown.services.errors import NotFound
from takedown.store.outbox_repos import OutboxMessage
from takedown.store.uow import UnitOfWork


@dataclass(frozen=True)
class ParkedEvent:
    """A parked event as the operations page shows it. ``hidden``: it concerns a case about
    a minor and the viewer lacks the child-safety permission, so its case and its error (which
    may name content or an account) are left out; the retry needs only its id."""

    id: int
    event_type: str
    attempts: int
    since: datetime
    last_error: str | None
    case_id: int | None
    hidden: bool = False


def _case_of(message: OutboxMessage) -> int | None:
    case_id = message.payload.get("case_id")
    return case_id if isinstance(case_id, int) else None


def parked_events(*, uow: UnitOfWork, actor: Principal) -> list[ParkedEvent]:
    require(actor, Permission.actions_manage)
    with uow:
        messages = uow.outbox.parked()
        cases = {c for m in messages if (c := _case_of(m)) is not None}
        minors = set() if actor.sees_minor_safety else uow.cases.minor_safety_among(cases)
    shown = []
    for m in messages:
        case_id = _case_of(m)
        hidden = case_id in minors
        shown.append(
            ParkedEvent(
                id=m.id,
                event_type=m.event_type,
                attempts=m.attempts,
                since=m.available_at,
                last_error=None if hidden else m.last_error,
                case_id=None if hidden else case_id,
                hidden=hidden,
            )
        )
    return shown


def retry_event(*, uow: UnitOfWork, actor: Principal, event_id: int, now: datetime) -> str:
    """A parked event is tried again from now on (its attempts counted afresh); returns its
    type, for the caller to wake the lane that runs it."""
    require(actor, Permission.actions_manage)
    with uow:
        message = uow.outbox.requeue(event_id, now=now)
        if message is None:
            raise NotFound(f"no parked event {event_id}")
        audit.record(
            uow,
            actor=actor,
            action="event.retried",
            target_type="event",
            target_id=str(event_id),
            details={"event_type": message.event_type},
            at=now,
        )
        uow.commit()
    return message.event_type
