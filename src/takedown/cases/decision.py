"""A decision about a case, and what a method of ``Case`` gives back (``Change``). Apart
from ``case.py`` so the review rules (``review.py``) and the aggregate both import them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from takedown.cases.model import Category
from takedown.matching import Match

if TYPE_CHECKING:
    from takedown.cases.case import Case, CaseEvent


class Outcome(StrEnum):
    violation = "violation"  # the content breaks the law or the platform's rules
    no_violation = "no_violation"
    escalate = "escalate"  # to a lead, or to law-enforcement liaison, with a note
    need_more_info = "need_more_info"  # a question to the reporter; the clock keeps running


@dataclass(frozen=True, slots=True)
class Decision:
    """A decision about a case: what was decided and why, by whom, when, and whether a
    person made it. ``statement`` is the statement of reasons the reporters read (the DSA's
    Article 17 asks for one); ``reason`` is the short form staff see in lists and the audit
    log. ``grounds`` are the facts it rests on (an automated decision's bank matches)."""

    outcome: Outcome
    category: Category
    reason: str
    statement: str
    decided_by: str  # a reviewer's user name, or the system principal's (``matcher``)
    decided_at: datetime
    automated: bool
    grounds: tuple[dict[str, Any], ...] = ()
    escalate_to: str | None = None  # an escalation's target: ``lead`` or ``law_enforcement``
    # A CSAM violation's industry classification, chosen by the reviewer: A1, A2, B1 or B2
    # (``authorities.IndustryClassification``), filed with each file to NCMEC.
    classification: str | None = None

    @classmethod
    def by_bank_match(cls, matches: list[Match], *, at: datetime) -> Decision:
        """The automated decision on content that matched a ``block_and_report`` bank."""
        banks = sorted({m.bank for m in matches})
        reason = f"matched the known-CSAM hash bank{'s' if len(banks) > 1 else ''} " + ", ".join(
            banks
        )
        return cls(
            outcome=Outcome.violation,
            category=Category.csam,
            reason=reason,
            statement=f"Confirmed automatically: the content {reason}. Its removal, with every "
            "copy, is the next step; this page will say when it is done.",
            decided_by="matcher",
            decided_at=at,
            automated=True,
            grounds=tuple(
                {
                    "bank": m.bank,
                    "signal_type": str(m.signal_type),
                    "entry_id": m.entry_id,
                    "distance": m.distance,
                }
                for m in matches
            ),
        )


@dataclass(slots=True)
class Change:
    """What a method of ``Case`` gives: the case after, the events raised and the decision
    made (to be stored and published in the caller's transaction)."""

    case: Case
    events: list[CaseEvent]
    decision: Decision | None = None
    adds_item: bool = False  # the report's item joins the case
