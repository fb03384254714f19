"""Retroactive matching: when a bank gains entries (an import, an exchange, a confirmation's
media), the items the registry holds from before are searched for them at once, by exact
digests in the registry's indexes and by PDQ through the ``RegistrySearch`` (the database's
chunk indexes, or the process's own index on SQLite), never by reading the whole registry; each
found item is reported as the upload path would have reported it when scanned. No peer does
this; it is how an old copy uploaded before its hash was known comes down. And the follow-up of
a suspension: the account's other content is queued."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from takedown.cases import CaseStatus, Category, ReporterRole, ReportSource, case_number
from takedown.cases.enforcement import AccountsSuspended, SetItem
from takedown.identity import Principal
from takedown.matching import (
    SIGNALS,
    Bank,
    BankEntriesAdded,
    BankEntry,
    BankIndexes,
    BankPolicy,
    Indexing,
    vpdq,
)
from takedown.matching.exchanges import EntriesWithdrawn
from takedown.services import audit, reports
from takedown.services.enforcement import RegistrySearch
from takedown.services.matcher import item_matches
from takedown.store.uow import UnitOfWork

RETRO_PAGE = 5_000


def match_registry(
    uow: UnitOfWork,
    event: BankEntriesAdded,
    *,
    intake: reports.IntakeContext,
    media: RegistrySearch,
) -> int:
    """Retroactive matching: the registry's items that match entries a bank just gained are
    reported as the upload path would have reported them, in ``uow``'s transaction. A match
    in a ``block_and_report`` bank opens or joins a case that is confirmed at once and
    enforced; one in a ``block`` or ``review`` bank opens or joins a case for a person.
    Returns how many items were found."""
    bank = next((b for b in uow.banks.list() if b.id == event.bank_id), None)
    if bank is None or not bank.enabled or bank.policy is BankPolicy.allow:
        return 0
    entries: list[BankEntry] = []
    after = event.first_entry_id - 1
    while after < event.last_entry_id:
        page = uow.bank_entries.page(bank.id, after_id=after, limit=RETRO_PAGE)
        if not page:
            break
        entries += [e for e in page if e.id <= event.last_entry_id]
        if page[-1].id > event.last_entry_id:
            break
        after = page[-1].id
    found = items_matching(uow, bank, entries, media=media)
    if intake.indexes is not None:  # an item an allow bank knows to be benign is left
        found = [cid for cid in found if not _allowed(uow, intake.indexes, cid)]
    for item in uow.registry.items(found):
        reports.store(uow, _retro_report(item, bank.name, bank.policy), intake)
    return len(found)


def items_matching(
    uow: UnitOfWork, bank: Bank, entries: list[BankEntry], *, media: RegistrySearch
) -> list[str]:
    """The registered items ``entries`` of ``bank`` match: by exact digest in the registry's
    indexes, by PDQ through the ``RegistrySearch`` within the bank's distance, and a
    banked video by vPDQ's rule, the registered one as the query (a clip cut from the banked
    video matches it). Each signal type says how (``matching.SIGNALS``)."""
    exact: dict[str, list[str]] = {  # the registry's digest columns, by exact signal type
        s.registry_column: []
        for s in SIGNALS.values()
        if s.indexing is Indexing.exact and s.registry_column
    }
    pdqs: list[str] = []
    videos: list[int] = []
    for entry in entries:
        signal = SIGNALS[entry.signal_type]
        if signal.indexing is Indexing.near:
            pdqs.append(entry.value)
        elif signal.indexing is Indexing.video:
            videos.append(entry.id)
        elif signal.registry_column in exact:
            exact[signal.registry_column].append(entry.value)
    found: list[str] = []
    for column, values in exact.items():
        if values:
            found += uow.registry.with_digest(column, values)
    found += media.matching(uow, pdqs, bank.pdq_threshold)
    for frames in uow.bank_entries.frames(videos).values():
        near = media.videos_near(uow, vpdq.usable(frames), bank.pdq_threshold)
        found += [
            content_id
            for content_id, theirs in near.items()
            if vpdq.compare(
                [vpdq.VpdqFrame(p, 100) for p in theirs], frames, distance=bank.pdq_threshold
            ).matches()
        ]
    return list(dict.fromkeys(found))


WITHDRAWN_NOTE = (
    "The exchange {exchange} withdrew hashes of the bank {bank} (entries {entries}) that this "
    "case's automatic report rested on. Look at the content itself before deciding: the match "
    "no longer stands."
)
_SETTLED = (CaseStatus.confirmed, CaseStatus.closed)


def flag_withdrawn(
    uow: UnitOfWork, event: EntriesWithdrawn, *, media: RegistrySearch, now: datetime
) -> int:
    """The open cases that an automatic report opened about items the withdrawn entries
    matched get a note for their reviewer (never shown to reporters), and the audit log says
    so: nothing about them is enforced on a hash that no longer stands, and whoever decides
    knows. Once per case and withdrawal. Returns how many cases were flagged."""
    bank = next((b for b in uow.banks.list() if b.id == event.bank_id), None)
    if bank is None:
        return 0
    entries = [e for i in event.entry_ids if (e := uow.bank_entries.get(bank.id, i)) is not None]
    note = WITHDRAWN_NOTE.format(
        exchange=event.exchange,
        bank=bank.name,
        entries=", ".join(str(i) for i in sorted(event.entry_ids)[:20]),
    )
    flagged = 0
    cases = {
        case_id
        for content_id in items_matching(uow, bank, entries, media=media)
        for case_id in uow.cases.case_ids_for_content(content_id)
    }
    for case_id in sorted(cases):
        case = uow.cases.get(case_id)
        if case is None or case.status in _SETTLED:
            continue
        if not all(r.source is ReportSource.scan for r in uow.reports.for_case(case_id)):
            continue  # a person reported it too: their report stands on its own
        if any(m.body == note for m in uow.case_messages.for_case(case_id)):
            continue
        uow.case_messages.add(
            case_id=case_id, report_id=None, author="exchanges", kind="note", body=note, at=now
        )
        audit.record(
            uow,
            actor=RETRO_MATCHER,
            action="case.basis_withdrawn",
            target_type="case",
            target_id=case_id,
            details={"exchange": event.exchange, "bank": bank.name, "entries": event.entry_ids},
            at=now,
        )
        flagged += 1
    return flagged


def _allowed(uow: UnitOfWork, indexes: BankIndexes, content_id: str) -> bool:
    return any(m.policy is BankPolicy.allow for m in item_matches(uow, indexes, content_id))


def _retro_report(item: SetItem, bank: str, policy: BankPolicy) -> reports.Prepared:
    """The report retroactive matching files for a registered item: no person, source
    ``scan``, keyed by the item and the bank so a second run joins it."""
    prepared = reports.prepare(
        actor=RETRO_MATCHER,
        report_in=reports.ReportCreate(
            category=_CATEGORY_OF.get(policy, Category.other_illegal),
            reporter_role=ReporterRole.platform_staff,
            content_id=item.content_id,
            description=f"Registered before the hash bank {bank} knew its media; matched it "
            f"when the bank gained entries (account {item.account_id or 'unknown'}).",
            idempotency_key=f"retro:{bank}:{item.content_id}"[: reports.MAX_IDEMPOTENCY_KEY],
        ),
    )
    return replace(prepared, source=ReportSource.scan)


RETRO_MATCHER = Principal.system("matcher")
# A block_and_report bank holds known CSAM (its matches confirm on their own).
_CATEGORY_OF = {BankPolicy.block_and_report: Category.csam}


MAX_OTHER_CONTENT = 10_000  # an account's other items queued at once


def queue_suspended_accounts(
    uow: UnitOfWork, event: AccountsSuspended, *, intake: reports.IntakeContext
) -> int:
    """The other registered content of accounts suspended for a violation is reported for
    review (source ``scan``): each opens or joins a case, raised by the account's removals
    (triage's ``uploader_prior_removals``). Returns how many items were queued."""
    removed = {a.content_id for a in uow.actions.for_case(event.case_id) if a.content_id}
    queued = 0
    for account in event.accounts:
        for content_id in uow.registry.of_account(account, limit=MAX_OTHER_CONTENT):
            if content_id in removed:
                continue
            reports.store(uow, _other_content_report(content_id, account, event), intake)
            queued += 1
    return queued


def _other_content_report(
    content_id: str, account: str, event: AccountsSuspended
) -> reports.Prepared:
    prepared = reports.prepare(
        actor=RETRO_MATCHER,
        report_in=reports.ReportCreate(
            category=Category(event.category),
            reporter_role=ReporterRole.platform_staff,
            content_id=content_id,
            description=f"Other content of account {account}, suspended for case "
            f"{case_number(event.case_id)}.",
            idempotency_key=f"suspended:{event.case_id}:{content_id}"[
                : reports.MAX_IDEMPOTENCY_KEY
            ],
        ),
    )
    return replace(prepared, source=ReportSource.scan)
