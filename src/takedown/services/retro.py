"""Retroactive matching: when a bank gains entries (an import, an exchange, a confirmation's
media), the items the registry holds from before are searched for them at once, by exact
digests in the registry's indexes and by PDQ in the process's ``RegistryMediaIndex``, never by
reading the registry; each found item is reported as the upload path would have reported it
when scanned. No peer does this; it is how an old copy uploaded before its hash was known
comes down. And the follow-up of a suspension: the account's other content is queued."""

from __future__ import annotations

from dataclasses import replace

from takedown.cases import Category, ReporterRole, ReportSource, case_number
from takedown.cases.enforcement import AccountsSuspended, SetItem
from takedown.identity import Principal
from takedown.matching import SIGNALS, BankEntriesAdded, BankIndexes, BankPolicy, Indexing, vpdq
from takedown.services import reports
from takedown.services.enforcement import RegistryMediaIndex
from takedown.services.matcher import item_matches
from takedown.store.uow import UnitOfWork

RETRO_PAGE = 5_000


def match_registry(
    uow: UnitOfWork,
    event: BankEntriesAdded,
    *,
    intake: reports.IntakeContext,
    media: RegistryMediaIndex,
) -> int:
    """Retroactive matching: the registry's items that match entries a bank just gained are
    reported as the upload path would have reported them, in ``uow``'s transaction. A match
    in a ``block_and_report`` bank opens or joins a case that is confirmed at once and
    enforced; one in a ``block`` or ``review`` bank opens or joins a case for a person.
    Returns how many items were found."""
    bank = next((b for b in uow.banks.list() if b.id == event.bank_id), None)
    if bank is None or not bank.enabled or bank.policy is BankPolicy.allow:
        return 0
    exact: dict[str, list[str]] = {  # the registry's digest columns, by exact signal type
        s.registry_column: []
        for s in SIGNALS.values()
        if s.indexing is Indexing.exact and s.registry_column
    }
    pdqs: list[str] = []
    videos: list[int] = []
    after = event.first_entry_id - 1
    while after < event.last_entry_id:
        page = uow.bank_entries.page(bank.id, after_id=after, limit=RETRO_PAGE)
        if not page:
            break
        for entry in page:
            if entry.id > event.last_entry_id:
                break
            signal = SIGNALS[entry.signal_type]
            if signal.indexing is Indexing.near:
                pdqs.append(entry.value)
            elif signal.indexing is Indexing.video:
                videos.append(entry.id)
            elif signal.registry_column in exact:
                exact[signal.registry_column].append(entry.value)
        after = page[-1].id
    found: list[str] = []
    for column, values in exact.items():
        if values:
            found += uow.registry.with_digest(column, values)
    found += media.matching(uow, pdqs, bank.pdq_threshold)
    # A banked video: the registered videos it matches by vPDQ's rule, the registered one as
    # the query (a clip cut from the banked video matches it).
    for frames in uow.bank_entries.frames(videos).values():
        near = media.videos_near(uow, vpdq.usable(frames), bank.pdq_threshold)
        found += [
            content_id
            for content_id, theirs in near.items()
            if vpdq.compare(
                [vpdq.VpdqFrame(p, 100) for p in theirs], frames, distance=bank.pdq_threshold
            ).matches()
        ]
    found = list(dict.fromkeys(found))
    if intake.indexes is not None:  # an item an allow bank knows to be benign is left
        found = [cid for cid in found if not _allowed(uow, intake.indexes, cid)]
    for item in uow.registry.items(found):
        reports.store(uow, _retro_report(item, bank.name, bank.policy), intake)
    return len(found)


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
