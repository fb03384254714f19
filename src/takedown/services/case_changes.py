"""Saving a change of a case made by a person (``cases.Case``'s review methods): the case's
row and its review state, the events raised, and the audit entry, in the caller's unit of
work. Shared by review (``services.review``) and the reporter's status page, whose appeal
reopens a case."""

from __future__ import annotations

from datetime import datetime

from takedown.cases import Case, CaseStatus, Change, ClaimHeld, ReviewPolicy, ReviewRefused
from takedown.identity import Principal
from takedown.services import audit
from takedown.services.errors import Conflict
from takedown.store.uow import UnitOfWork


class ReviewConflict(Conflict):
    """A review rule refused: ``rule`` names it (``claim_held``, ``own_proposal``, …)."""

    def __init__(self, refused: ReviewRefused) -> None:
        super().__init__(str(refused))
        self.rule = refused.rule
        self.code = refused.rule  # the error's code names the rule
        self.holder = refused.holder if isinstance(refused, ClaimHeld) else None


def save_change(
    uow: UnitOfWork,
    before: Case,
    change: Change,
    *,
    actor: Principal,
    action: str,
    details: dict[str, object],
    now: datetime,
) -> Case:
    after = change.case
    uow.cases.save(after, before=before)
    uow.cases.save_review(after)
    for event in change.events:
        uow.publish(event)
    audit.record(
        uow,
        actor=actor,
        action=action,
        target_type="case",
        target_id=after.id,
        details=details,
        at=now,
    )
    return after


def appeal_case(
    uow: UnitOfWork,
    case: Case,
    *,
    appellant: str,
    actor: Principal,
    now: datetime,
    policy: ReviewPolicy,
) -> Case:
    """Reopen a decided case as ``appealed`` in an entered unit of work (no commit). Raises
    ``ReviewConflict`` when it is not decided or too late."""
    case = uow.cases.with_review(case)
    try:
        change = case.appeal(appellant=appellant, now=now, policy=policy)
    except ReviewRefused as refused:
        raise ReviewConflict(refused) from None
    after = save_change(
        uow,
        case,
        change,
        actor=actor,
        action="case.appealed",
        details={"appellant": appellant},
        now=now,
    )
    if case.status is CaseStatus.closed:
        uow.review.reopen_items(case.id)
    return after
