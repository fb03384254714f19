"""Linking and merging cases (``services.case_links``) on SQLite and PostgreSQL: a merge moves
reports, reporters' status links, items and messages to the kept case, keeps its clocks at the
earliest and its priority at the highest, and the child-safety permission and four eyes hold
on every part of it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from takedown.cases import CaseStatus, Category, Outcome, Priority, ReporterRole
from takedown.identity import Forbidden, Role
from takedown.services import case_links, reports, review
from takedown.services.case_changes import ReviewConflict
from takedown.services.errors import InvalidInput, NotFound
from tests.integration.test_reports import PLATFORM, submit
from tests.integration.test_review_service import SETTINGS, decide, staff


def merge(container, actor, case_id, into, note="same thing"):
    return case_links.merge(
        uow=container.uow(),
        actor=actor,
        case_id=case_id,
        into=into,
        note=note,
        now=container.clock.now(),
        policy=container.triage_policy,
    )


def load(container, case_id):
    with container.uow(readonly=True) as uow:
        return uow.cases.get(case_id), uow.cases.items(case_id), uow.reports.for_case(case_id)


def status_of(container, receipt):
    return reports.status(uow=container.uow(readonly=True), token=receipt.status_token)


def test_a_merge_moves_every_report_and_keeps_the_earliest_clock_and_highest_priority(container):
    rev = staff(container, "rev", Role.reviewer)
    kept = submit(
        container, PLATFORM, content_id="photo-1", category=Category.policy,
        contact_email="first@example.org",
    )  # fmt: skip
    container.clock.advance(3600)
    urgent = submit(
        container, PLATFORM, content_id=None, content_url="https://example.social/p/photo-1",
        category=Category.ncii, reporter_role=ReporterRole.depicted_person,
        signature="A Person", good_faith_statement=True, contact_email="me@example.org",
        reporter_reference="TICKET-7",
    )  # fmt: skip
    before_kept, _, _ = load(container, kept.case_id)
    before_urgent, _, _ = load(container, urgent.case_id)
    assert before_urgent.remove_by is not None and before_kept.remove_by is None
    container.clock.advance(60)

    after = merge(container, rev, urgent.case_id, f"TD-{kept.case_id:07d}")

    assert after.id == kept.case_id
    case, items, moved = load(container, kept.case_id)
    assert sorted(r.id for r in moved) == sorted([kept.report_id, urgent.report_id])
    assert {i.content_id for i in items} == {"photo-1", "url:https://example.social/p/photo-1"}
    # The higher of the two at least; here higher still: two reporters, one the person shown.
    assert case.priority is Priority.p0
    assert before_urgent.priority is Priority.p1 and before_kept.priority is Priority.p2
    assert case.respond_by <= min(before_kept.respond_by, before_urgent.respond_by)
    assert case.remove_by == before_urgent.remove_by  # the 48 hours of the valid request
    assert case.opened_at == before_kept.opened_at
    assert case.category is Category.ncii and case.facts.reports == 2
    assert case.facts.reporters == 2
    gone, gone_items, gone_reports = load(container, urgent.case_id)
    assert gone.status is CaseStatus.merged and gone.facts.merged_into == kept.case_id
    assert gone_items == [] and gone_reports == []
    # Both reporters' status links now show the kept case; the search finds it by either key.
    assert status_of(container, urgent).case.id == kept.case_id
    assert status_of(container, kept).case.id == kept.case_id
    found = review.search(
        uow=container.uow(readonly=True), actor=rev,
        query=review.CaseSearch(text="TICKET-7"), now=container.clock.now(),
    )  # fmt: skip
    assert [e.case_id for e in found.entries] == [kept.case_id]
    links = case_links.links(uow=container.uow(readonly=True), actor=rev, case_id=kept.case_id)
    assert [(link.case_id, link.kind) for link in links] == [(urgent.case_id, "merged_from")]
    history = review.case_history(uow=container.uow(readonly=True), actor=rev, case_id=kept.case_id)
    assert any(h.kind == "case.merged" for h in history)


def test_both_reporters_see_the_decision_of_the_kept_case(container):
    rev = staff(container, "rev", Role.reviewer)
    a = submit(container, PLATFORM, content_id="post-a", category=Category.policy)
    b = submit(container, PLATFORM, content_id="post-b", category=Category.policy)
    merge(container, rev, b.case_id, str(a.case_id))
    decide(
        container, rev, a.case_id, Outcome.violation, category=Category.policy,
        settings=container.review_settings,
    )  # fmt: skip
    for receipt in (a, b):
        shown = status_of(container, receipt)
        assert shown.case.status is CaseStatus.confirmed
        assert [d.outcome for d in shown.decisions] == [Outcome.violation]
    with container.uow(readonly=True) as uow:
        actions = uow.actions.for_case(a.case_id)
    removed = {action.content_id for action in actions if action.type == "remove"}
    assert {"post-a", "post-b"} <= removed  # the merged case's content came down too


def test_a_case_knows_every_case_merged_into_it_however_deep(container):
    """``merged_into`` follows merges of merges (c into b, then b into a), which the
    e-mails to the kept case's reporters name."""
    rev = staff(container, "rev", Role.reviewer)
    a, b, c, other = (
        submit(container, PLATFORM, content_id=f"deep-{n}", category=Category.policy)
        for n in "abcd"
    )
    merge(container, rev, c.case_id, str(b.case_id))
    merge(container, rev, b.case_id, str(a.case_id))
    made = case_links.link(
        uow=container.uow(), actor=rev, case_id=a.case_id, other=str(other.case_id), note="x",
        now=container.clock.now(),
    )  # fmt: skip
    assert made.kind == "related"
    with container.uow(readonly=True) as uow:
        assert uow.case_links.merged_into(a.case_id) == sorted([b.case_id, c.case_id])
        assert uow.case_links.merged_into(b.case_id) == [c.case_id]
        assert uow.case_links.merged_into(other.case_id) == []  # a related case is not merged


def test_a_report_by_link_joins_a_confirmed_case_and_its_reporter_sees_the_outcome(container):
    rev = staff(container, "rev", Role.reviewer)
    content = submit(container, PLATFORM, content_id="clip-9", category=Category.policy)
    decide(container, rev, content.case_id, Outcome.violation, category=Category.policy)
    link = submit(
        container,
        PLATFORM,
        content_id=None,
        content_url="https://example.social/v/clip-9",
        category=Category.policy,
    )
    other = submit(container, PLATFORM, content_id="clip-10", category=Category.policy)
    merge(container, rev, link.case_id, str(content.case_id))
    assert status_of(container, link).case.status is CaseStatus.confirmed
    # A case with content of its own is not merged into a decided one: it would never be decided.
    with pytest.raises(ReviewConflict) as refused:
        merge(container, rev, other.case_id, str(content.case_id))
    assert refused.value.rule == "not_decidable"
    # Nor is a more severe report folded into a lesser confirmed violation.
    csam_link = submit(
        container,
        PLATFORM,
        content_id=None,
        content_url="https://example.social/v/clip-9b",
        category=Category.csam,
    )
    lead = staff(container, "lead", Role.child_safety_lead, child_safety=True)
    with pytest.raises(ReviewConflict):
        merge(container, lead, csam_link.case_id, str(content.case_id))


def test_decided_closed_and_claimed_cases_are_not_merged_away(container):
    rev = staff(container, "rev", Role.reviewer)
    other = staff(container, "other", Role.reviewer)
    a = submit(container, PLATFORM, content_id="m-1", category=Category.policy)
    b = submit(container, PLATFORM, content_id="m-2", category=Category.policy)
    c = submit(container, PLATFORM, content_id="m-3", category=Category.policy)
    decide(container, rev, a.case_id, Outcome.no_violation)
    for case_id, into in ((a.case_id, b.case_id), (b.case_id, a.case_id), (b.case_id, b.case_id)):
        with pytest.raises(ReviewConflict) as refused:
            merge(container, rev, case_id, str(into))
        assert refused.value.rule == "not_decidable"
    review.claim(
        uow=container.uow(), actor=other, case_id=c.case_id, now=container.clock.now(),
        settings=SETTINGS,
    )  # fmt: skip
    with pytest.raises(ReviewConflict) as refused:
        merge(container, rev, c.case_id, str(b.case_id))
    assert refused.value.rule == "claim_held"
    container.clock.advance(int(timedelta(hours=1).total_seconds()))
    merge(container, rev, c.case_id, str(b.case_id))  # the claim ran out
    with pytest.raises(InvalidInput):
        merge(container, rev, b.case_id, "not a case")
    with pytest.raises(NotFound):
        merge(container, rev, b.case_id, "TD-9999999")


def test_child_safety_holds_on_links_and_merges(container):
    rev = staff(container, "rev", Role.reviewer)
    senior = staff(container, "senior", Role.senior_reviewer, child_safety=True)
    safe = staff(container, "safe", Role.reviewer, child_safety=True)
    viewer = staff(container, "viewer", Role.compliance)
    policy = submit(container, PLATFORM, content_id="v-1", category=Category.policy)
    minor = submit(container, PLATFORM, content_id="v-2", category=Category.csam)
    # A reviewer without the permission can neither link nor merge with it, nor learn it exists.
    for action in (
        lambda: merge(container, rev, policy.case_id, str(minor.case_id)),
        lambda: merge(container, rev, minor.case_id, str(policy.case_id)),
        lambda: case_links.link(
            uow=container.uow(),
            actor=rev,
            case_id=policy.case_id,
            other=str(minor.case_id),
            note="",
            now=container.clock.now(),
        ),
    ):
        with pytest.raises(NotFound):
            action()
    with pytest.raises(Forbidden):
        merge(container, viewer, policy.case_id, str(minor.case_id))
    case_links.link(
        uow=container.uow(), actor=safe, case_id=policy.case_id, other=str(minor.case_id),
        note="same uploader", now=container.clock.now(),
    )  # fmt: skip
    assert case_links.links(uow=container.uow(), actor=rev, case_id=policy.case_id) == []
    seen = case_links.links(uow=container.uow(), actor=safe, case_id=policy.case_id)
    assert [link.case_id for link in seen] == [minor.case_id]
    # Merged, the policy case's reports join a minor-safety case: hidden, and four eyes decide it.
    merge(container, safe, policy.case_id, str(minor.case_id))
    with pytest.raises(NotFound):
        review.case_view(
            uow=container.uow(), actor=rev, case_id=minor.case_id, now=container.clock.now()
        )
    decide(container, safe, minor.case_id, Outcome.no_violation)
    case, _, _ = load(container, minor.case_id)
    assert case.status is CaseStatus.pending_second_review
    assert case.minor_safety and case.priority is Priority.p0
    decide(container, senior, minor.case_id, Outcome.no_violation)
    assert load(container, minor.case_id)[0].status is CaseStatus.closed
