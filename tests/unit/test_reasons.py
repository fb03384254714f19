"""Statements of reasons (``cases.reasons``): every restriction, by a person or by automated
means, states the restriction, its scope, the ground, the facts, the automation and the
redress; and its Transparency Database form passes the database's own validation
(``tests/tdb_support.problems``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from takedown.cases import CaseFacts, Category, Decision, Outcome, ReporterRole
from takedown.cases.enforcement import ActionType
from takedown.cases.reasons import (
    EEA,
    Automation,
    Item,
    ReasonsPolicy,
    source_type,
    statement_of_reasons,
)
from takedown.config import EEA_CODES
from tests.tdb_support import problems

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = ReasonsPolicy(appeal_url="https://help.example.social/appeal")


def facts(*roles: ReporterRole, matched: bool = False) -> CaseFacts:
    return CaseFacts(roles=frozenset(roles), block_and_report_match=matched)


def human(category: Category) -> Decision:
    return Decision(
        outcome=Outcome.violation,
        category=category,
        reason="shows the reporter's ex",
        statement="We reviewed it.",
        decided_by="ana",
        decided_at=AT,
        automated=False,
    )


MATCH = Decision(
    outcome=Outcome.violation,
    category=Category.csam,
    reason="matched the known-CSAM hash bank ncmec",
    statement="Confirmed automatically.",
    decided_by="matcher",
    decided_at=AT,
    automated=True,
    grounds=({"bank": "ncmec", "signal_type": "md5", "entry_id": 1, "distance": 0},),
)


@pytest.mark.parametrize("category", list(Category))
@pytest.mark.parametrize(
    "action", [ActionType.remove, ActionType.restrict, ActionType.suspend_account]
)
@pytest.mark.parametrize("decided", ["person", "bank", "interim"])
def test_every_restriction_has_a_complete_statement_the_database_accepts(category, action, decided):
    decision = {"person": human(category), "bank": MATCH, "interim": None}[decided]
    found = statement_of_reasons(
        action_id="2f1c0d6e-0000-5000-8000-000000000001",
        action_type=action,
        category=category,
        facts=facts(ReporterRole.user, matched=decided == "bank"),
        decision=decision,
        item=Item("video", AT - timedelta(days=3)),
        at=AT,
        policy=POLICY,
    )
    assert found is not None
    fields = found.as_database()
    assert problems(fields) == []
    assert fields["content_date"] == "2026-11-28" and fields["application_date"] == "2026-12-01"
    assert fields["territorial_scope"] == list(EEA)
    text = found.as_text()
    restriction = {
        ActionType.remove: "was removed",
        ActionType.restrict: "is not shown to others",
        ActionType.suspend_account: "account was suspended",
    }[action]
    for part in (restriction, "everywhere the platform is offered", found.ground, "appeal",
                 "2 June 2027", "https://help.example.social/appeal", "out-of-court"):  # fmt: skip
        assert part in text, part
    automation = {"person": Automation.not_automated, "bank": Automation.fully}
    assert found.automated_decision is automation.get(decided, Automation.fully)
    if decided == "person":
        assert "shows the reporter's ex" in text  # the reviewer's words reach the uploader
    assert "reporter's ex" not in str(fields)  # and never the database


def test_the_ground_and_the_category_follow_the_case():
    def made(category: Category) -> dict:
        s = statement_of_reasons(
            action_id="a", action_type=ActionType.remove, category=category, facts=facts(),
            decision=human(category), item=Item(), at=AT, policy=POLICY,
        )  # fmt: skip
        assert s is not None
        return s.as_database()

    csam, ncii, policy = made(Category.csam), made(Category.ncii), made(Category.policy)
    assert csam["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert csam["category"] == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
    assert csam["category_specification"] == ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"]
    assert "2252A" in csam["illegal_content_legal_ground"]
    assert ncii["category_specification"] == ["KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"]
    assert "TAKE IT DOWN" in ncii["illegal_content_legal_ground"]
    assert policy["decision_ground"] == "DECISION_GROUND_INCOMPATIBLE_CONTENT"
    assert policy["incompatible_content_ground"] == "the platform's terms of service"
    assert policy["incompatible_content_illegal"] == "No"
    assert csam["content_type"] == ["CONTENT_TYPE_OTHER"] and csam["content_type_other"]


def test_a_person_deciding_what_a_bank_found_is_partly_automated():
    s = statement_of_reasons(
        action_id="a", action_type=ActionType.remove, category=Category.csam,
        facts=facts(matched=True), decision=human(Category.csam), item=Item("image"), at=AT,
        policy=POLICY,
    )  # fmt: skip
    assert s is not None and s.automated_decision is Automation.partially
    assert s.as_database()["automated_detection"] == "Yes"
    assert s.as_database()["content_type"] == ["CONTENT_TYPE_IMAGE"]


def test_strikes_and_restorations_restrict_nothing():
    for action in (ActionType.strike, ActionType.restore):
        assert statement_of_reasons(
            action_id="a", action_type=action, category=Category.csam, facts=facts(),
            decision=MATCH, item=Item(), at=AT, policy=POLICY,
        ) is None  # fmt: skip


@pytest.mark.parametrize(
    ("roles", "source"),
    [
        ((ReporterRole.trusted_flagger, ReporterRole.user), "SOURCE_TRUSTED_FLAGGER"),
        ((ReporterRole.depicted_person,), "SOURCE_ARTICLE_16"),
        ((ReporterRole.law_enforcement,), "SOURCE_TYPE_OTHER_NOTIFICATION"),
        ((ReporterRole.platform_staff,), "SOURCE_VOLUNTARY"),
        ((), "SOURCE_VOLUNTARY"),
    ],
)
def test_the_source_is_the_notice_that_brought_it(roles, source):
    assert source_type(facts(*roles)) == source


def test_the_settings_know_the_same_countries_as_the_statements():
    assert EEA_CODES == EEA
