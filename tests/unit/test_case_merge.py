"""Merging cases (``cases.merge``), as properties: whatever the two cases, the kept one's
clocks are never later and its priority never lower than either's, a minor-safety case stays
one, and only an undecided case is merged away."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from takedown.cases import (
    Case,
    CaseFacts,
    CaseStatus,
    Category,
    Priority,
    Reviewer,
    TriagePolicy,
)
from takedown.cases.review import Claim, ClaimHeld, NotDecidable, NotPermitted

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = TriagePolicy()
REVIEWER = Reviewer(user_id=1, name="rev", child_safety=True)


def case(case_id: int, *, priority: Priority, hours: int, category: Category, **kw) -> Case:
    return Case(
        id=case_id,
        status=kw.pop("status", CaseStatus.open),
        priority=priority,
        reasons=[],
        facts=CaseFacts(
            categories=frozenset({category}), reporters=1, reports=1, first_report_at=AT
        ),
        respond_by=AT + timedelta(hours=hours),
        remove_by=kw.pop("remove_by", None),
        opened_at=AT - timedelta(hours=kw.pop("age", 0)),
        updated_at=AT,
        confirmed_at=None,
        **kw,
    )


cases = st.builds(
    lambda p, h, c, age, remove: (p, h, c, age, remove),
    st.sampled_from(list(Priority)),
    st.integers(1, 200),
    st.sampled_from(list(Category)),
    st.integers(0, 48),
    st.one_of(st.none(), st.integers(1, 48)),
)


@given(cases, cases)
def test_the_kept_case_is_never_later_lower_or_less_protected(a, b):
    kept = case(1, priority=a[0], hours=a[1], category=a[2], age=a[3],
                remove_by=AT + timedelta(hours=a[4]) if a[4] else None)  # fmt: skip
    gone = case(2, priority=b[0], hours=b[1], category=b[2], age=b[3],
                remove_by=AT + timedelta(hours=b[4]) if b[4] else None)  # fmt: skip
    merged = kept.absorb(gone, REVIEWER, reporters=2, brings_content=True, policy=POLICY, now=AT)
    after = merged.kept.case
    assert after.respond_by <= min(kept.respond_by, gone.respond_by)
    removes = [t for t in (kept.remove_by, gone.remove_by) if t]
    assert (after.remove_by is None) == (not removes)
    if removes:
        assert after.remove_by <= min(removes)
    assert after.priority.level <= min(kept.priority.level, gone.priority.level)
    assert after.opened_at == min(kept.opened_at, gone.opened_at)
    assert after.minor_safety == (kept.minor_safety or gone.minor_safety)
    assert merged.merged.case.status is CaseStatus.merged
    assert merged.merged.case.facts.merged_into == 1
    assert [type(e).__name__ for e in merged.kept.events][-1] == "CasesMerged"


def test_only_an_undecided_unclaimed_case_is_merged_away():
    kept = case(1, priority=Priority.p2, hours=24, category=Category.policy)
    for status in (CaseStatus.confirmed, CaseStatus.closed, CaseStatus.appealed,
                   CaseStatus.pending_second_review, CaseStatus.merged):  # fmt: skip
        gone = case(2, priority=Priority.p2, hours=24, category=Category.policy, status=status)
        with pytest.raises(NotDecidable):
            kept.absorb(gone, REVIEWER, reporters=2, brings_content=False, policy=POLICY, now=AT)
    other = Claim(user_id=9, name="other", until=AT + timedelta(minutes=5))
    held = case(2, priority=Priority.p2, hours=24, category=Category.policy, claim_by=other)
    with pytest.raises(ClaimHeld):
        kept.absorb(held, REVIEWER, reporters=2, brings_content=False, policy=POLICY, now=AT)
    with pytest.raises(NotDecidable):
        kept.absorb(kept, REVIEWER, reporters=1, brings_content=False, policy=POLICY, now=AT)
    closed = replace(kept, status=CaseStatus.closed)
    fresh = case(2, priority=Priority.p2, hours=24, category=Category.policy)
    with pytest.raises(NotDecidable):
        closed.absorb(fresh, REVIEWER, reporters=2, brings_content=False, policy=POLICY, now=AT)


def test_a_minor_safety_case_needs_the_permission_at_either_end():
    minor = case(1, priority=Priority.p0, hours=1, category=Category.csam)
    other = case(2, priority=Priority.p2, hours=24, category=Category.policy)
    plain = Reviewer(user_id=1, name="rev")
    for kept, gone in ((minor, other), (other, minor)):
        with pytest.raises(NotPermitted):
            kept.absorb(gone, plain, reporters=2, brings_content=True, policy=POLICY, now=AT)
