"""Reports and cases: what a report says, what a case knows, and who may say what.

Pure domain: no HTTP, SQL or Celery. A *report* is one person's or one organisation's notice
about one item; a *case* gathers every report about the same content, its reposts and
matching media, and carries one priority and one set of clocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from takedown.identity import Permission, Principal, PrincipalKind, Scope


class Category(StrEnum):
    """From the most to the least severe (``most_severe``)."""

    csam = "csam"  # child sexual abuse material
    ncii = "ncii"  # an intimate image shared without consent
    other_illegal = "other_illegal"
    policy = "policy"  # against the platform's rules


_SEVERITY = tuple(Category)


def most_severe(categories: frozenset[Category]) -> Category:
    """The most severe of ``categories`` (``policy`` when there are none): a case's category
    in the queue."""
    for category in _SEVERITY:
        if category in categories:
            return category
    return Category.policy


class ReporterRole(StrEnum):
    depicted_person = "depicted_person"
    parent_guardian = "parent_guardian"
    user = "user"
    trusted_flagger = "trusted_flagger"
    law_enforcement = "law_enforcement"
    platform_staff = "platform_staff"


class Priority(StrEnum):
    """``P0`` is the most urgent."""

    p0 = "P0"
    p1 = "P1"
    p2 = "P2"

    @property
    def level(self) -> int:
        return int(self.value[1])

    @classmethod
    def of_level(cls, level: int) -> Priority:
        return _LEVELS[max(0, min(2, level))]


_LEVELS = (Priority.p0, Priority.p1, Priority.p2)


class CaseStatus(StrEnum):
    open = "open"  # waiting for, or under, review
    pending_second_review = "pending_second_review"  # a proposal waits for a senior's opinion
    on_hold = "on_hold"
    confirmed = "confirmed"  # a violation was confirmed (by a person, or by a bank match)
    closed = "closed"
    appealed = "appealed"  # a decision was appealed: open again, for someone else to decide
    merged = "merged"  # its reports, items and reporters moved to another case (``merged_into``)


class ReportSource(StrEnum):
    public_page = "public_page"  # the /report form: anyone, no login
    api = "api"  # a platform's report button, a trusted flagger, police, staff
    scan = "scan"  # an upload that matched a block_and_report bank (no person reported it)


PUBLIC_ROLES = frozenset(
    {ReporterRole.depicted_person, ReporterRole.parent_guardian, ReporterRole.user}
)


class RoleNotAllowed(Exception):
    """The caller may not report in the role it claimed (e.g. ``law_enforcement`` without a
    police key)."""

    def __init__(self, role: ReporterRole, allowed: frozenset[ReporterRole]) -> None:
        names = ", ".join(sorted(allowed))
        super().__init__(f"reporter_role {role} is not allowed for this caller (allowed: {names})")
        self.role = role
        self.allowed = allowed


def allowed_roles(actor: Principal | None) -> frozenset[ReporterRole]:
    """The reporter roles a caller may claim: the public and a platform's report button speak
    for people; only a trusted flagger's key says ``trusted_flagger``, only a police key says
    ``law_enforcement``, and ``platform_staff`` needs a platform key or a staff member."""
    if actor is None:
        return PUBLIC_ROLES
    if actor.kind is PrincipalKind.system:
        return frozenset(ReporterRole)
    roles = set(PUBLIC_ROLES)
    if actor.is_staff or Scope.report in actor.scopes:
        roles.add(ReporterRole.platform_staff)
    if actor.can(Permission.reports_as_trusted_flagger):
        roles.add(ReporterRole.trusted_flagger)
    if actor.can(Permission.reports_as_law_enforcement):
        roles.add(ReporterRole.law_enforcement)
    return frozenset(roles)


# A value: never changed in place once made; a change makes a new one (docs/developing.md,
# "The domain", says why it is not frozen).
@dataclass(slots=True)
class ReportFacts:
    """What one report contributes to its case's triage."""

    category: Category
    reporter_role: ReporterRole
    depicted_minor: bool | None
    police_case_number: bool
    valid_ncii_request: bool
    received_at: datetime
    new_reporter: bool  # not a reporter this case has heard from before


@dataclass(slots=True)
class CaseFacts:
    """Everything triage looks at, kept on the case and folded in report by report.

    Stored as JSON on the case (``as_json``/``from_json``), so a case's priority is always
    recomputable from what it has heard, and the reasons shown are the facts themselves."""

    categories: frozenset[Category] = frozenset()
    roles: frozenset[ReporterRole] = frozenset()
    csam_minor: bool = False
    depicted_minor: bool = False  # a report, of any category, said the person shown is a minor
    police_case_number: bool = False
    reporters: int = 0
    reports: int = 0
    block_and_report_match: bool = False
    fast_exposure: bool = False
    uploader_prior_removals: int = 0
    first_report_at: datetime | None = None
    first_valid_ncii_at: datetime | None = None
    # The case about the same content closed earlier with no violation: this one is linked to
    # it, and, about a minor, goes to a senior reviewer (``cases.review``).
    previous_case: int | None = None
    # The category of the violation in force, as a reviewer (or a bank) decided it: from the
    # decision on, it is the case's category (what it is filed as, how its accounts are
    # treated), whatever the reports called it. None while undecided or after no violation.
    decided_category: Category | None = None
    # A decision once called it CSAM: the case stays minor-safety for good, even if that
    # decision is later overturned by two people (who saw it, and what was filed, stay
    # behind the child-safety permission).
    decided_csam: bool = False
    # This case was merged into that one (``cases.merge``): it holds nothing any more.
    merged_into: int | None = None

    def with_report(self, r: ReportFacts) -> CaseFacts:
        minor = r.category is Category.csam and r.depicted_minor is not False
        first_valid = self.first_valid_ncii_at
        if r.valid_ncii_request and (first_valid is None or r.received_at < first_valid):
            first_valid = r.received_at
        first = self.first_report_at
        # Every field named (not ``dataclasses.replace``, which looks the fields up each time):
        # this runs for every report.
        return CaseFacts(
            categories=self.categories | {r.category},
            roles=self.roles | {r.reporter_role},
            csam_minor=self.csam_minor or minor,
            depicted_minor=self.depicted_minor or r.depicted_minor is True,
            police_case_number=self.police_case_number or r.police_case_number,
            reporters=self.reporters + (1 if r.new_reporter else 0),
            reports=self.reports + 1,
            block_and_report_match=self.block_and_report_match,
            fast_exposure=self.fast_exposure,
            uploader_prior_removals=self.uploader_prior_removals,
            first_report_at=r.received_at if first is None or r.received_at < first else first,
            first_valid_ncii_at=first_valid,
            previous_case=self.previous_case,
            decided_category=self.decided_category,
            decided_csam=self.decided_csam,
            merged_into=self.merged_into,
        )

    def joined(self, other: CaseFacts, *, reporters: int) -> CaseFacts:
        """These facts and ``other``'s, as if every report of both had come to one case
        (``cases.merge``): ``reporters`` is the count of distinct reporters across both, which
        only the reports themselves tell. What a decision of this case set stays this case's."""
        firsts = [t for t in (self.first_report_at, other.first_report_at) if t is not None]
        valid = [t for t in (self.first_valid_ncii_at, other.first_valid_ncii_at) if t is not None]
        return CaseFacts(
            categories=self.categories | other.categories,
            roles=self.roles | other.roles,
            csam_minor=self.csam_minor or other.csam_minor,
            depicted_minor=self.depicted_minor or other.depicted_minor,
            police_case_number=self.police_case_number or other.police_case_number,
            reporters=reporters,
            reports=self.reports + other.reports,
            block_and_report_match=self.block_and_report_match or other.block_and_report_match,
            fast_exposure=self.fast_exposure or other.fast_exposure,
            uploader_prior_removals=max(
                self.uploader_prior_removals, other.uploader_prior_removals
            ),
            first_report_at=min(firsts) if firsts else None,
            first_valid_ncii_at=min(valid) if valid else None,
            previous_case=self.previous_case if self.previous_case else other.previous_case,
            decided_category=self.decided_category,
            decided_csam=self.decided_csam or other.decided_csam,
            merged_into=self.merged_into,
        )

    @property
    def minor_safety(self) -> bool:
        """A report called it CSAM, or said the person shown is a minor, or a decision called
        it CSAM: only staff with the child-safety permission see the case, and four eyes
        decide it (``cases.review``). Once true, nothing makes it false again."""
        return Category.csam in self.categories or self.depicted_minor or self.decided_csam

    @property
    def category(self) -> Category:
        """The decided category while a violation is in force, else the most severe any
        report gave."""
        if self.decided_category is not None:
            return self.decided_category
        return most_severe(self.categories)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            # Plain strings: pydantic-core's encoder, given an enum, first probes it for
            # pydantic's and dataclasses' attributes, raising and clearing an error each time.
            "categories": sorted(map(str, self.categories)),
            "roles": sorted(map(str, self.roles)),
            "csam_minor": self.csam_minor,
            "depicted_minor": self.depicted_minor,
            "police_case_number": self.police_case_number,
            "reporters": self.reporters,
            "reports": self.reports,
            "block_and_report_match": self.block_and_report_match,
            "fast_exposure": self.fast_exposure,
            "uploader_prior_removals": self.uploader_prior_removals,
            "first_report_at": _iso(self.first_report_at),
            "first_valid_ncii_at": _iso(self.first_valid_ncii_at),
            "previous_case": self.previous_case,
            "decided_category": str(self.decided_category) if self.decided_category else None,
            "decided_csam": self.decided_csam,
        }
        if self.merged_into is not None:  # rare: left out of every other case's row
            data["merged_into"] = self.merged_into
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseFacts:
        return cls(
            categories=frozenset(_CATEGORIES[c] for c in data.get("categories", [])),
            roles=frozenset(_ROLES[r] for r in data.get("roles", [])),
            csam_minor=bool(data.get("csam_minor")),
            depicted_minor=bool(data.get("depicted_minor")),
            police_case_number=bool(data.get("police_case_number")),
            reporters=int(data.get("reporters", 0)),
            reports=int(data.get("reports", 0)),
            block_and_report_match=bool(data.get("block_and_report_match")),
            fast_exposure=bool(data.get("fast_exposure")),
            uploader_prior_removals=int(data.get("uploader_prior_removals", 0)),
            first_report_at=_parse(data.get("first_report_at")),
            first_valid_ncii_at=_parse(data.get("first_valid_ncii_at")),
            previous_case=data.get("previous_case"),
            decided_category=(
                _CATEGORIES[data["decided_category"]] if data.get("decided_category") else None
            ),
            decided_csam=bool(data.get("decided_csam")),
            merged_into=data.get("merged_into"),
        )


# Members by value, for reading stored facts (``Category(value)`` runs Python code per call).
_CATEGORIES = {m.value: m for m in Category}
_ROLES = {m.value: m for m in ReporterRole}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


CASE_NUMBER_PREFIX = "TD-"


def case_number(case_id: int) -> str:
    """The human-readable case number: ``TD-0001234``. It is not a secret; the status link
    is."""
    return f"{CASE_NUMBER_PREFIX}{case_id:07d}"


def case_id_of(number: str) -> int | None:
    """The case id in a case number, or None if it is not one."""
    digits = number.strip().upper().removeprefix(CASE_NUMBER_PREFIX)
    return int(digits) if digits.isdigit() else None


NCII_REQUIREMENTS = {
    "signature": "your full name, typed, as your signature",
    "good_faith_statement": "a statement that you believe in good faith the image is shared "
    "without consent",
    "contact": "a way to contact you (an e-mail address)",
    "reporter_role": "that you are the person shown, or act for them (a parent or guardian)",
}


def missing_for_valid_ncii(
    *,
    reporter_role: ReporterRole,
    signature: str | None,
    good_faith_statement: bool,
    contact_email: str | None,
) -> list[str]:
    """What a non-consensual intimate image report lacks to be a valid removal request under
    the TAKE IT DOWN Act (signature, good-faith statement, contact details, made by the person
    shown or someone authorised to act for them). The content itself is identified by every
    report. Empty when the request is valid: the 48-hour removal clock starts."""
    missing = []
    if reporter_role not in (ReporterRole.depicted_person, ReporterRole.parent_guardian):
        missing.append("reporter_role")
    if not (signature and signature.strip()):
        missing.append("signature")
    if not good_faith_statement:
        missing.append("good_faith_statement")
    if not (contact_email and contact_email.strip()):
        missing.append("contact")
    return missing


@dataclass(slots=True)
class ReportReceived:
    """A report was received and joined (or opened) a case."""

    event_type: ClassVar[str] = "cases.report_received"
    report_id: int
    case_id: int
    content_id: str
    category: str
    priority: str
    new_case: bool


@dataclass(frozen=True)
class CasePriorityChanged:
    event_type: ClassVar[str] = "cases.priority_changed"
    case_id: int
    old: str
    new: str
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class CaseConfirmed:
    """A violation was confirmed; enforcement takes it from here."""

    event_type: ClassVar[str] = "cases.confirmed"
    case_id: int
    content_ids: list[str]
    automated: bool
    reason: str


@dataclass(frozen=True)
class ReporterEmailQueued:
    """An e-mail to a reporter who gave an address: the acknowledgment, or a decision. Sent by
    the worker (at least once; the message id lets a receiving server drop a repeat)."""

    event_type: ClassVar[str] = "cases.reporter_email"
    case_id: int
    to: str
    subject: str
    body: str
