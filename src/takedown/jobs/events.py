"""Every event type takedown publishes, and whether a handler runs for it (see
``jobs.catalogue``). Adding a handler for a record-only type means moving it to ``handled``
here first (``docs/developing.md``, "An event and its handler")."""

from __future__ import annotations

from takedown.cases import (
    CaseConfirmed,
    CasePriorityChanged,
    ReporterEmailQueued,
    ReportReceived,
)
from takedown.cases.enforcement import (
    AccountsSuspended,
    ActionsPlanned,
    ConfirmedMediaBanked,
    ContentRemoved,
    EvidenceWanted,
)
from takedown.cases.review import (
    AppealDecided,
    CaseAppealed,
    CaseClaimed,
    CaseClosed,
    CaseHeld,
    CaseReleased,
    CaseResumed,
    SecondReviewRequested,
    ViolationOverturned,
)
from takedown.identity import (
    AccountLockedOut,
    CredentialIssued,
    CredentialRevoked,
    PermissionChanged,
    UserCreated,
)
from takedown.jobs.catalogue import EventCatalogue
from takedown.matching import BankEntriesAdded, ContentMatched
from takedown.reporting import FilingRequested, ReportFiled

SYSTEM_EVENTS = EventCatalogue(
    handled=[
        ReporterEmailQueued,  # sent by the worker that has the mail settings
        BankEntriesAdded,  # retroactive matching, by every worker (``services.retro``)
        AccountsSuspended,  # their other content queued for review (``services.retro``)
        ContentRemoved,  # reporters told by e-mail (``services.reports.notices``)
        EvidenceWanted,  # media fetched and sealed (``services.evidence``)
    ],
    record_only=[
        UserCreated,
        AccountLockedOut,
        CredentialIssued,
        CredentialRevoked,
        PermissionChanged,
        ContentMatched,
        ReportReceived,
        CasePriorityChanged,
        CaseConfirmed,  # enforced in the decision's transaction (``services.enforcement``)
        CaseClaimed,
        CaseReleased,
        SecondReviewRequested,
        CaseClosed,
        CaseHeld,
        CaseResumed,
        CaseAppealed,
        AppealDecided,
        ViolationOverturned,  # undone in the decision's transaction (``services.enforcement``)
        ConfirmedMediaBanked,
        ActionsPlanned,  # the actions themselves are delivered by ``jobs.delivery``
        FilingRequested,  # the filing itself is the NCMEC filer's (``services.filing``)
        ReportFiled,
    ],
)
