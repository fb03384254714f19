"""The reactions that run after a decision's (or a report's) transaction has committed, from
the outbox (``flows.reactions`` says which event runs which). Each is
``(event, ctx, deps) -> None``: ``ctx.uow`` is open and commits together with the event being
marked done, so what a reaction writes happens once; ``deps`` is what the process was built
with (``FlowDeps``). Each may run again for the same event (a crash between its effects
outside the database and the commit), so each is idempotent: it looks before it writes.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Protocol

from takedown.cases import CaseConfirmed, Outcome
from takedown.cases.enforcement import AccountsSuspended, ContentRemoved, EvidenceWanted
from takedown.cases.review import CaseClosed, ViolationOverturned
from takedown.identity import Principal
from takedown.jobs import HandlerContext
from takedown.matching import BankEntriesAdded, BankIndexes
from takedown.matching.exchanges import EntriesWithdrawn, ExchangeFeedbackOwed, Feedback
from takedown.services import audit, evidence, exchanges, filing, reports, retro
from takedown.services.enforcement import RegistrySearch
from takedown.services.review_media import MediaSettings

REACTIONS_ACTOR = Principal.system("reactions")


class FlowDeps(Protocol):
    """What the reactions need from the process that runs them (``server.Container`` is
    one): settings made into contexts, and the clock."""

    @property
    def vault(self) -> evidence.Vault | None: ...

    @property
    def media_settings(self) -> MediaSettings: ...

    @property
    def filing_settings(self) -> filing.FilingSettings: ...

    @property
    def registry_media(self) -> RegistrySearch: ...

    @property
    def emails_reporters(self) -> bool: ...

    def bank_indexes(self) -> BankIndexes: ...

    def intake(self) -> reports.IntakeContext: ...

    def now(self) -> datetime: ...


def seal_evidence_and_draft(event: EvidenceWanted, ctx: HandlerContext, deps: FlowDeps) -> None:
    """Fetch and seal a case's media (``services.evidence``), where a key is set; on a
    confirmation, the media sealed joins the CyberTipline draft, and a bank-confirmed case is
    filed when auto-filing is on (``services.filing.draft``)."""
    now = deps.now()
    vault = deps.vault
    if vault is not None:
        evidence.preserve_case(
            ctx.uow,
            case_id=event.case_id,
            vault=vault,
            media=deps.media_settings,
            now=now,
            confirmed=event.confirmed,
        )
    if event.confirmed:
        filing.draft(
            ctx.uow, case_id=event.case_id, settings=deps.filing_settings, now=now, preserved=True
        )


def tell_reporters_removed(event: ContentRemoved, ctx: HandlerContext, deps: FlowDeps) -> None:
    """Reporters of removed content who gave an address are told, by e-mail (queued)."""
    if not deps.emails_reporters:
        return
    uow = ctx.uow
    removed = set(event.content_ids)
    copies = sum(1 for a in uow.actions.for_case(event.case_id) if a.type == "remove")
    # Each reporter is told once, however often this runs: the audit log keeps who was told
    # (a digest of the address, not the address).
    earlier = uow.audit.list(target_type="case", target_id=str(event.case_id))
    told = {
        digest
        for entry in earlier
        if entry.action == "case.reporters_told_removed"
        for digest in entry.details.get("to", [])
    }
    now_told: list[str] = []
    merged: list[int] | None = None
    for report in uow.reports.for_case(event.case_id):
        address = report.contact_email
        if not address or report.content_id not in removed:
            continue
        digest = hashlib.sha256(address.lower().encode()).hexdigest()[:16]
        if digest not in told:
            told.add(digest)
            now_told.append(digest)
            if merged is None:
                merged = uow.case_links.merged_into(event.case_id)
            uow.publish(
                reports.removal_notice(
                    case_id=event.case_id, to=address, copies=copies, merged=merged
                )
            )
    if now_told:
        audit.record(
            uow,
            actor=REACTIONS_ACTOR,
            action="case.reporters_told_removed",
            target_type="case",
            target_id=event.case_id,
            details={"to": now_told},
            at=deps.now(),
        )


def queue_suspended_accounts(event: AccountsSuspended, ctx: HandlerContext, deps: FlowDeps) -> None:
    """A suspended account's other content goes to review (``services.retro``)."""
    retro.queue_suspended_accounts(ctx.uow, event, intake=deps.intake())


def match_registry(event: BankEntriesAdded, ctx: HandlerContext, deps: FlowDeps) -> None:
    """Retroactive matching: registered items the bank's new entries match are reported
    (``services.retro``)."""
    retro.match_registry(ctx.uow, event, intake=deps.intake(), media=deps.registry_media)


def owe_exchange_feedback(
    event: CaseConfirmed | CaseClosed | ViolationOverturned, ctx: HandlerContext, deps: FlowDeps
) -> None:
    """A final decision on a case whose media matched an exchange's entries owes that exchange
    feedback: confirmed for a violation, rejected for "no violation" or an overturned one
    (``services.exchanges``); the ``exchanges`` lane sends it."""
    if isinstance(event, CaseClosed) and event.outcome != Outcome.no_violation:
        return
    verdict = Feedback.confirmed if isinstance(event, CaseConfirmed) else Feedback.rejected
    owed = exchanges.owe_feedback(
        ctx.uow,
        case_id=event.case_id,
        verdict=verdict,
        indexes=deps.bank_indexes(),
        now=deps.now(),
    )
    if owed:
        ctx.uow.publish(ExchangeFeedbackOwed(case_id=event.case_id, owed=owed))


def flag_withdrawn(event: EntriesWithdrawn, ctx: HandlerContext, deps: FlowDeps) -> None:
    """Open cases an automatic report opened on hashes an exchange withdrew get a note for
    their reviewer (``services.retro``)."""
    retro.flag_withdrawn(ctx.uow, event, media=deps.registry_media, now=deps.now())
