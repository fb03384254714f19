"""Review: who may look at a case, claim it, decide it and hear its appeal. Pure, like the
rest of ``cases``: the methods ``Case.claim``, ``release``, ``decide`` and ``appeal`` are
these functions. The review state they read and write (the claim, a proposal, who decided and
when) is on ``Case``; the store keeps it in ``case_reviews`` (``CaseRepository.with_review``,
``save_review``).

The rules:

- **Minor safety.** A case is *minor-safety* when any report called it CSAM or said the
  person shown is a minor (``CaseFacts.minor_safety``). Only reviewers with the child-safety
  permission may see, claim or decide one (``NotPermitted``).
- **Claims.** A reviewer claims a case for a lease (``ReviewPolicy.claim_for``); while it runs
  nobody else can claim it (``ClaimHeld``), the holder may renew it, and only the holder
  decides (``NoClaim``). A decision, a proposal or a release ends the claim; a lead may release
  anyone's.
- **Four eyes.** On a minor-safety case a ``no_violation``, or a violation of a category other
  than CSAM, is only a *proposal*: the case waits in ``pending_second_review``, keeping its
  deadline, until a senior reviewer who is not the proposer claims it and agrees (the
  proposal becomes the decision) or decides otherwise. Nobody approves their own proposal
  (``OwnProposal``), senior or not.
- **A second report after "no violation".** A new case about content whose earlier case was
  closed with no violation is linked to it (``CaseFacts.previous_case``); about a minor,
  only a senior reviewer may claim it.
- **Holds.** A lead may put a claimable case on hold with a reason (out of the queue, its
  clocks kept) and take it off hold again; a lead may assign a case to a reviewer, who then
  holds its claim under the rules of their own claim.
- **Appeals.** A decided case (confirmed or closed) can be appealed within
  ``ReviewPolicy.appeal_within`` of its decision, once: a decision made on appeal is final
  here (``appeal_heard``; the DSA's next step is out-of-court settlement), so an appellant
  cannot restart the clock or try reviewer after reviewer. An appealed case is claimable
  again and decided by someone other than whoever decided it (``SameDecider``), under the
  same rules as a first decision: on a minor-safety case a ``no_violation`` or a downgrade
  from CSAM is a proposal until a senior who is neither the proposer nor the original decider
  agrees. The outcome is ``upheld`` or ``overturned``; an overturned violation raises
  ``ViolationOverturned`` for the enforcement that follows to undo.
- **The decided category.** A violation's category becomes the case's
  (``CaseFacts.decided_category``): a case reported as ``policy`` and confirmed as CSAM is
  filed with NCMEC, seen only with the child-safety permission and decided with four eyes
  from then on; one reported as CSAM and confirmed (by two people) as ``policy`` is not
  filed. A decision that called it CSAM keeps the case minor-safety for good.

Exceptions (each a ``ReviewRefused``, with ``rule`` naming the rule)::

    ReviewRefused
     ├── NotPermitted   the reviewer may not see this case (minor safety) or do this (lead)
     ├── ClaimHeld      someone else holds the claim
     ├── NoClaim        the reviewer does not hold an unexpired claim
     ├── OwnProposal    a proposer cannot give the second opinion on their own proposal
     ├── SameDecider    an appeal is decided by someone other than the original decider
     └── NotDecidable   the case is not in a state that takes this (decided, on hold, too late)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from takedown.cases.decision import Change, Decision, Outcome
from takedown.cases.model import CaseStatus, Category
from takedown.identity import SENIOR_ROLES, Permission, Principal

if TYPE_CHECKING:
    from takedown.cases.case import Case


class ReviewRefused(Exception):
    rule: ClassVar[str] = "review"


class NotPermitted(ReviewRefused):
    rule = "not_permitted"


class ClaimHeld(ReviewRefused):
    rule = "claim_held"

    def __init__(self, holder: str, until: datetime) -> None:
        super().__init__(f"{holder} holds this case until {until:%H:%M UTC}")
        self.holder = holder
        self.until = until


class NoClaim(ReviewRefused):
    rule = "no_claim"


class OwnProposal(ReviewRefused):
    rule = "own_proposal"


class SameDecider(ReviewRefused):
    rule = "same_decider"


class NotDecidable(ReviewRefused):
    rule = "not_decidable"


@dataclass(frozen=True, slots=True)
class Reviewer:
    """A staff member acting on a case, with what their role and grants allow."""

    user_id: int
    name: str
    child_safety: bool = False  # may see minor-safety cases
    senior: bool = False  # senior reviewer or child-safety lead: gives second opinions
    lead: bool = False  # may release others' claims and put cases on hold

    @classmethod
    def of(cls, principal: Principal) -> Reviewer:
        """The reviewer a principal acts as: its grant and role decide what it may do."""
        role = principal.role
        return cls(
            user_id=principal.subject_id or 0,
            name=principal.name,
            child_safety=principal.sees_minor_safety,
            senior=role is not None and role in SENIOR_ROLES,
            lead=principal.can(Permission.cases_lead),
        )


@dataclass(frozen=True, slots=True)
class Claim:
    user_id: int
    name: str
    until: datetime


@dataclass(frozen=True, slots=True)
class ReviewPolicy:
    claim_for: timedelta = timedelta(minutes=15)
    appeal_within: timedelta = timedelta(days=183)  # the DSA asks for at least six months


class AppealOutcome(StrEnum):
    upheld = "upheld"
    overturned = "overturned"


@dataclass(frozen=True)
class CaseClaimed:
    event_type: ClassVar[str] = "cases.claimed"
    case_id: int
    user_id: int
    until: datetime


@dataclass(frozen=True)
class CaseReleased:
    event_type: ClassVar[str] = "cases.released"
    case_id: int
    user_id: int


@dataclass(frozen=True)
class SecondReviewRequested:
    """A proposal on a minor-safety case waits for a senior reviewer's second opinion."""

    event_type: ClassVar[str] = "cases.second_review_requested"
    case_id: int
    proposed_by: str
    outcome: str


@dataclass(frozen=True)
class CaseClosed:
    event_type: ClassVar[str] = "cases.closed"
    case_id: int
    outcome: str
    reason: str


@dataclass(frozen=True)
class CaseHeld:
    event_type: ClassVar[str] = "cases.held"
    case_id: int
    by: str
    reason: str


@dataclass(frozen=True)
class CaseResumed:
    event_type: ClassVar[str] = "cases.resumed"
    case_id: int
    by: str


@dataclass(frozen=True)
class CaseAppealed:
    event_type: ClassVar[str] = "cases.appealed"
    case_id: int
    appellant: str  # reporter | uploader


@dataclass(frozen=True)
class AppealDecided:
    event_type: ClassVar[str] = "cases.appeal_decided"
    case_id: int
    outcome: str  # upheld | overturned


@dataclass(frozen=True)
class ViolationOverturned:
    """A confirmed violation was overturned on appeal: what enforcement did is to be undone."""

    event_type: ClassVar[str] = "cases.violation_overturned"
    case_id: int


def is_minor_safety(case: Case) -> bool:
    """Reported as CSAM, or as showing a minor, by any report (``CaseFacts.minor_safety``)."""
    return case.facts.minor_safety


def needs_senior(case: Case) -> bool:
    """A minor-safety case opened about content whose earlier case was closed with no
    violation: only a senior reviewer claims it."""
    return case.facts.previous_case is not None and is_minor_safety(case)


def may_see(case: Case, reviewer: Reviewer) -> bool:
    return reviewer.child_safety or not is_minor_safety(case)


def claim(case: Case, reviewer: Reviewer, *, now: datetime, policy: ReviewPolicy) -> Change:
    """Claim the case, or renew one's own claim, until ``now + policy.claim_for``."""

    _check_sees(case, reviewer)
    if case.status not in _CLAIMABLE:
        raise NotDecidable(f"a {case.status} case cannot be claimed")
    held = case.claim_by
    if held is not None and held.until > now and held.user_id != reviewer.user_id:
        raise ClaimHeld(held.name, held.until)
    if case.status is CaseStatus.pending_second_review:
        _check_second_opinion(case, reviewer)
    if needs_senior(case) and not reviewer.senior:
        raise NotPermitted(
            "this case is about a minor and follows one closed with no violation: it goes to "
            "a senior reviewer"
        )
    until = now + policy.claim_for
    after = case.copied()
    after.claim_by = Claim(reviewer.user_id, reviewer.name, until)
    if case.first_look_at is None:
        after.first_look_at = now
    return Change(case=after, events=[CaseClaimed(case.id, reviewer.user_id, until)])


def release(case: Case, reviewer: Reviewer) -> Change:
    """Give the claim back (its holder), or take it away (a lead)."""

    held = case.claim_by
    if held is None:
        return Change(case=case, events=[])
    if held.user_id != reviewer.user_id and not reviewer.lead:
        raise NotPermitted("only the holder of the claim or a lead can release it")
    after = case.copied()
    after.claim_by = None
    return Change(case=after, events=[CaseReleased(case.id, held.user_id)])


def decide(
    case: Case,
    decision: Decision,
    reviewer: Reviewer,
    *,
    content_ids: list[str],
    now: datetime,
) -> Change:
    """A reviewer's decision, made under their claim: it confirms, closes or, on a
    minor-safety case, becomes a proposal for a second opinion; on a case waiting for one,
    a senior's agreement makes the proposal the decision; on an appealed case, it upholds
    or overturns the decision appealed."""

    _check_sees(case, reviewer)
    held = case.claim_by
    if held is None or held.user_id != reviewer.user_id or held.until <= now:
        raise NoClaim("claim the case before deciding it")
    if case.status not in _CLAIMABLE:
        raise NotDecidable(f"a {case.status} case takes no decision")
    if case.appeal_of is not None and reviewer.name in (case.decided_by, case.second_by):
        raise SameDecider("an appeal is decided by someone other than the original decider")
    if case.status is CaseStatus.pending_second_review:
        _check_second_opinion(case, reviewer)
        proposal = case.proposal
        assert proposal is not None
        if _agrees(proposal, decision):
            # The proposal becomes the decision when the senior agrees: its time is then (what
            # was done, and every clock, starts from the agreement, not the proposal).
            agreed = replace(proposal, decided_at=now)
            return _finish(case, agreed, content_ids=content_ids, second_by=reviewer.name)
        if _needs_second_opinion(decision):
            # Deciding otherwise, but again for less than CSAM: a new proposal, this senior's,
            # that another must agree with.
            return _propose(case, decision, reviewer, now)
        return _finish(case, decision, content_ids=content_ids)
    if is_minor_safety(case) and _needs_second_opinion(decision):
        return _propose(case, decision, reviewer, now)
    if decision.outcome in (Outcome.violation, Outcome.no_violation):
        return _finish(case, decision, content_ids=content_ids)
    # escalate, need_more_info: the case stays open (or appealed) on its clock, the claim
    # ends.
    after = case.copied()
    after.claim_by = None
    after.updated_at = now
    if decision.outcome is Outcome.escalate:
        after.escalated_to = decision.escalate_to or "lead"
    return Change(case=after, events=[], decision=decision)


def assign(
    case: Case,
    lead: Reviewer,
    to: Reviewer,
    *,
    now: datetime,
    policy: ReviewPolicy,
) -> Change:
    """A lead gives the case to ``to`` (taking it from whoever holds it): ``to`` holds the
    claim as if they had made it, under every rule a claim of their own would meet."""

    if not lead.lead:
        raise NotPermitted("only a lead assigns cases")
    _check_sees(case, lead)
    released = case.copied()
    released.claim_by = None
    return claim(released, to, now=now, policy=policy)


def hold(case: Case, lead: Reviewer, *, reason: str, now: datetime) -> Change:
    """A lead puts a case on hold (out of the queue, its clocks kept) with a reason."""

    if not lead.lead:
        raise NotPermitted("only a lead puts cases on hold")
    _check_sees(case, lead)
    if case.status not in _CLAIMABLE:
        raise NotDecidable(f"a {case.status} case cannot be put on hold")
    after = case.copied()
    after.held_from = case.status
    after.hold_reason = reason
    after.status = CaseStatus.on_hold
    after.claim_by = None
    after.updated_at = now
    return Change(case=after, events=[CaseHeld(case.id, lead.name, reason)])


def resume(case: Case, lead: Reviewer, *, now: datetime) -> Change:
    """Take a case off hold, back to where it was."""

    if not lead.lead:
        raise NotPermitted("only a lead takes cases off hold")
    if case.status is not CaseStatus.on_hold:
        raise NotDecidable("the case is not on hold")
    after = case.copied()
    after.status = case.held_from or CaseStatus.open
    after.held_from = None
    after.hold_reason = None
    after.updated_at = now
    return Change(case=after, events=[CaseResumed(case.id, lead.name)])


def appeal(case: Case, *, appellant: str, now: datetime, policy: ReviewPolicy) -> Change:
    """Reopen a decided case as ``appealed`` (within ``policy.appeal_within``)."""

    if case.status not in (CaseStatus.confirmed, CaseStatus.closed):
        raise NotDecidable("only a decided case can be appealed")
    if case.appeal_heard:
        raise NotDecidable(
            "this decision was made on appeal and is final: a decision is appealed once"
        )
    decided_at = case.decided_at
    if decided_at is not None and now - decided_at > policy.appeal_within:
        raise NotDecidable("the time to appeal this decision has passed")
    after = case.copied()
    after.status = CaseStatus.appealed
    after.appeal_of = case.status
    after.updated_at = now
    return Change(case=after, events=[CaseAppealed(case.id, appellant)])


_CLAIMABLE = frozenset({CaseStatus.open, CaseStatus.pending_second_review, CaseStatus.appealed})


def _check_sees(case: Case, reviewer: Reviewer) -> None:
    if not may_see(case, reviewer):
        raise NotPermitted("this case is about a minor: it needs the child-safety permission")


def _check_second_opinion(case: Case, reviewer: Reviewer) -> None:
    proposal = case.proposal
    if not reviewer.senior:
        raise NotPermitted("a second opinion needs a senior reviewer or a child-safety lead")
    if proposal is not None and proposal.decided_by == reviewer.name:
        raise OwnProposal("nobody gives the second opinion on their own proposal")


def _needs_second_opinion(decision: Decision) -> bool:

    if decision.outcome is Outcome.no_violation:
        return True
    return decision.outcome is Outcome.violation and decision.category is not Category.csam


def _agrees(proposal: Decision, decision: Decision) -> bool:
    """The same outcome, and for a violation the same category."""

    if proposal.outcome is not decision.outcome:
        return False
    return decision.outcome is not Outcome.violation or proposal.category is decision.category


def _propose(case: Case, decision: Decision, reviewer: Reviewer, now: datetime) -> Change:
    """Park ``decision`` as a proposal for a senior's second opinion; the claim ends."""

    after = case.copied()
    after.status = CaseStatus.pending_second_review
    after.proposal = decision
    after.claim_by = None
    after.updated_at = now
    event = SecondReviewRequested(case.id, reviewer.name, str(decision.outcome))
    return Change(case=after, events=[event])


def _apply(
    case: Case, decision: Decision, *, content_ids: list[str], second_by: str | None = None
) -> Change:
    """A final decision: a violation confirms, a no-violation closes; the claim ends."""

    now = decision.decided_at
    if decision.outcome is Outcome.violation:
        opened = case.copied()
        opened.status = CaseStatus.open  # confirm() takes an open case
        change = opened.confirm(decision, content_ids=content_ids)
        after = change.case
        events = change.events
    else:
        after = case.copied()
        after.status = CaseStatus.closed
        after.facts = replace(case.facts, decided_category=None)
        after.updated_at = now
        events = [CaseClosed(case.id, str(decision.outcome), decision.reason)]
    after.claim_by = None
    after.proposal = None
    after.decided_at = now
    after.decided_by = decision.decided_by
    after.second_by = second_by
    return Change(case=after, events=list(events), decision=decision)


def _finish(
    case: Case, decision: Decision, *, content_ids: list[str], second_by: str | None = None
) -> Change:
    """A final decision; on an appealed case (``appeal_of``), the appeal's outcome too: it
    upholds or overturns the decision appealed, and is itself final."""

    change = _apply(case, decision, content_ids=content_ids, second_by=second_by)
    if case.appeal_of is None:
        return change
    was_violation = case.appeal_of is CaseStatus.confirmed
    upheld = (decision.outcome is Outcome.violation) == was_violation
    outcome = AppealOutcome.upheld if upheld else AppealOutcome.overturned
    change.events.append(AppealDecided(case.id, str(outcome)))
    if was_violation and not upheld:
        change.events.append(ViolationOverturned(case.id))
    change.case.appeal_of = None
    change.case.appeal_heard = True
    return change
