"""What follows each event: the one table of reactions, read top to bottom.

For every event type the domain and the services publish, the table says what runs **in the
transaction** that published it (written by the use case itself, named here so a reader can
follow a decision without searching) and what runs **after commit, from the outbox** (a
function in ``flows.handlers``, run by the job runtime's lane the entry names, with the lease,
retry and back-off of every lane). An event with neither is the outbox's record only.

Lanes keep slow work from holding up fast work: ``events`` (the default), ``evidence`` (media
fetched from the platform and sealed), ``email``, ``banks`` (retroactive matching) run outbox
events; ``delivery`` (actions to the platform's webhook) and ``filing`` (reports to NCMEC) run
loops over tables of their own. A commit wakes the lanes of the events it published
(``lanes``, given to ``jobs.Runtime``).

``SYSTEM_EVENTS`` (the catalogue every process shares: which types some process handles) is
made from this table, so a type is handled exactly when it has an after-commit reaction, and
``wire`` registers those reactions with a process's handler registry. Adding a reaction is one
line here and one function in ``flows.handlers``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from takedown.authorities import FilingRequested, ReportFiled
from takedown.cases import (
    CaseConfirmed,
    CasePriorityChanged,
    CasesMerged,
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
from takedown.cases.reasons import StatementsMade
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
from takedown.flows import handlers
from takedown.flows.handlers import FlowDeps
from takedown.identity import (
    AccountLockedOut,
    CredentialIssued,
    CredentialRevoked,
    PermissionChanged,
    UserCreated,
)
from takedown.jobs import HandlerContext, HandlerRegistry
from takedown.jobs.catalogue import EventCatalogue
from takedown.matching import BankEntriesAdded, ContentMatched, EntryQuarantined
from takedown.matching.exchanges import EntriesWithdrawn, ExchangeFeedbackOwed

AfterCommit = Callable[[Any, HandlerContext, FlowDeps], None]

# The lanes of the job runtime.
EVENTS, EVIDENCE, EMAIL, BANKS = "events", "evidence", "email", "banks"  # outbox events
# loops over tables of their own
DELIVERY, FILING, EXCHANGES = "delivery", "filing", "exchanges"
TRANSPARENCY = "transparency"  # statements of reasons to the DSA Transparency Database
# a loop on a schedule only (no event wakes it): the evidence purge
MAINTENANCE = "maintenance"
OUTBOX_LANES = frozenset({EVENTS, EVIDENCE, EMAIL, BANKS})


@dataclass(frozen=True)
class Reactions:
    """``in_transaction``: what the publishing use case does in its own transaction, named
    ``module.function`` for the reader. ``after_commit``: the functions the ``lane`` runs.
    ``elsewhere``: after-commit work of a lane's own (a loop over its table, or a handler
    that needs a process's settings, as a mail server's), wired where the process is built,
    not by ``wire``. ``lane``: which lane of the job runtime follows the event up; a commit
    that publishes it wakes that lane."""

    in_transaction: tuple[str, ...] = ()
    after_commit: tuple[AfterCommit, ...] = ()
    elsewhere: str | None = None
    lane: str = EVENTS

    @property
    def deferred(self) -> bool:
        return bool(self.after_commit) or self.elsewhere is not None


RECORD = Reactions()

REACTIONS: dict[type[Any], Reactions] = {
    # A report arrives.
    ReportReceived: Reactions(
        in_transaction=(
            "services.reports.intake.store: the case opened or joined, triaged, audited",
        )
    ),
    CasePriorityChanged: RECORD,
    ContentMatched: RECORD,
    # A decision confirms a violation (a reviewer's, or a bank's at intake).
    CaseConfirmed: Reactions(
        in_transaction=(
            "services.decisions.react: for a person's decision and a bank's alike,",
            "services.enforcement.enforce: the takedown set's actions written, media banked",
            "services.filing.draft: the CyberTipline draft of a CSAM case",
            "services.reports.notices.decision_notice: the reporters' e-mails queued",
        ),
        after_commit=(handlers.owe_exchange_feedback,),
        lane=BANKS,
    ),
    ActionsPlanned: Reactions(
        in_transaction=("services.enforcement.enforce",),
        elsewhere="services.delivery.Deliverer: the actions delivered to the platform",
        lane=DELIVERY,
    ),
    EvidenceWanted: Reactions(after_commit=(handlers.seal_evidence_and_draft,), lane=EVIDENCE),
    StatementsMade: Reactions(
        elsewhere="services.transparency_db.TdbLane: sent to the DSA Transparency Database",
        lane=TRANSPARENCY,
    ),
    AccountsSuspended: Reactions(after_commit=(handlers.queue_suspended_accounts,)),
    ContentRemoved: Reactions(after_commit=(handlers.tell_reporters_removed,)),
    ConfirmedMediaBanked: RECORD,
    ReporterEmailQueued: Reactions(
        elsewhere="services.notify: sent by a process with the mail settings (bootstrap.handlers)",
        lane=EMAIL,
    ),
    # Review.
    CaseClaimed: RECORD,
    CaseReleased: RECORD,
    SecondReviewRequested: RECORD,
    CaseClosed: Reactions(
        in_transaction=("services.decisions.react: the case's items closed, reporters' e-mails",),
        after_commit=(handlers.owe_exchange_feedback,),
        lane=BANKS,
    ),
    CaseHeld: RECORD,
    CaseResumed: RECORD,
    CasesMerged: RECORD,
    CaseAppealed: RECORD,
    AppealDecided: RECORD,
    ViolationOverturned: Reactions(
        in_transaction=(
            "services.decisions.react:",
            "services.enforcement.undo: removals restored",
            "services.filing.withdraw: an unsent report withdrawn",
        ),
        after_commit=(handlers.owe_exchange_feedback,),
        lane=BANKS,
    ),
    # Banks.
    BankEntriesAdded: Reactions(after_commit=(handlers.match_registry,), lane=BANKS),
    EntryQuarantined: RECORD,
    EntriesWithdrawn: Reactions(after_commit=(handlers.flag_withdrawn,), lane=BANKS),
    ExchangeFeedbackOwed: Reactions(
        elsewhere="services.exchanges.ExchangeLane: the feedback sent to the exchange",
        lane=EXCHANGES,
    ),
    # Filing.
    FilingRequested: Reactions(
        elsewhere="services.filing.Filer: the report filed with NCMEC", lane=FILING
    ),
    ReportFiled: RECORD,
    # Accounts and credentials.
    UserCreated: RECORD,
    AccountLockedOut: RECORD,
    CredentialIssued: RECORD,
    CredentialRevoked: Reactions(
        in_transaction=(
            "server.auth_cache.CredentialCache: this process's cache emptied on commit",
        )
    ),
    PermissionChanged: RECORD,
}


def _catalogue() -> EventCatalogue:
    # Delivery and filing run loops over their own tables, so their events stay the outbox's
    # record; deferred work in an outbox lane (an e-mail too) waits for a process that runs it.
    handled = [cls for cls, r in REACTIONS.items() if r.deferred and r.lane in OUTBOX_LANES]
    return EventCatalogue(
        handled=handled, record_only=[cls for cls in REACTIONS if cls not in handled]
    )


SYSTEM_EVENTS = _catalogue()


def wire(registry: HandlerRegistry, deps: FlowDeps) -> None:
    """Register the after-commit reactions with ``registry``, bound to ``deps``, for the
    event types its catalogue handles (a test's own catalogue may handle fewer)."""
    for cls, reactions in REACTIONS.items():
        if cls.event_type not in registry.catalogue.handled:
            continue
        for reaction in reactions.after_commit:
            registry.register(cls, _bound(reaction, deps))


def _bound(reaction: AfterCommit, deps: FlowDeps) -> Callable[[Any, HandlerContext], None]:
    def handler(event: Any, ctx: HandlerContext) -> None:
        reaction(event, ctx, deps)

    handler.__name__ = handler.__qualname__ = reaction.__name__
    return handler


def lanes() -> dict[str, str]:
    """The lane that follows up each event type that has deferred work (for ``jobs.Runtime``
    to wake on commit)."""
    return {cls.event_type: r.lane for cls, r in REACTIONS.items() if r.deferred}


def outbox_lanes() -> dict[str, frozenset[str]]:
    """The lanes that run outbox events, each with its event types."""
    found: dict[str, set[str]] = {}
    for cls, r in REACTIONS.items():
        if cls.event_type in SYSTEM_EVENTS.handled:
            found.setdefault(r.lane, set()).add(cls.event_type)
    return {lane: frozenset(types) for lane, types in found.items()}
