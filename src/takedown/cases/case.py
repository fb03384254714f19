"""The case aggregate: what happens to a case, and the events each change raises.

Every change of a case's state is a method here, pure (no I/O, no clock of its own: ``now``
is given). Each returns a ``Change``: the case as it is after, the events raised, and the
decision made, if any. The store writes what differs between the case it loaded and the new
one (``store.case_repos.CaseRepository.save``); the service publishes the events in the same
transaction.

Invariants every method keeps (``tests/unit/test_case_aggregate.py`` checks them as
properties):

- a case's priority never drops when a report arrives or exposure grows;
- ``respond_by`` never moves later, and ``remove_by`` (the TAKE IT DOWN Act's 48 hours from
  the first valid ``ncii`` request) never moves later once set;
- only an open case is confirmed, once; ``confirmed_at`` is set then and never again.

Exceptions::

    CaseNotOpen   a decision was asked of a case that is already decided or closed
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from takedown.cases import review
from takedown.cases.decision import Change, Decision, Outcome
from takedown.cases.merge import CasesMerged, Merge, merge
from takedown.cases.model import (
    CaseConfirmed,
    CaseFacts,
    CasePriorityChanged,
    CaseStatus,
    Category,
    Priority,
    ReportFacts,
    case_number,
)
from takedown.cases.review import Claim, Reviewer, ReviewPolicy
from takedown.cases.triage import Clocks, TriagePolicy, clocks, triage
from takedown.matching import Match

CaseEvent = (
    CasePriorityChanged
    | CaseConfirmed
    | review.CaseClaimed
    | review.CaseReleased
    | review.SecondReviewRequested
    | review.CaseClosed
    | review.CaseHeld
    | review.CaseResumed
    | review.CaseAppealed
    | review.AppealDecided
    | review.ViolationOverturned
    | CasesMerged
)


class CaseNotOpen(Exception):
    """A decision was asked of a case that is not open (already confirmed, or closed)."""

    def __init__(self, case_id: int, status: CaseStatus) -> None:
        super().__init__(f"case {case_number(case_id)} is {status}, not open")
        self.case_id = case_id
        self.status = status


# A value: never changed in place once made; a change makes a new one (docs/developing.md,
# "The domain", says why it is not frozen).
@dataclass(slots=True)
class IncomingReport:
    """What a report brings to the case it joins, with what intake found about its item."""

    facts: ReportFacts
    content_id: str
    item_on_case: bool  # the item is already one of the case's items
    # The matches that confirm on their own (``matching.confirming`` of the item's matches).
    confirming_matches: list[Match] = field(default_factory=list)
    # Exposure the platform posted before the first report (read only when a case opens).
    exposure_fast: bool = False
    # Confirmed cases that hold the uploader's content (read only when the item is new).
    uploader_prior_removals: int = 0
    # The case about this item last closed with no violation (read only when a case opens).
    previous_case: int | None = None


@dataclass(slots=True)
class Case:
    """A case: every report about the same content, its reposts and matching media, with one
    status, one priority (and the reasons for it) and one set of clocks. ``facts`` are what
    triage reads, folded in report by report, so the priority is recomputable."""

    id: int
    status: CaseStatus
    priority: Priority
    reasons: list[dict[str, Any]]
    facts: CaseFacts
    respond_by: datetime
    remove_by: datetime | None
    opened_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None
    # Review (``cases.review``): kept by the store apart from the case's row
    # (``CaseRepository.with_review``); a case loaded for intake has none.
    claim_by: Claim | None = None
    proposal: Decision | None = None  # waiting for a second opinion
    first_look_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    second_by: str | None = None  # who agreed with, or overrode, a proposal
    appeal_of: CaseStatus | None = None  # the status the appeal reopened
    held_from: CaseStatus | None = None  # the status a hold (``on_hold``) will return to
    hold_reason: str | None = None
    escalated_to: str | None = None  # ``lead`` or ``law_enforcement``, by a reviewer
    appeal_heard: bool = False  # the decision in force was made on appeal: final

    @property
    def number(self) -> str:
        return case_number(self.id)

    @classmethod
    def open_with(cls, case_id: int, report: IncomingReport, *, policy: TriagePolicy) -> Change:
        """A new case ``case_id``, opened by its first report."""
        now = report.facts.received_at
        facts = CaseFacts().with_report(report.facts)
        if report.exposure_fast:
            facts = replace(facts, fast_exposure=True)
        if report.previous_case is not None:
            facts = replace(facts, previous_case=report.previous_case)
        empty = cls(
            id=case_id,
            status=CaseStatus.open,
            priority=Priority.p2,
            reasons=[],
            facts=facts,
            respond_by=now,
            remove_by=None,
            opened_at=now,
            updated_at=now,
            confirmed_at=None,
        )
        return empty._fold(facts, report, policy, current=None)

    def takes(self, report: IncomingReport) -> bool:
        """Whether ``report`` joins this case. A new upload that a ``block_and_report`` bank
        matched, of material this case already confirmed, is not more of this case: it is a
        new incident by its uploader (blocked, but tried), with a case of its own, so that
        account is acted on by the policy and reported to NCMEC in a report naming it (NCMEC
        takes one reported user a report)."""
        return not (
            self.status is CaseStatus.confirmed
            and report.confirming_matches
            and not report.item_on_case
        )

    def receive(self, report: IncomingReport, *, policy: TriagePolicy) -> Change:
        """Fold a report into this case: its facts, a new reporter, triage (the priority only
        rises), clocks (only earlier), and the automatic confirmation a ``block_and_report``
        match makes of an open case."""
        facts = self.facts.with_report(report.facts)
        return self._fold(facts, report, policy, current=Clocks(self.respond_by, self.remove_by))

    def _fold(
        self,
        facts: CaseFacts,
        report: IncomingReport,
        policy: TriagePolicy,
        *,
        current: Clocks | None,
    ) -> Change:
        now = report.facts.received_at
        if report.confirming_matches and not facts.block_and_report_match:
            facts = replace(facts, block_and_report_match=True)
        if report.uploader_prior_removals > facts.uploader_prior_removals:
            facts = replace(facts, uploader_prior_removals=report.uploader_prior_removals)
        after = self._retriaged(facts, policy, now, current=current)
        change = Change(case=after, events=[], adds_item=not report.item_on_case)
        if current is not None and after.priority is not self.priority:
            change.events.append(_priority_changed(self, after))
        if report.confirming_matches and after.status is CaseStatus.open:
            decision = Decision.by_bank_match(report.confirming_matches, at=now)
            confirmed = after.confirm(decision, content_ids=[report.content_id])
            change.case = confirmed.case
            change.events += confirmed.events
            change.decision = decision
        return change

    def record_exposure(self, *, fast: bool, policy: TriagePolicy, now: datetime) -> Change:
        """The platform's exposure counts for one of the case's items: fast growth raises the
        case once (its clocks only move earlier); anything else changes nothing."""
        if not fast or self.facts.fast_exposure:
            return Change(case=self, events=[])
        facts = replace(self.facts, fast_exposure=True)
        after = self._retriaged(facts, policy, now, current=Clocks(self.respond_by, self.remove_by))
        events: list[CaseEvent] = []
        if after.priority is not self.priority:
            events.append(_priority_changed(self, after))
        return Change(case=after, events=events)

    def confirm(self, decision: Decision, *, content_ids: list[str]) -> Change:
        """Confirm a violation: the case leaves the queue for enforcement. Raises
        ``CaseNotOpen`` unless the case is open, and ``ValueError`` for a decision that is
        not a violation."""
        if decision.outcome is not Outcome.violation:
            raise ValueError("only a violation confirms a case")
        if self.status is not CaseStatus.open:
            raise CaseNotOpen(self.id, self.status)
        after = self.copied()
        after.status = CaseStatus.confirmed
        after.facts = replace(
            self.facts,
            decided_category=decision.category,
            decided_csam=self.facts.decided_csam or decision.category is Category.csam,
        )
        after.confirmed_at = decision.decided_at
        after.updated_at = decision.decided_at
        event = CaseConfirmed(
            case_id=self.id,
            content_ids=content_ids,
            automated=decision.automated,
            reason=decision.reason,
        )
        return Change(case=after, events=[event], decision=decision)

    def may_see(self, reviewer: Reviewer) -> bool:
        """Whether ``reviewer`` may see this case at all (``cases.review``)."""
        return review.may_see(self, reviewer)

    def claim(self, reviewer: Reviewer, *, now: datetime, policy: ReviewPolicy) -> Change:
        """Claim the case for ``policy.claim_for``, or renew one's claim (``cases.review``)."""
        return review.claim(self, reviewer, now=now, policy=policy)

    def release(self, reviewer: Reviewer) -> Change:
        """Give the claim back, or, a lead, take it away (``cases.review``)."""
        return review.release(self, reviewer)

    def decide(
        self, decision: Decision, reviewer: Reviewer, *, content_ids: list[str], now: datetime
    ) -> Change:
        """A reviewer's decision under their claim, with four eyes on minor-safety cases and
        appeals decided by someone else (``cases.review``)."""
        return review.decide(self, decision, reviewer, content_ids=content_ids, now=now)

    def assign(
        self, lead: Reviewer, to: Reviewer, *, now: datetime, policy: ReviewPolicy
    ) -> Change:
        """A lead gives the case's claim to ``to`` (``cases.review``)."""
        return review.assign(self, lead, to, now=now, policy=policy)

    def hold(self, lead: Reviewer, *, reason: str, now: datetime) -> Change:
        """A lead puts the case on hold (``cases.review``)."""
        return review.hold(self, lead, reason=reason, now=now)

    def resume(self, lead: Reviewer, *, now: datetime) -> Change:
        """A lead takes the case off hold (``cases.review``)."""
        return review.resume(self, lead, now=now)

    def absorb(
        self,
        other: Case,
        reviewer: Reviewer,
        *,
        reporters: int,
        brings_content: bool,
        policy: TriagePolicy,
        now: datetime,
    ) -> Merge:
        """Merge ``other`` into this case (``cases.merge``)."""
        return merge(
            self,
            other,
            reviewer,
            reporters=reporters,
            brings_content=brings_content,
            policy=policy,
            now=now,
        )

    @property
    def category(self) -> Category:
        """What the case is about: the category decided while a violation is in force,
        otherwise the most severe any report gave (``CaseFacts.category``). It sets the
        queue's filter, the filing with NCMEC and the enforcement policy."""
        return self.facts.category

    @property
    def minor_safety(self) -> bool:
        return self.facts.minor_safety

    def appeal(self, *, appellant: str, now: datetime, policy: ReviewPolicy) -> Change:
        """Reopen a decided case as ``appealed`` (``cases.review``)."""
        return review.appeal(self, appellant=appellant, now=now, policy=policy)

    def _retriaged(
        self, facts: CaseFacts, policy: TriagePolicy, now: datetime, *, current: Clocks | None
    ) -> Case:
        result = triage(facts, policy)
        priority = result.priority
        if current is not None and priority.level > self.priority.level:
            priority = self.priority  # the policy changed since; a case is never lowered
        clock = clocks(priority=priority, facts=facts, policy=policy, now=now, current=current)
        after = self.copied()
        after.priority = priority
        after.reasons = [reason.as_json() for reason in result.reasons]
        after.facts = facts
        after.respond_by = clock.respond_by
        after.remove_by = clock.remove_by
        after.updated_at = now
        return after

    def copied(self) -> Case:
        # Every field named (not ``dataclasses.replace``, which looks the fields up each
        # time): intake makes one or two for every report.
        return Case(
            id=self.id,
            status=self.status,
            priority=self.priority,
            reasons=self.reasons,
            facts=self.facts,
            respond_by=self.respond_by,
            remove_by=self.remove_by,
            opened_at=self.opened_at,
            updated_at=self.updated_at,
            confirmed_at=self.confirmed_at,
            claim_by=self.claim_by,
            proposal=self.proposal,
            first_look_at=self.first_look_at,
            decided_at=self.decided_at,
            decided_by=self.decided_by,
            second_by=self.second_by,
            appeal_of=self.appeal_of,
            held_from=self.held_from,
            hold_reason=self.hold_reason,
            escalated_to=self.escalated_to,
            appeal_heard=self.appeal_heard,
        )


def _priority_changed(before: Case, after: Case) -> CasePriorityChanged:
    return CasePriorityChanged(
        case_id=before.id,
        old=before.priority.value,
        new=after.priority.value,
        reasons=[r["code"] for r in after.reasons],
    )


__all__ = [
    "Case",
    "CaseEvent",
    "CaseNotOpen",
    "Change",
    "Decision",
    "IncomingReport",
    "Outcome",
]
