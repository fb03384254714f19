"""Cases: reports, the cases that gather them, and triage (priority, reasons, clocks).

Pure domain: imports ``identity`` and ``matching``'s values only. ``Case`` (``case.py``) is
the aggregate: every change of a case's state is one of its methods.

Exceptions::

    RoleNotAllowed   the caller claimed a reporter role its credential does not allow
    CaseNotOpen      a decision was asked of a case that is already decided or closed
    ReviewRefused    a review rule refused a claim, a decision or an appeal (``review``)
"""

from takedown.cases.case import (
    Case,
    CaseEvent,
    CaseNotOpen,
    Change,
    Decision,
    IncomingReport,
    Outcome,
)
from takedown.cases.merge import CasesMerged, Merge
from takedown.cases.model import (
    NCII_REQUIREMENTS,
    PUBLIC_ROLES,
    CaseConfirmed,
    CaseFacts,
    CasePriorityChanged,
    CaseStatus,
    Category,
    Priority,
    ReporterEmailQueued,
    ReporterRole,
    ReportFacts,
    ReportReceived,
    ReportSource,
    RoleNotAllowed,
    allowed_roles,
    case_id_of,
    case_number,
    missing_for_valid_ncii,
    most_severe,
)
from takedown.cases.review import (
    AppealOutcome,
    Claim,
    ClaimHeld,
    NoClaim,
    NotDecidable,
    NotPermitted,
    OwnProposal,
    Reviewer,
    ReviewPolicy,
    ReviewRefused,
    SameDecider,
    is_minor_safety,
)
from takedown.cases.triage import (
    LEGAL_NCII_REMOVAL,
    Clocks,
    Reason,
    Triage,
    TriagePolicy,
    clocks,
    triage,
)

__all__ = [
    "LEGAL_NCII_REMOVAL",
    "NCII_REQUIREMENTS",
    "PUBLIC_ROLES",
    "AppealOutcome",
    "Case",
    "CaseConfirmed",
    "CaseEvent",
    "CaseFacts",
    "CaseNotOpen",
    "CasePriorityChanged",
    "CaseStatus",
    "CasesMerged",
    "Category",
    "Change",
    "Claim",
    "ClaimHeld",
    "Clocks",
    "Decision",
    "IncomingReport",
    "Merge",
    "NoClaim",
    "NotDecidable",
    "NotPermitted",
    "Outcome",
    "OwnProposal",
    "Priority",
    "Reason",
    "ReportFacts",
    "ReportReceived",
    "ReportSource",
    "ReporterEmailQueued",
    "ReporterRole",
    "ReviewPolicy",
    "ReviewRefused",
    "Reviewer",
    "RoleNotAllowed",
    "SameDecider",
    "Triage",
    "TriagePolicy",
    "allowed_roles",
    "case_id_of",
    "case_number",
    "clocks",
    "is_minor_safety",
    "missing_for_valid_ncii",
    "most_severe",
    "triage",
]
