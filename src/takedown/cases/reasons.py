"""Statements of reasons (DSA Article 17): what each restriction of content or of an account
tells the person it restricts, and what the Commission's Transparency Database receives of it
without personal data (Article 24(5)). Pure: built from the decision, the action and the facts
of the case, never from text a reporter wrote or from the platform's ids.

One statement per restricting action (a removal, an interim restriction, an account's
suspension), identified by the action's stable id, which is also its ``puid`` in the database:
a decision that takes down a thousand copies states its reasons to each uploader, and reaches
the database once per copy.

The database's fields and enumerations are its own (``digital-services-act/
transparency-database``: ``app/Models/Statement.php``, ``StatementStoreRequest.php``): the
enumerations by their constant names (``DECISION_GROUND_ILLEGAL_CONTENT``), except
``automated_detection`` and ``incompatible_content_illegal``, which take ``Yes`` or ``No``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from takedown.cases.decision import Decision
from takedown.cases.enforcement import ActionType
from takedown.cases.model import CaseFacts, Category, ReporterRole

# The country codes the database knows (EU and EEA): a removal applies everywhere.
EEA = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
    "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
)  # fmt: skip

# What a takedown category is in the database's terms: its category and keyword.
DSA_CATEGORIES = {
    Category.csam: (
        "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
        "KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL",
    ),
    Category.ncii: ("STATEMENT_CATEGORY_CYBER_VIOLENCE", "KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"),
    Category.other_illegal: ("STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE", None),
    Category.policy: ("STATEMENT_CATEGORY_OTHER_VIOLATION_TC", None),
}
_WHAT = {
    Category.csam: "child sexual abuse material",
    Category.ncii: "an intimate image shared without the consent of the person shown",
    Category.other_illegal: "illegal content",
    Category.policy: "content against the platform's terms of service",
}
# Where the law is named by default (the operator names their own: ``ReasonsPolicy``).
DEFAULT_LEGAL_GROUNDS = {
    Category.csam: "18 U.S.C. 2252A and 2258A (child sexual abuse material); "
    "Directive 2011/93/EU, Article 5",
    Category.ncii: "TAKE IT DOWN Act, 47 U.S.C. 223(h) (non-consensual intimate images); "
    "Directive (EU) 2024/1385, Article 5",
    Category.other_illegal: "the law of the country where the content was reported",
}


@dataclass(frozen=True)
class StatementsMade:
    """A case's restricting actions were given their statements of reasons: the
    Transparency Database is owed them (``services.transparency_db``)."""

    event_type: ClassVar[str] = "cases.statements_made"
    case_id: int
    statements: int


class Restriction(StrEnum):
    removal = "removal"
    disabling = "disabling"  # interim: not shown to others while a report is reviewed
    account_suspension = "account_suspension"


RESTRICTIONS = {
    ActionType.remove: Restriction.removal,
    ActionType.restrict: Restriction.disabling,
    ActionType.suspend_account: Restriction.account_suspension,
}
_VISIBILITY = {
    Restriction.removal: "DECISION_VISIBILITY_CONTENT_REMOVED",
    Restriction.disabling: "DECISION_VISIBILITY_CONTENT_DISABLED",
}
_CONTENT_TYPES = {"image": "CONTENT_TYPE_IMAGE", "video": "CONTENT_TYPE_VIDEO"}


class Automation(StrEnum):
    fully = "AUTOMATED_DECISION_FULLY"
    partially = "AUTOMATED_DECISION_PARTIALLY"
    not_automated = "AUTOMATED_DECISION_NOT_AUTOMATED"


@dataclass(frozen=True)
class ReasonsPolicy:
    """What the operator states for every decision (settings)."""

    legal_grounds: dict[Category, str] = field(default_factory=lambda: dict(DEFAULT_LEGAL_GROUNDS))
    terms_ground: str = "the platform's terms of service"
    territorial_scope: tuple[str, ...] = EEA
    appeal_within: timedelta = timedelta(days=183)
    appeal_url: str | None = None  # where an uploader appeals (the platform's own page)


@dataclass(frozen=True)
class Item:
    """What a statement needs of the restricted item: its kind and when it was first seen."""

    media_kind: str | None = None  # image | video | None (not analysed)
    first_seen: datetime | None = None


@dataclass(frozen=True)
class StatementOfReasons:
    puid: str  # the action's id
    restriction: Restriction
    category: Category
    illegal: bool  # the ground: illegal content, or the terms of service
    ground: str  # the law, or the terms' clause
    explanation: str
    facts: str
    source_type: str  # SOURCE_*
    automated_detection: bool
    automated_decision: Automation
    content_type: str | None  # CONTENT_TYPE_*; None: not analysed
    content_date: date
    application_date: date
    territorial_scope: tuple[str, ...]
    appeal_until: datetime
    appeal_url: str | None
    end_date: date | None = None  # an interim restriction ends with the decision, undated
    # The reviewer's own words, for the person restricted only: the database gets none.
    reviewer_reason: str | None = None

    def as_text(self) -> str:
        """What the person restricted reads (the action's ``statement_of_reasons``)."""
        what = {
            Restriction.removal: "This content was removed",
            Restriction.disabling: "This content is not shown to others while a report about "
            "it is reviewed",
            Restriction.account_suspension: "This account was suspended",
        }[self.restriction]
        scope = (
            "everywhere the platform is offered"
            if set(self.territorial_scope) >= set(EEA)
            else "in " + ", ".join(self.territorial_scope)
        )
        until = f" until {self.end_date:%d %B %Y}" if self.end_date else ""
        ground = (
            f"It is illegal under {self.ground}: {self.explanation}"
            if self.illegal
            else f"It breaks {self.ground}: {self.explanation}"
        )
        if self.reviewer_reason:
            ground += f" The reviewer's reason: {self.reviewer_reason.rstrip('.')}."
        automation = {
            Automation.fully: "The decision was taken by automated means (a match against a "
            "list of known material), without a person.",
            Automation.partially: "Automated means (a match against a list of known material) "
            "found it; a person took the decision.",
            Automation.not_automated: "A person took the decision; no automated means were used.",
        }[self.automated_decision]
        appeal = (
            f"You can appeal this decision until {self.appeal_until:%d %B %Y}"
            + (f" at {self.appeal_url}" if self.appeal_url else " through the platform")
            + "; someone who did not take it will review it. You may also turn to a certified "
            "out-of-court dispute settlement body, or to a court."
        )
        return f"{what}{until}, {scope}. {ground} {self.facts} {automation} {appeal}"

    def as_database(self) -> dict[str, Any]:
        """The statement in the Transparency Database's form (``POST /api/v1/statements``):
        no personal data, no platform ids, no free text from a reporter."""
        category, keyword = DSA_CATEGORIES[self.category]
        out: dict[str, Any] = {
            "puid": self.puid,
            "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT"
            if self.illegal
            else "DECISION_GROUND_INCOMPATIBLE_CONTENT",
            "category": category,
            "content_type": [self.content_type or "CONTENT_TYPE_OTHER"],
            "content_date": self.content_date.isoformat(),
            "application_date": self.application_date.isoformat(),
            "decision_facts": self.facts,
            "source_type": self.source_type,
            "automated_detection": "Yes" if self.automated_detection else "No",
            "automated_decision": str(self.automated_decision),
            "territorial_scope": list(self.territorial_scope),
        }
        if self.content_type is None:
            out["content_type_other"] = "Media not analysed"
        if keyword:
            out["category_specification"] = [keyword]
        if self.illegal:
            out["illegal_content_legal_ground"] = self.ground[:500]
            out["illegal_content_explanation"] = self.explanation[:2000]
        else:
            out["incompatible_content_ground"] = self.ground[:500]
            out["incompatible_content_explanation"] = self.explanation[:2000]
            out["incompatible_content_illegal"] = "No"
        if self.restriction is Restriction.account_suspension:
            out["decision_account"] = "DECISION_ACCOUNT_SUSPENDED"
            out["end_date_account_restriction"] = _day(self.end_date)
        else:
            out["decision_visibility"] = [_VISIBILITY[self.restriction]]
            out["end_date_visibility_restriction"] = _day(self.end_date)
        return out


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def source_type(facts: CaseFacts) -> str:
    """Where the case came from, as the database names it: a trusted flagger's notice, a
    notice by anyone else (Article 16), an authority's (another notification), or the
    platform's own initiative (a hash match on upload, its own staff)."""
    roles = facts.roles
    if ReporterRole.trusted_flagger in roles:
        return "SOURCE_TRUSTED_FLAGGER"
    if roles & {ReporterRole.depicted_person, ReporterRole.parent_guardian, ReporterRole.user}:
        return "SOURCE_ARTICLE_16"
    if ReporterRole.law_enforcement in roles:
        return "SOURCE_TYPE_OTHER_NOTIFICATION"
    return "SOURCE_VOLUNTARY"


_SOURCE_WORDS = {
    "SOURCE_TRUSTED_FLAGGER": "a notice from a trusted flagger",
    "SOURCE_ARTICLE_16": "a notice from a user of the platform or the person concerned",
    "SOURCE_TYPE_OTHER_NOTIFICATION": "a notice from a law-enforcement authority",
    "SOURCE_VOLUNTARY": "the platform's own checks",
}


def statement_of_reasons(
    *,
    action_id: str,
    action_type: ActionType,
    category: Category,
    facts: CaseFacts,
    decision: Decision | None,
    item: Item,
    at: datetime,
    policy: ReasonsPolicy,
) -> StatementOfReasons | None:
    """The statement of reasons for one action, or None for one that restricts nothing (a
    restoration, a strike). ``decision`` None: an interim restriction, which the platform's
    rule takes on its own while the case waits for a person."""
    restriction = RESTRICTIONS.get(action_type)
    if restriction is None:
        return None
    banks = sorted({str(g["bank"]) for g in (decision.grounds if decision else ()) if "bank" in g})
    detected = facts.block_and_report_match or bool(banks)
    if decision is None or decision.automated:
        automation = Automation.fully
    elif detected:
        automation = Automation.partially
    else:
        automation = Automation.not_automated
    source = source_type(facts)
    said = [f"It came to the platform's attention through {_SOURCE_WORDS[source]}"]
    if banks:
        said.append(f"it matched the hash list{'s' if len(banks) > 1 else ''} {', '.join(banks)}")
    elif facts.block_and_report_match:
        said.append("it matched a hash list of known material")
    if decision is None:
        said.append("it was spreading fast while the report waited for review")
        how = f"it was reported as {_WHAT[category]}; restricted until a person decides"
    elif decision.automated:
        how = f"it is a copy of {_WHAT[category]} already confirmed"
    else:
        how = f"a person on the platform's safety team reviewed it and found {_WHAT[category]}"
    illegal = category is not Category.policy
    return StatementOfReasons(
        puid=action_id,
        restriction=restriction,
        category=category,
        illegal=illegal,
        ground=policy.legal_grounds.get(category, DEFAULT_LEGAL_GROUNDS.get(category, ""))
        if illegal
        else policy.terms_ground,
        explanation=how[0].upper() + how[1:] + ".",
        facts="; ".join(said) + ".",
        source_type=source,
        automated_detection=detected,
        automated_decision=automation,
        content_type=_CONTENT_TYPES.get(item.media_kind or ""),
        content_date=(item.first_seen or at).date(),
        application_date=at.date(),
        territorial_scope=policy.territorial_scope,
        appeal_until=at + policy.appeal_within,
        appeal_url=policy.appeal_url,
        reviewer_reason=decision.reason if decision and not decision.automated else None,
    )


__all__ = [
    "EEA",
    "Automation",
    "Item",
    "ReasonsPolicy",
    "Restriction",
    "StatementOfReasons",
    "StatementsMade",
    "source_type",
    "statement_of_reasons",
]
