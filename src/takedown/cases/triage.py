"""Triage: a case's priority, the reasons for it, and its clocks.

The policy is data (``TriagePolicy``), documented in ``docs/reporting.md`` and set through
``TAKEDOWN_TRIAGE_*`` settings. Defaults:

- **P0**: CSAM showing a minor, any report from law enforcement, or content that matches a
  ``block_and_report`` bank. A person looks within 1 hour.
- **P1**: an intimate image shared without consent (``ncii``). A person looks within 4 hours,
  and removal is decided within 48 hours of the first valid request (TAKE IT DOWN Act).
- **P2**: everything else. A person looks within 24 hours.

Raising factors add points (the depicted person or a parent reporting, a police case number,
a trusted flagger, more distinct reporters, fast-growing exposure, an uploader whose content
was removed before); every ``points_per_level`` points raise the case one level, up to P0.

Clocks only ever move earlier. ``respond_by`` is the earlier of the current one and "now plus
the window of the new priority" when a case is raised; ``remove_by`` is fixed by the first
valid ``ncii`` request and can never move later, whatever happens after.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from takedown.cases.model import CaseFacts, Category, Priority, ReporterRole

LEGAL_NCII_REMOVAL = timedelta(hours=48)
"""TAKE IT DOWN Act: removal within 48 hours of a valid request. A policy may only be
stricter."""


# A value: never changed in place once made; a change makes a new one (docs/developing.md,
# "The domain", says why it is not frozen).
@dataclass(slots=True)
class Reason:
    code: str
    text: str
    points: int = 0  # 0 for the reasons that set the base priority

    def as_json(self) -> dict[str, object]:
        return {"code": self.code, "text": self.text, "points": self.points}


@dataclass(frozen=True)
class TriagePolicy:
    respond_within: dict[Priority, timedelta] = field(
        default_factory=lambda: {
            Priority.p0: timedelta(hours=1),
            Priority.p1: timedelta(hours=4),
            Priority.p2: timedelta(hours=24),
        }
    )
    ncii_remove_within: timedelta = LEGAL_NCII_REMOVAL
    points_per_level: int = 2
    weights: dict[str, int] = field(
        default_factory=lambda: {
            "depicted_person": 1,
            "parent_guardian": 1,
            "police_case_number": 2,
            "trusted_flagger": 2,
            "more_reporters": 1,  # per distinct reporter after the first, up to 3
            "fast_exposure": 2,
            "prior_removals": 1,
        }
    )

    def __post_init__(self) -> None:
        if self.ncii_remove_within > LEGAL_NCII_REMOVAL:
            raise ValueError("the ncii removal window cannot be longer than the legal 48 hours")
        if self.points_per_level < 1:
            raise ValueError("points_per_level must be at least 1")


@dataclass(slots=True)
class Triage:
    priority: Priority
    reasons: list[Reason]

    @property
    def reason_codes(self) -> list[str]:
        return [r.code for r in self.reasons]


def triage(facts: CaseFacts, policy: TriagePolicy) -> Triage:
    """The priority of a case with ``facts``, and every reason for it."""
    base: list[Reason] = []
    if facts.csam_minor:
        base.append(Reason("csam_minor", "child sexual abuse material showing a minor"))
    if ReporterRole.law_enforcement in facts.roles:
        base.append(Reason("law_enforcement", "reported by law enforcement"))
    if facts.block_and_report_match:
        base.append(Reason("block_and_report_match", "matches a known-CSAM hash bank"))
    if base:
        level = 0
    elif Category.ncii in facts.categories:
        base.append(Reason("ncii", "an intimate image shared without consent"))
        level = 1
    elif Category.csam in facts.categories:
        # Reported as CSAM but the reporter said the person shown is an adult.
        base.append(
            Reason("csam_adult_stated", "reported as CSAM; the person shown may be an adult")
        )
        level = 1
    else:
        base.append(Reason("standard", "reported content with no urgency factor"))
        level = 2
    w = policy.weights
    raising: list[Reason] = []
    if ReporterRole.depicted_person in facts.roles:
        raising.append(
            Reason("depicted_person", "the person shown reported it", w["depicted_person"])
        )
    if ReporterRole.parent_guardian in facts.roles:
        raising.append(
            Reason("parent_guardian", "a parent or guardian reported it", w["parent_guardian"])
        )
    if facts.police_case_number:
        raising.append(
            Reason("police_case_number", "a police case number was given", w["police_case_number"])
        )
    if ReporterRole.trusted_flagger in facts.roles:
        raising.append(
            Reason("trusted_flagger", "a trusted flagger reported it", w["trusted_flagger"])
        )
    if facts.reporters > 1:
        extra = min(facts.reporters - 1, 3)
        raising.append(
            Reason(
                "more_reporters",
                f"{facts.reporters} different people reported it",
                w["more_reporters"] * extra,
            )
        )
    if facts.fast_exposure:
        raising.append(
            Reason("fast_exposure", "views or reposts are growing fast", w["fast_exposure"])
        )
    if facts.uploader_prior_removals:
        raising.append(
            Reason(
                "prior_removals",
                "the uploader's content was removed before",
                w["prior_removals"],
            )
        )
    points = sum(r.points for r in raising)
    level -= points // policy.points_per_level
    return Triage(priority=Priority.of_level(level), reasons=base + raising)


@dataclass(slots=True)
class Clocks:
    respond_by: datetime
    remove_by: datetime | None


def clocks(
    *,
    priority: Priority,
    facts: CaseFacts,
    policy: TriagePolicy,
    now: datetime,
    current: Clocks | None = None,
) -> Clocks:
    """The case's deadlines after a change at ``now``; never later than ``current``'s.

    A new case's clock starts at its first report; a raised case's new window starts at the
    raise. ``remove_by`` comes from the first valid ``ncii`` request alone."""
    start = facts.first_report_at or now if current is None else now
    respond_by = start + policy.respond_within[priority]
    remove_by = None
    if facts.first_valid_ncii_at is not None:
        remove_by = facts.first_valid_ncii_at + policy.ncii_remove_within
    if current is not None:
        respond_by = min(respond_by, current.respond_by)
        if current.remove_by is not None:
            remove_by = (
                current.remove_by if remove_by is None else min(remove_by, current.remove_by)
            )
    return Clocks(respond_by=respond_by, remove_by=remove_by)
