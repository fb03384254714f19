"""The e-mails to reporters of a case that others were merged into (``notices``): each
reporter knows only the number their own report was given, so the decision and the removal
name the cases joined to the one they are about."""

from __future__ import annotations

from datetime import UTC, datetime

from takedown.cases import Category, Decision, Outcome
from takedown.services.reports.notices import decision_notice, joined_from, removal_notice


def _decision() -> Decision:
    return Decision(
        outcome=Outcome.violation,
        category=Category.policy,
        reason="spam",
        statement="We removed it.",
        decided_by="rev",
        decided_at=datetime(2026, 12, 1, tzinfo=UTC),
        automated=False,
    )


def test_one_merged_case_is_named_with_the_case_it_joined():
    assert joined_from(12, [13]) == (
        "If your report was given the number TD-0000013: that case was joined to case "
        "TD-0000012 by a reviewer, so this is about your report too.\n"
    )


def test_several_merged_cases_are_named_as_one_of_them():
    assert "one of the numbers TD-0000013, TD-0000014 or TD-0000020: those cases were" in (
        joined_from(12, [13, 14, 20])
    )


def test_a_case_nothing_was_merged_into_says_nothing_of_merges():
    assert joined_from(12, []) == ""
    body = decision_notice(case_id=12, to="a@example.org", decision=_decision()).body
    assert "joined" not in body and "We removed it." in body


def test_the_decision_and_the_removal_carry_the_merged_numbers():
    decided = decision_notice(case_id=12, to="a@example.org", decision=_decision(), merged=[13])
    removed = removal_notice(case_id=12, to="a@example.org", copies=2, merged=[13])
    for notice in (decided, removed):
        assert "TD-0000012" in notice.subject
        assert "the number TD-0000013: that case was joined to case TD-0000012" in notice.body
