"""The review state of a case round-trips through the store on SQLite and PostgreSQL: a
claim, a proposal waiting for a second opinion (a status longer than the first schema
allowed), and the decision with who made and who seconded it. Report intake leaves it alone."""

from datetime import timedelta

from takedown.cases import (
    Case,
    CaseStatus,
    Category,
    Decision,
    Outcome,
    Reviewer,
    ReviewPolicy,
)
from tests.integration.test_reports import submit

ANA = Reviewer(user_id=1, name="ana", child_safety=True)
DEE = Reviewer(user_id=4, name="dee", child_safety=True, senior=True)
REVIEW = ReviewPolicy()


def _load(container, case_id: int) -> Case:
    with container.uow(readonly=True) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        return uow.cases.with_review(case)


def _save(container, change, before: Case) -> None:
    with container.uow() as uow:
        uow.cases.save(change.case, before=before)
        uow.cases.save_review(change.case)
        uow.commit()


def _no_violation(by: Reviewer, at) -> Decision:
    return Decision(
        outcome=Outcome.no_violation,
        category=Category.csam,
        reason="not what was reported",
        statement="We looked at the content and it is not what was reported.",
        decided_by=by.name,
        decided_at=at,
        automated=False,
    )


def test_a_claim_a_proposal_and_its_second_opinion_are_kept(container):
    receipt = submit(container, category=Category.csam, depicted_minor=True)
    case = _load(container, receipt.case_id)
    assert case.claim_by is None
    now = receipt.acknowledged_at + timedelta(minutes=5)
    claimed = case.claim(ANA, now=now, policy=REVIEW)
    _save(container, claimed, case)
    case = _load(container, receipt.case_id)
    assert (case.claim_by.user_id, case.claim_by.until) == (ANA.user_id, now + REVIEW.claim_for)
    assert case.first_look_at == now

    # A later report about the item keeps the claim: intake never writes the review state.
    submit(container, category=Category.csam, content_id="post-1", description="again")
    case = _load(container, receipt.case_id)
    assert case.claim_by is not None and case.facts.reports == 2

    proposal = case.decide(_no_violation(ANA, now), ANA, content_ids=["post-1"], now=now)
    _save(container, proposal, case)
    case = _load(container, receipt.case_id)
    assert case.status is CaseStatus.pending_second_review
    assert case.proposal == _no_violation(ANA, now) and case.claim_by is None

    later = now + timedelta(minutes=30)
    seconded = case.claim(DEE, now=later, policy=REVIEW).case.decide(
        _no_violation(DEE, later), DEE, content_ids=["post-1"], now=later
    )
    _save(container, seconded, case.claim(DEE, now=later, policy=REVIEW).case)
    case = _load(container, receipt.case_id)
    assert case.status is CaseStatus.closed
    assert (case.decided_by, case.second_by, case.proposal) == ("ana", "dee", None)
