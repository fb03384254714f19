"""Merging two cases that are the same thing: pure, like the rest of ``cases``.

Two cases can be about one thing without intake seeing it: the same content under two ids, a
report by link whose platform could not say which content it shows, a repost the platform
never told us was one. A reviewer links them (a note on both, no state changes), or merges
one into the other: every report, reporter, item, message and action of the *merged* case
moves to the *kept* one, whose facts, priority and clocks become those of one case that had
heard every report. What the merge keeps:

- **Clocks at the earliest.** ``respond_by``, ``remove_by`` and ``opened_at`` are the earlier
  of the two; the priority the higher, or higher still if the joined facts say so (triage);
  nothing moves later or lower.
- **Every protection.** The kept case is minor-safety if either was (the facts are joined), so
  the child-safety permission and four eyes hold on it; a reviewer who may not see either case
  cannot merge them.
- **Nothing decided is undone or left behind.** Only an undecided case (open or on hold, no
  proposal waiting, claimed by nobody else) is merged away. It may join an undecided case, or a
  confirmed one when it brings no content of its own and nothing more severe than what was
  confirmed (its reporters then see that outcome); a case closed with no violation takes
  nothing, since its new reports would never be reviewed.

The merged case keeps its number, with ``status`` ``merged`` and ``facts.merged_into``.

Exceptions (``ReviewRefused``, as every review rule)::

    NotPermitted   the reviewer may not see one of the cases
    ClaimHeld      someone else holds the merged case's claim
    NotDecidable   the pair cannot be merged (the message says why)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from takedown.cases.decision import Change
from takedown.cases.model import CasePriorityChanged, CaseStatus, Category, most_severe
from takedown.cases.review import ClaimHeld, NotDecidable, NotPermitted, Reviewer
from takedown.cases.triage import Clocks, TriagePolicy

if TYPE_CHECKING:
    from takedown.cases.case import Case, CaseEvent

MERGEABLE = frozenset({CaseStatus.open, CaseStatus.on_hold})  # what may be merged away
TAKES_UNDECIDED = frozenset(
    {CaseStatus.open, CaseStatus.on_hold, CaseStatus.pending_second_review, CaseStatus.appealed}
)


@dataclass(frozen=True)
class CasesMerged:
    """``merged_case_id`` was merged into ``case_id``: its reports and items are there now."""

    event_type: ClassVar[str] = "cases.merged"
    case_id: int
    merged_case_id: int
    by: str


@dataclass(frozen=True)
class Merge:
    kept: Change
    merged: Change


def merge(
    kept: Case,
    merged: Case,
    reviewer: Reviewer,
    *,
    reporters: int,
    brings_content: bool,
    policy: TriagePolicy,
    now: datetime,
) -> Merge:
    """Merge ``merged`` into ``kept``. ``reporters`` is the number of distinct reporters of
    both cases together; ``brings_content`` whether ``merged`` has an item ``kept`` has not
    (a link the platform resolved to nothing does not count). Raises ``ReviewRefused``."""
    if not (kept.may_see(reviewer) and merged.may_see(reviewer)):
        raise NotPermitted("this case is about a minor: the child-safety permission is needed")
    if kept.id == merged.id:
        raise NotDecidable("a case cannot be merged into itself")
    if merged.status not in MERGEABLE or merged.proposal is not None:
        raise NotDecidable(
            f"{merged.number} is {merged.status}: only an undecided case is merged away "
            "(link decided cases instead)"
        )
    held = merged.claim_by
    if held is not None and held.until > now and held.user_id != reviewer.user_id:
        raise ClaimHeld(held.name, held.until)
    if kept.status is CaseStatus.confirmed:
        if brings_content:
            raise NotDecidable(
                f"{kept.number} is already decided and {merged.number} has content of its own: "
                "decide it, or merge the other way"
            )
        if _severity(most_severe(merged.facts.categories)) < _severity(kept.category):
            raise NotDecidable(
                f"{merged.number} was reported as {most_severe(merged.facts.categories)}, "
                f"more severe than the {kept.category} {kept.number} was confirmed as: decide it"
            )
    elif kept.status not in TAKES_UNDECIDED:
        raise NotDecidable(f"{kept.number} is {kept.status}: it takes no more reports")

    facts = kept.facts.joined(merged.facts, reporters=reporters)
    floor = kept.copied()
    if merged.priority.level < kept.priority.level:
        floor.priority = merged.priority  # the higher of the two, at least
    current = Clocks(
        respond_by=min(kept.respond_by, merged.respond_by),
        remove_by=_earliest(kept.remove_by, merged.remove_by),
    )
    after = floor._retriaged(facts, policy, now, current=current)
    after.opened_at = min(kept.opened_at, merged.opened_at)
    events: list[CaseEvent] = []
    if after.priority is not kept.priority:
        events.append(
            CasePriorityChanged(
                case_id=kept.id,
                old=kept.priority.value,
                new=after.priority.value,
                reasons=[r["code"] for r in after.reasons],
            )
        )
    events.append(CasesMerged(case_id=kept.id, merged_case_id=merged.id, by=reviewer.name))

    gone = merged.copied()
    gone.status = CaseStatus.merged
    gone.facts = replace(merged.facts, merged_into=kept.id)
    gone.claim_by = None
    gone.held_from = None
    gone.hold_reason = None
    gone.updated_at = now
    return Merge(
        kept=Change(case=after, events=events),
        merged=Change(case=gone, events=[]),
    )


def _severity(category: Category) -> int:
    """0 for the most severe category (``Category`` is declared most severe first)."""
    return list(Category).index(category)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return min(a, b)


__all__ = ["MERGEABLE", "CasesMerged", "Merge", "merge"]
