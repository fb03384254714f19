"""Review rules on the case aggregate, with no database: claims and their leases, the
child-safety permission, four eyes on "no violation" about a minor, and appeals decided by
someone else."""

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from takedown.cases import (
    Case,
    CaseConfirmed,
    CaseStatus,
    Category,
    ClaimHeld,
    Decision,
    NoClaim,
    NotDecidable,
    NotPermitted,
    Outcome,
    OwnProposal,
    Reviewer,
    ReviewPolicy,
    SameDecider,
)
from takedown.cases.review import (
    AppealDecided,
    CaseClaimed,
    CaseClosed,
    SecondReviewRequested,
    ViolationOverturned,
)
from takedown.matching import BankPolicy, Match, SignalType
from tests.unit.test_case_aggregate import POLICY, T0, incoming

REVIEW = ReviewPolicy()
ANA = Reviewer(user_id=1, name="ana", child_safety=True)
BEN = Reviewer(user_id=2, name="ben", child_safety=True)
NOT_CHILD_SAFETY = Reviewer(user_id=3, name="cy")
SENIOR = Reviewer(user_id=4, name="dee", child_safety=True, senior=True)
OTHER_SENIOR = Reviewer(user_id=5, name="eve", child_safety=True, senior=True)
LEAD = Reviewer(user_id=6, name="fay", child_safety=True, senior=True, lead=True)
ITEMS = ["item-1"]


def case_about(category: Category = Category.policy, **kwargs) -> Case:
    return Case.open_with(1, incoming(category=category, **kwargs), policy=POLICY).case


def decision(outcome: Outcome, by: Reviewer, category: Category = Category.csam, minutes=10):
    return Decision(
        outcome=outcome,
        category=category,
        reason=f"{outcome} by {by.name}",
        statement=f"We decided: {outcome}.",
        decided_by=by.name,
        decided_at=T0 + timedelta(minutes=minutes),
        automated=False,
    )


def claimed(case: Case, who: Reviewer, minutes: int = 5) -> Case:
    return case.claim(who, now=T0 + timedelta(minutes=minutes), policy=REVIEW).case


def decided(case: Case, outcome: Outcome, who: Reviewer, category=Category.csam, minutes=10):
    return claimed(case, who, minutes - 5).decide(
        decision(outcome, who, category, minutes),
        who,
        content_ids=ITEMS,
        now=T0 + timedelta(minutes=minutes),
    )


def test_a_claim_is_exclusive_until_it_lapses_and_renewable_by_its_holder():
    case = case_about()
    change = case.claim(ANA, now=T0, policy=REVIEW)
    held = change.case
    assert held.claim_by.user_id == ANA.user_id
    assert held.claim_by.until == T0 + REVIEW.claim_for
    assert held.first_look_at == T0
    assert change.events == [CaseClaimed(1, ANA.user_id, T0 + REVIEW.claim_for)]
    with pytest.raises(ClaimHeld) as refused:
        held.claim(BEN, now=T0 + timedelta(minutes=1), policy=REVIEW)
    assert refused.value.holder == "ana" and refused.value.rule == "claim_held"
    renewed = held.claim(ANA, now=T0 + timedelta(minutes=10), policy=REVIEW).case
    assert renewed.claim_by.until == T0 + timedelta(minutes=10) + REVIEW.claim_for
    assert renewed.first_look_at == T0  # the first look stays the first
    lapsed = held.claim(BEN, now=T0 + REVIEW.claim_for + timedelta(seconds=1), policy=REVIEW)
    assert lapsed.case.claim_by.user_id == BEN.user_id


def test_only_the_holder_decides_and_only_the_holder_or_a_lead_releases():
    held = claimed(case_about(), ANA)
    with pytest.raises(NoClaim):
        held.decide(decision(Outcome.no_violation, BEN), BEN, content_ids=ITEMS, now=T0)
    with pytest.raises(NotPermitted):
        held.release(BEN)
    assert held.release(ANA).case.claim_by is None
    assert held.release(LEAD).case.claim_by is None
    lapsed = T0 + timedelta(minutes=5) + REVIEW.claim_for + timedelta(seconds=1)
    with pytest.raises(NoClaim):  # a lapsed claim decides nothing
        held.decide(decision(Outcome.violation, ANA), ANA, content_ids=ITEMS, now=lapsed)


def test_a_minor_safety_case_is_invisible_without_the_child_safety_permission():
    csam = case_about(Category.csam, minor=True)
    assert not csam.may_see(NOT_CHILD_SAFETY) and csam.may_see(ANA)
    with pytest.raises(NotPermitted):
        csam.claim(NOT_CHILD_SAFETY, now=T0, policy=REVIEW)
    held = claimed(csam, ANA)
    with pytest.raises(NotPermitted):
        held.decide(
            decision(Outcome.violation, NOT_CHILD_SAFETY),
            NOT_CHILD_SAFETY,
            content_ids=ITEMS,
            now=T0,
        )
    assert case_about(Category.policy).may_see(NOT_CHILD_SAFETY)


def test_a_violation_confirms_and_no_violation_closes_an_ordinary_case():
    confirmed = decided(case_about(), Outcome.violation, ANA, Category.policy)
    assert confirmed.case.status is CaseStatus.confirmed
    assert confirmed.case.claim_by is None and confirmed.case.decided_by == "ana"
    assert [type(e) for e in confirmed.events] == [CaseConfirmed]
    closed = decided(case_about(), Outcome.no_violation, ANA, Category.policy)
    assert closed.case.status is CaseStatus.closed
    assert [type(e) for e in closed.events] == [CaseClosed]
    assert closed.decision.outcome is Outcome.no_violation


def test_no_violation_about_a_minor_is_a_proposal_until_another_senior_agrees():
    csam = case_about(Category.csam, minor=True)
    for proposer in (ANA, SENIOR):  # a senior's own proposal waits too
        proposal = decided(csam, Outcome.no_violation, proposer)
        waiting = proposal.case
        assert waiting.status is CaseStatus.pending_second_review
        assert waiting.respond_by == csam.respond_by  # the deadline stands
        assert waiting.claim_by is None and proposal.decision is None
        assert proposal.events == [SecondReviewRequested(1, proposer.name, "no_violation")]
        with pytest.raises(NotPermitted):  # not a senior
            waiting.claim(BEN, now=T0 + timedelta(minutes=20), policy=REVIEW)
    with pytest.raises(OwnProposal):
        waiting.claim(SENIOR, now=T0 + timedelta(minutes=20), policy=REVIEW)
    agreed = decided(waiting, Outcome.no_violation, OTHER_SENIOR, minutes=30)
    assert agreed.case.status is CaseStatus.closed
    assert agreed.decision.decided_by == "dee" and agreed.case.second_by == "eve"
    # It is decided when the senior agrees: every clock, and what is done, starts then.
    assert agreed.decision.decided_at == T0 + timedelta(minutes=30)
    assert agreed.case.decided_at == T0 + timedelta(minutes=30)


def test_a_senior_may_decide_otherwise_than_the_proposal():
    waiting = decided(case_about(Category.csam, minor=True), Outcome.no_violation, ANA).case
    overruled = decided(waiting, Outcome.violation, SENIOR, minutes=30)
    assert overruled.case.status is CaseStatus.confirmed
    assert overruled.decision.decided_by == "dee"


def test_a_downgrade_from_csam_is_a_proposal_too_but_confirming_csam_is_not():
    csam = case_about(Category.csam, minor=True)
    downgrade = decided(csam, Outcome.violation, ANA, Category.policy)
    assert downgrade.case.status is CaseStatus.pending_second_review
    confirmed = decided(csam, Outcome.violation, ANA, Category.csam)
    assert confirmed.case.status is CaseStatus.confirmed


def test_escalation_keeps_the_case_open_on_its_clock():
    case = case_about()
    escalated = decided(case, Outcome.escalate, ANA, Category.policy)
    assert escalated.case.status is CaseStatus.open
    assert escalated.case.respond_by == case.respond_by
    assert escalated.case.claim_by is None and escalated.decision.outcome is Outcome.escalate


def test_an_appeal_reopens_a_decided_case_for_someone_else():
    confirmed = decided(case_about(), Outcome.violation, ANA, Category.policy).case
    with pytest.raises(NotDecidable):
        case_about().appeal(appellant="reporter", now=T0, policy=REVIEW)
    appealed = confirmed.appeal(appellant="uploader", now=T0 + timedelta(days=1), policy=REVIEW)
    assert appealed.case.status is CaseStatus.appealed
    with pytest.raises(SameDecider):
        decided(appealed.case, Outcome.no_violation, ANA, Category.policy, minutes=60 * 25)
    overturned = decided(appealed.case, Outcome.no_violation, BEN, Category.policy, 60 * 25)
    assert overturned.case.status is CaseStatus.closed
    assert AppealDecided(1, "overturned") in overturned.events
    assert ViolationOverturned(1) in overturned.events
    upheld = decided(appealed.case, Outcome.violation, BEN, Category.policy, 60 * 25)
    assert AppealDecided(1, "upheld") in upheld.events
    assert not any(isinstance(e, ViolationOverturned) for e in upheld.events)


def test_an_appeal_after_its_time_is_refused():
    confirmed = decided(case_about(), Outcome.violation, ANA, Category.policy).case
    late = T0 + REVIEW.appeal_within + timedelta(days=1)
    with pytest.raises(NotDecidable, match="time to appeal"):
        confirmed.appeal(appellant="reporter", now=late, policy=REVIEW)


people = st.sampled_from([ANA, BEN, NOT_CHILD_SAFETY, SENIOR, OTHER_SENIOR, LEAD])
outcomes = st.sampled_from([Outcome.violation, Outcome.no_violation])
categories = st.sampled_from([Category.csam, Category.policy, Category.ncii])


@settings(max_examples=300, deadline=None)
@given(steps=st.lists(st.tuples(people, outcomes, categories), min_size=1, max_size=8))
def test_no_one_person_closes_a_minor_safety_case_as_no_violation(steps):
    """Whatever sequence of claims and decisions people try, a CSAM case about a minor is
    closed as "no violation" only with two different people behind it, one of them senior."""
    case = case_about(Category.csam, minor=True)
    minutes = 0
    for who, outcome, category in steps:
        minutes += 20
        now = T0 + timedelta(minutes=minutes)
        try:
            held = case.claim(who, now=now, policy=REVIEW).case
            change = held.decide(
                decision(outcome, who, category, minutes), who, content_ids=ITEMS, now=now
            )
        except (NotPermitted, OwnProposal, NotDecidable, ClaimHeld, NoClaim):
            continue
        case = change.case
        if case.status is CaseStatus.closed:
            assert case.second_by is not None and case.second_by != case.decided_by
            assert who.senior
            return


def test_a_report_saying_the_person_shown_is_a_minor_makes_any_case_minor_safety():
    case = case_about(Category.ncii, minor=True)
    assert case.minor_safety
    with pytest.raises(NotPermitted):
        case.claim(NOT_CHILD_SAFETY, now=T0, policy=REVIEW)
    assert not case_about(Category.ncii, minor=False).minor_safety
    assert case_about(Category.csam).minor_safety


def test_a_lead_holds_and_resumes_a_case_back_where_it_was():
    case = decided(case_about(Category.csam), Outcome.no_violation, ANA).case
    assert case.status is CaseStatus.pending_second_review
    with pytest.raises(NotPermitted):
        case.hold(SENIOR, reason="wait", now=T0)
    held = case.hold(LEAD, reason="police asked", now=T0).case
    assert (held.status, held.hold_reason) == (CaseStatus.on_hold, "police asked")
    with pytest.raises(NotDecidable):
        held.claim(OTHER_SENIOR, now=T0, policy=REVIEW)
    back = held.resume(LEAD, now=T0).case
    assert back.status is CaseStatus.pending_second_review
    assert back.proposal == case.proposal and back.respond_by == case.respond_by


def test_an_assignment_follows_the_rules_of_the_assignees_own_claim():
    case = claimed(case_about(Category.csam), ANA)
    with pytest.raises(NotPermitted):
        case.assign(ANA, BEN, now=T0, policy=REVIEW)
    with pytest.raises(NotPermitted):
        case.assign(LEAD, NOT_CHILD_SAFETY, now=T0, policy=REVIEW)
    given_to = case.assign(LEAD, BEN, now=T0, policy=REVIEW).case
    assert given_to.claim_by.user_id == BEN.user_id


def test_after_a_no_violation_a_new_case_about_a_minor_goes_to_a_senior():
    report = incoming(category=Category.csam)
    report.previous_case = 41
    case = Case.open_with(2, report, policy=POLICY).case
    assert case.facts.previous_case == 41
    with pytest.raises(NotPermitted):
        case.claim(ANA, now=T0, policy=REVIEW)
    assert case.claim(SENIOR, now=T0, policy=REVIEW).case.claim_by.user_id == SENIOR.user_id
    policy_case = Case.open_with(
        3, _with_previous(incoming(category=Category.policy)), policy=POLICY
    )
    assert policy_case.case.claim(NOT_CHILD_SAFETY, now=T0, policy=REVIEW).case.claim_by


def _with_previous(report):
    report.previous_case = 40
    return report


def test_an_escalation_keeps_the_case_open_and_marks_whom_it_is_for():
    case = claimed(case_about(), ANA)
    escalation = Decision(
        outcome=Outcome.escalate,
        category=Category.policy,
        reason="organised",
        statement="passed on",
        decided_by="ana",
        decided_at=T0,
        automated=False,
        escalate_to="law_enforcement",
    )
    after = case.decide(escalation, ANA, content_ids=ITEMS, now=T0 + timedelta(minutes=6)).case
    assert after.status is CaseStatus.open
    assert after.escalated_to == "law_enforcement"
    assert after.claim_by is None


def _appealed(case: Case, days: int = 1) -> Case:
    return case.appeal(appellant="uploader", now=T0 + timedelta(days=days), policy=REVIEW).case


def test_an_appeal_against_confirmed_csam_needs_four_eyes_to_overturn():
    confirmed = decided(case_about(Category.csam, minor=True), Outcome.violation, ANA).case
    appealed = _appealed(confirmed)
    proposed = decided(appealed, Outcome.no_violation, BEN, minutes=60 * 25)
    assert proposed.case.status is CaseStatus.pending_second_review
    assert not any(isinstance(e, ViolationOverturned) for e in proposed.events)
    with pytest.raises(NotPermitted):  # a second opinion needs a senior
        decided(
            proposed.case,
            Outcome.no_violation,
            Reviewer(user_id=7, name="gus", child_safety=True),
            minutes=1600,
        )
    with pytest.raises(SameDecider):  # nor the original decider, were they senior
        senior_ana = Reviewer(user_id=ANA.user_id, name=ANA.name, child_safety=True, senior=True)
        decided(proposed.case, Outcome.no_violation, senior_ana, minutes=60 * 26)
    agreed = decided(proposed.case, Outcome.no_violation, SENIOR, minutes=60 * 26)
    assert agreed.case.status is CaseStatus.closed
    assert agreed.case.second_by == SENIOR.name and agreed.case.decided_by == BEN.name
    assert AppealDecided(1, "overturned") in agreed.events
    assert ViolationOverturned(1) in agreed.events


def test_a_downgrade_on_appeal_is_a_proposal_and_upholding_csam_is_not():
    appealed = _appealed(decided(case_about(Category.csam), Outcome.violation, ANA).case)
    downgraded = decided(appealed, Outcome.violation, BEN, Category.policy, minutes=60 * 25)
    assert downgraded.case.status is CaseStatus.pending_second_review
    upheld = decided(appealed, Outcome.violation, BEN, Category.csam, minutes=60 * 25)
    assert upheld.case.status is CaseStatus.confirmed
    assert AppealDecided(1, "upheld") in upheld.events


def test_a_decision_is_appealed_once():
    appealed = _appealed(decided(case_about(), Outcome.violation, ANA, Category.policy).case)
    upheld = decided(appealed, Outcome.violation, BEN, Category.policy, 60 * 25).case
    assert upheld.appeal_heard
    with pytest.raises(NotDecidable, match="appealed once"):
        upheld.appeal(appellant="uploader", now=T0 + timedelta(days=2), policy=REVIEW)
    overturned = decided(appealed, Outcome.no_violation, BEN, Category.policy, 60 * 25).case
    with pytest.raises(NotDecidable, match="appealed once"):
        overturned.appeal(appellant="reporter", now=T0 + timedelta(days=2), policy=REVIEW)


def test_an_escalation_on_appeal_keeps_the_case_appealed():
    appealed = _appealed(decided(case_about(), Outcome.violation, ANA, Category.policy).case)
    held = claimed(appealed, BEN, 60 * 25)
    escalation = decision(Outcome.escalate, BEN, Category.policy, 60 * 25 + 5)
    after = held.decide(escalation, BEN, content_ids=ITEMS, now=T0 + timedelta(minutes=60 * 25 + 5))
    assert after.case.status is CaseStatus.appealed and after.case.appeal_of is not None
    assert not after.events


def test_the_decided_category_sets_what_the_case_is():
    confirmed = decided(case_about(Category.policy), Outcome.violation, NOT_CHILD_SAFETY).case
    assert not case_about(Category.policy).minor_safety
    assert confirmed.category is Category.csam and confirmed.minor_safety
    assert not confirmed.may_see(NOT_CHILD_SAFETY)
    appealed = _appealed(confirmed)
    with pytest.raises(NotPermitted):
        claimed(appealed, Reviewer(user_id=8, name="hal"), 60 * 25)
    assert decided(appealed, Outcome.no_violation, BEN, minutes=60 * 25).case.status is (
        CaseStatus.pending_second_review
    )
    # Reported as CSAM, confirmed by two people as a policy violation: a policy case now
    # (nothing is filed), still behind the child-safety permission.
    proposed = decided(case_about(Category.csam), Outcome.violation, ANA, Category.policy).case
    policy = decided(proposed, Outcome.violation, SENIOR, Category.policy, minutes=30).case
    assert policy.status is CaseStatus.confirmed and policy.category is Category.policy
    assert policy.minor_safety
    # An overturned CSAM decision leaves the case minor-safety for good.
    closed = decided(
        proposed_no := decided(appealed, Outcome.no_violation, BEN, minutes=60 * 25).case,
        Outcome.no_violation,
        SENIOR,
        minutes=60 * 26,
    ).case
    assert proposed_no.status is CaseStatus.pending_second_review
    assert closed.status is CaseStatus.closed and closed.minor_safety
    assert closed.category is Category.policy


def test_a_bank_match_confirms_as_csam_whatever_the_report_said():
    case = Case.open_with(
        1, incoming(category=Category.policy, matches=[BANK_MATCH]), policy=POLICY
    )
    assert case.case.status is CaseStatus.confirmed
    assert case.case.category is Category.csam and case.case.minor_safety


BANK_MATCH = Match(
    bank="ncmec",
    policy=BankPolicy.block_and_report,
    signal_type=SignalType.md5,
    entry_id=1,
    distance=0,
)
staff_steps = st.lists(
    st.one_of(
        st.tuples(st.just("decide"), outcomes, categories),
        st.tuples(st.just("appeal"), st.sampled_from(["uploader", "reporter"]), st.none()),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=400, deadline=None)
@given(
    who=st.sampled_from([ANA, SENIOR, LEAD, NOT_CHILD_SAFETY]),
    reported=categories,
    minor=st.sampled_from([None, True, False]),
    bank=st.booleans(),
    steps=staff_steps,
)
def test_no_one_person_ends_a_minor_safety_case_with_no_violation(
    who, reported, minor, bank, steps
):
    """One staff member, deciding whatever they like whenever they can, with appeals from
    outside in between: a case that is (or becomes) about a minor never closes with no
    violation, and a CSAM violation is never overturned, on that person's word alone."""
    report = incoming(category=reported, minor=minor, matches=[BANK_MATCH] if bank else None)
    case = Case.open_with(1, report, policy=POLICY).case
    minutes = 0
    for kind, a, b in steps:
        minutes += 20
        now = T0 + timedelta(minutes=minutes)
        was_minor, was_csam = case.minor_safety, case.category is Category.csam
        was_status = case.status
        try:
            if kind == "appeal":
                change = case.appeal(appellant=a, now=now, policy=REVIEW)
            else:
                held = case.claim(who, now=now, policy=REVIEW).case
                change = held.decide(decision(a, who, b, minutes), who, content_ids=ITEMS, now=now)
        except (NotPermitted, OwnProposal, NotDecidable, ClaimHeld, NoClaim, SameDecider):
            continue
        case = change.case
        assert not (was_minor and not case.minor_safety), "minor safety is never lost"
        if kind == "decide" and was_minor:
            assert case.status is not CaseStatus.closed, f"{who.name} alone closed {was_status}"
            assert not any(isinstance(e, ViolationOverturned) for e in change.events)
            if was_csam and case.status is CaseStatus.confirmed:
                assert case.category is Category.csam
