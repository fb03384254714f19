"""Bulk actions on the queue, for leads: assign many cases to one reviewer, or put many on
hold with one reason. Each case is its own use case (``review.assign``, ``review.hold``) in
its own transaction, under every rule that applies to it alone, so one refusal (someone else
holds it, a reviewer without the child-safety permission cannot take a case about a minor)
stops only that case, and the answer says which and why.

Decisions are never made in bulk: a violation or "no violation" is one reviewer's look at one
case (and, about a minor, two reviewers'), so there is no bulk decision here at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from takedown.cases import case_number
from takedown.identity import Permission, Principal, require
from takedown.services import review
from takedown.services.errors import Conflict, InvalidInput, NotFound
from takedown.services.text import clean_text
from takedown.store.uow import UnitOfWork

MAX_CASES = 100  # a page of the queue, twice over


class BulkAction(StrEnum):
    assign = "assign"
    hold = "hold"


@dataclass(frozen=True)
class BulkResult:
    done: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (case id, why)

    def summary(self, action: BulkAction) -> str:
        verb = {BulkAction.assign: "assigned", BulkAction.hold: "put on hold"}[action]
        text = f"{len(self.done)} case{'' if len(self.done) == 1 else 's'} {verb}."
        if self.refused:
            text += (
                " Not "
                + verb
                + ": "
                + "; ".join(f"{case_number(case_id)} ({why})" for case_id, why in self.refused)
            )
        return text


def run(
    *,
    uow: Callable[[], UnitOfWork],
    actor: Principal,
    case_ids: list[int],
    action: BulkAction,
    to_user: str | None = None,
    reason: str | None = None,
    now: datetime,
    settings: review.ReviewSettings,
) -> BulkResult:
    """Apply ``action`` to each of ``case_ids`` (at most ``MAX_CASES``), one transaction each.
    ``uow`` makes a new unit of work. Raises ``InvalidInput`` for a request that fits no case
    (no case chosen, no reason for a hold, no such reviewer)."""
    require(actor, Permission.cases_lead)
    chosen = list(dict.fromkeys(case_ids))
    if not chosen:
        raise InvalidInput("choose at least one case", field="case")
    if len(chosen) > MAX_CASES:
        raise InvalidInput(f"at most {MAX_CASES} cases at once", field="case")
    if action is BulkAction.hold:
        text = clean_text(reason, "reason", review.MAX_REASON)
        if not text:
            raise InvalidInput("say why the cases are on hold", field="reason")
    else:
        name = (to_user or "").strip()
        with uow() as reading:
            user = reading.users.get_by_name(name) if name else None
        if user is None or not user.active:
            raise InvalidInput(f"no active user named {name!r}", field="to")
    result = BulkResult()
    for case_id in chosen:
        try:
            if action is BulkAction.hold:
                review.hold(uow=uow(), actor=actor, case_id=case_id, reason=text or "", now=now)
            else:
                review.assign(
                    uow=uow(),
                    actor=actor,
                    case_id=case_id,
                    to_user=name,
                    now=now,
                    settings=settings,
                )
        except (Conflict, InvalidInput, NotFound) as refused:
            result.refused.append((case_id, str(refused)))
        else:
            result.done.append(case_id)
    return result
