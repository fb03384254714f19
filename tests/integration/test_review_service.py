"""The review services on SQLite and PostgreSQL: the queue's pages, filters and counts, holds
and assignments, questions and escalations, quality samples, a new case after "no
violation", and the child-safety permission in the services themselves."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from takedown.cases import CaseStatus, Category, Outcome, Priority, ReporterRole
from takedown.cases.records import QueueFilter
from takedown.identity import Forbidden, Principal, PrincipalKind, Role
from takedown.services import accounts, reports, review
from takedown.services.errors import InvalidInput, NotFound
from tests.conftest import OPERATOR
from tests.integration.test_reports import PLATFORM, submit

SETTINGS = review.ReviewSettings(sample_share=0.0)


def staff(container, name: str, role: Role, *, child_safety: bool = False) -> Principal:
    user = accounts.create_user(
        uow=container.uow(),
        actor=OPERATOR,
        name=name,
        role=role,
        password=None,
        child_safety=child_safety,
    )
    return Principal(
        kind=PrincipalKind.staff_token,
        subject_id=user.id,
        name=name,
        role=role,
        credential_id=user.id,
        child_safety_grant=child_safety,
    )


def decide(container, actor, case_id, outcome, *, category=None, reason="why", **kwargs):
    now = container.clock.now()
    review.claim(uow=container.uow(), actor=actor, case_id=case_id, now=now, settings=SETTINGS)
    return review.decide(
        uow=container.uow(),
        actor=actor,
        case_id=case_id,
        decision_in=review.DecisionIn(outcome=outcome, reason=reason, category=category),
        now=now,
        settings=kwargs.pop("settings", SETTINGS),
        **kwargs,
    )


def page(container, actor, filters=QueueFilter(), after=None, limit=50):
    return review.queue(
        uow=container.uow(readonly=True),
        actor=actor,
        filters=filters,
        now=container.clock.now(),
        after=after,
        limit=limit,
    )


def test_the_queue_pages_through_every_case_in_deadline_order(container):
    rev = staff(container, "rev", Role.reviewer)
    made = []
    for n in range(7):
        category = [Category.policy, Category.ncii, Category.other_illegal][n % 3]
        made.append(submit(container, PLATFORM, content_id=f"item-{n}", category=category))
    seen, after = [], None
    while True:
        got = page(container, rev, after=after, limit=3)
        seen += got.entries
        after = got.next
        if after is None:
            break
    assert sorted(e.case_id for e in seen) == sorted(r.case_id for r in made)
    keys = [(e.respond_by, e.priority.level, e.case_id) for e in seen]
    assert keys == sorted(keys)
    assert got.counts["queue"] == 7
    ncii = page(container, rev, QueueFilter(category=Category.ncii)).entries
    assert {e.category for e in ncii} == {Category.ncii} and len(ncii) == 2
    p2 = page(container, rev, QueueFilter(priority=Priority.p2)).entries
    assert p2 and {e.priority for e in p2} == {Priority.p2}
    assert page(container, rev, QueueFilter(overdue=True)).entries == []
    container.clock.advance(3 * 86_400)
    assert len(page(container, rev, QueueFilter(overdue=True)).entries) == 7
    assert page(container, rev).counts["overdue"] == 7
    with pytest.raises(InvalidInput):
        page(container, rev, after="not-a-cursor")


def test_minor_safety_cases_are_left_out_for_those_without_the_permission(container):
    rev = staff(container, "rev", Role.reviewer)
    safe = staff(container, "safe", Role.reviewer, child_safety=True)
    submit(container, PLATFORM, content_id="ok", category=Category.policy)
    minor = submit(
        container,
        PLATFORM,
        content_id="minor",
        category=Category.ncii,
        reporter_role=ReporterRole.parent_guardian,
        depicted_minor=True,
    ).case_id
    assert [e.case_id for e in page(container, rev).entries] != [] and minor not in [
        e.case_id for e in page(container, rev).entries
    ]
    assert page(container, rev).counts["queue"] == 1
    assert page(container, safe).counts["queue"] == 2
    now = container.clock.now()
    for action in (
        lambda: review.case_view(uow=container.uow(), actor=rev, case_id=minor, now=now),
        lambda: review.claim(
            uow=container.uow(), actor=rev, case_id=minor, now=now, settings=SETTINGS
        ),
        lambda: review.message_reporters(
            uow=container.uow(), actor=rev, case_id=minor, body="hello", now=now
        ),
    ):
        with pytest.raises(NotFound):
            action()


def test_a_no_violation_closes_the_items_and_the_next_report_opens_a_linked_case(container):
    rev = staff(container, "rev", Role.reviewer, child_safety=True)
    senior = staff(container, "senior", Role.senior_reviewer, child_safety=True)
    first = submit(container, PLATFORM, content_id="pic", category=Category.policy).case_id
    decide(container, rev, first, Outcome.no_violation)
    again = submit(container, PLATFORM, content_id="pic", category=Category.policy)
    assert again.case_id != first
    view = review.case_view(
        uow=container.uow(), actor=rev, case_id=again.case_id, now=container.clock.now()
    )
    assert view.previous_case == first

    # About a minor, the new case goes to a senior.
    minor = submit(container, PLATFORM, content_id="kid", category=Category.csam).case_id
    decide(container, senior, minor, Outcome.no_violation)
    senior2 = staff(container, "senior2", Role.senior_reviewer, child_safety=True)
    decide(container, senior2, minor, Outcome.no_violation)
    reopened = submit(container, PLATFORM, content_id="kid", category=Category.csam).case_id
    assert reopened != minor
    with pytest.raises(review.ReviewConflict) as refused:
        review.claim(
            uow=container.uow(),
            actor=rev,
            case_id=reopened,
            now=container.clock.now(),
            settings=SETTINGS,
        )
    assert refused.value.rule == "not_permitted"
    review.claim(
        uow=container.uow(),
        actor=senior,
        case_id=reopened,
        now=container.clock.now(),
        settings=SETTINGS,
    )


def test_a_confirmed_item_reported_again_is_answered_with_the_outcome(container):
    rev = staff(container, "rev", Role.reviewer)
    case = submit(container, PLATFORM, content_id="bad", category=Category.policy).case_id
    decide(container, rev, case, Outcome.violation, category=Category.policy)
    again = submit(container, PLATFORM, content_id="bad", category=Category.policy)
    assert again.case_id == case
    assert again.case_status is CaseStatus.confirmed  # the receipt answers with the outcome


def test_a_question_reaches_the_reporter_and_an_escalation_the_lead(container):
    rev = staff(container, "rev", Role.reviewer)
    lead = staff(container, "lead", Role.child_safety_lead)
    receipt = submit(container, PLATFORM, content_id="q", category=Category.policy)
    asked = decide(container, rev, receipt.case_id, Outcome.need_more_info, reason="which post")
    assert asked.status is CaseStatus.open and asked.claim_by is None
    status = reports.status(uow=container.uow(), token=receipt.status_token)
    assert any("which post" in u.body for u in status.updates)
    decide(container, rev, receipt.case_id, Outcome.escalate, reason="looks organised")
    escalated = page(container, lead, QueueFilter(escalated=True)).entries
    assert [e.case_id for e in escalated] == [receipt.case_id]
    assert escalated[0].escalated_to == "lead"
    overview = review.lead_overview(uow=container.uow(), actor=lead, now=container.clock.now())
    assert [e.case_id for e in overview.escalated] == [receipt.case_id]
    # A report with a police case number is an escalation too.
    police = submit(
        container,
        PLATFORM,
        content_id="p",
        category=Category.policy,
        police_case_number="1/2",
        police_agency="City Police",
    ).case_id
    assert police in [e.case_id for e in page(container, lead, QueueFilter(escalated=True)).entries]


def test_a_lead_holds_resumes_and_assigns(container):
    rev = staff(container, "rev", Role.reviewer)
    lead = staff(container, "lead", Role.child_safety_lead)
    case = submit(container, PLATFORM, content_id="h", category=Category.policy).case_id
    now = container.clock.now()
    with pytest.raises(Forbidden):
        review.hold(uow=container.uow(), actor=rev, case_id=case, reason="wait", now=now)
    held = review.hold(
        uow=container.uow(), actor=lead, case_id=case, reason="police asked us to wait", now=now
    )
    assert held.status is CaseStatus.on_hold
    assert page(container, rev).entries == []
    assert page(container, lead).counts["on_hold"] == 1
    review.resume(uow=container.uow(), actor=lead, case_id=case, now=now)
    assigned = review.assign(
        uow=container.uow(), actor=lead, case_id=case, to_user="rev", now=now, settings=SETTINGS
    )
    assert assigned.claim_by is not None and assigned.claim_by.name == "rev"
    with container.uow(readonly=True) as uow:
        actions = [e.action for e in uow.audit.list(target_type="case", target_id=str(case))]
    assert {"case.held", "case.resumed", "case.assigned"} <= set(actions)


def test_sampled_decisions_get_a_second_look_and_agreement_is_kept(container):
    ana = staff(container, "ana", Role.reviewer)
    ben = staff(container, "ben", Role.reviewer)
    lead = staff(container, "lead", Role.child_safety_lead)
    every = review.ReviewSettings(sample_share=1.0)
    for n in range(2):
        case = submit(container, PLATFORM, content_id=f"s{n}", category=Category.policy).case_id
        decide(
            container,
            ana,
            case,
            Outcome.violation,
            category=Category.policy,
            settings=every,
            rng=random.Random(n),
        )
    assert review.open_samples(uow=container.uow(), actor=ana) == []  # not one's own
    samples = review.open_samples(uow=container.uow(), actor=ben)
    assert len(samples) == 2
    now = container.clock.now()
    review.record_sample(
        uow=container.uow(), actor=ben, sample_id=samples[0].id, agrees=True, note="", now=now
    )
    review.record_sample(
        uow=container.uow(), actor=ben, sample_id=samples[1].id, agrees=False, note="no", now=now
    )
    overview = review.lead_overview(uow=container.uow(), actor=lead, now=now)
    assert overview.agreement == [("ana", "policy", 2, 1)]


def test_the_child_safety_grant_is_for_admins_and_leads(container):
    rev = staff(container, "rev", Role.reviewer)
    lead = staff(container, "lead", Role.child_safety_lead)
    other = staff(container, "other", Role.reviewer)
    with pytest.raises(Forbidden):
        accounts.set_child_safety(
            uow=container.uow(), actor=rev, user_id=other.subject_id, granted=True
        )
    granted = accounts.set_child_safety(
        uow=container.uow(), actor=lead, user_id=other.subject_id, granted=True
    )
    assert granted.child_safety
    with container.uow(readonly=True) as uow:
        assert uow.users.get(other.subject_id).child_safety
        assert uow.audit.list(action="user.child_safety_granted")


def test_an_appeal_after_six_months_is_refused(container):
    rev = staff(container, "rev", Role.reviewer)
    receipt = submit(container, PLATFORM, content_id="late", category=Category.policy)
    decide(container, rev, receipt.case_id, Outcome.no_violation)
    container.clock.advance(timedelta(days=200).total_seconds())
    with pytest.raises(review.ReviewConflict) as refused:
        review.platform_appeal(
            uow=container.uow(),
            actor=PLATFORM,
            content_id="late",
            appellant="uploader",
            text="please",
            now=container.clock.now(),
            policy=SETTINGS.policy,
        )
    assert refused.value.rule == "not_decidable"
