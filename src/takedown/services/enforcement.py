"""Enforcement: a confirmed violation becomes actions on the platform, in the decision's own
transaction; a violation overturned on appeal is undone.

``enforce`` finds the takedown set (``cases.enforcement``): the confirmed items and their
repost families, every registered item whose media matches the confirmed media (the same MD5
or SHA-256, or a PDQ hash within ``pdq_threshold`` bits, found by a ``RegistrySearch``: the
database's chunk indexes on PostgreSQL, the process's own index on SQLite, never by reading
the whole registry) with their families; plans the
actions by the category's account policy; writes them (``actions``, stable ids); and adds
the confirmed media's hashes to the installation's confirmed bank for the category
(``block_and_report`` for CSAM, ``block`` otherwise), so the next upload of it is blocked.
Delivery is ``services.delivery``'s; retroactive matching (items registered before a bank knew
their media) is ``services.retro``'s.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from takedown.cases import CaseFacts, Category, Decision
from takedown.cases.enforcement import (
    ACCOUNT_POLICIES,
    AccountPolicy,
    AccountsSuspended,
    ActionsPlanned,
    ActionType,
    ConfirmedMediaBanked,
    EvidenceWanted,
    Plan,
    PlannedAction,
    SetItem,
    TakedownSet,
    plan_restore,
    plan_restrict,
    plan_violation,
)
from takedown.cases.reasons import Item, ReasonsPolicy, StatementsMade, statement_of_reasons
from takedown.matching import VIDEO_FRAME_SHARE, BankPolicy, SignalType
from takedown.matching.pdq_index import PdqIndex
from takedown.store.db import Database
from takedown.store.uow import UnitOfWork, reading

log = logging.getLogger("takedown.enforcement")

MAX_FAMILY = 1_000_000  # items a takedown set may reach (a guard against a runaway graph)
PAGE = 20_000


class RegistrySearch:
    """Finds the registered items whose media is near a confirmed item's: by PDQ, and
    videos by their frames. Two kinds: ``RegistryMediaIndex`` (in memory, each process's own:
    SQLite's one process) and ``DatabaseRegistrySearch`` (PostgreSQL's chunk tables: one
    registry that every process and worker asks, however large); ``for_database`` picks."""

    def warm(self, db: Database) -> None:
        """Load what the first lookup would (nothing, where the database searches)."""

    def matching(self, uow: UnitOfWork, pdqs: list[str], threshold: int) -> list[str]:
        """Content ids of registered items within ``threshold`` bits of any of ``pdqs``."""
        raise NotImplementedError

    def videos_near(
        self, uow: UnitOfWork, frames: list[str], threshold: int
    ) -> dict[str, list[str]]:
        """The registered videos with a frame within ``threshold`` bits of one of ``frames``,
        each with its frames (candidates, for a rule over whole videos to decide)."""
        raise NotImplementedError

    def matching_videos(
        self,
        uow: UnitOfWork,
        frames: list[str],
        threshold: int,
        share: float = VIDEO_FRAME_SHARE,
    ) -> list[str]:
        """Content ids of registered videos that share at least ``share`` of their frames
        with ``frames`` (a confirmed video's), or of whose frames ``share`` are among theirs:
        a re-encoding, and a clip cut from it (vPDQ's rule, both ways)."""
        if not frames:
            return []
        queries = [int(p, 16) for p in frames]
        out = []
        for content_id, theirs in self.videos_near(uow, frames, threshold).items():
            values = [int(p, 16) for p in theirs]
            ours_found = sum(_near(q, values, threshold) for q in queries) / len(queries)
            theirs_found = sum(_near(v, queries, threshold) for v in values) / len(values)
            if max(ours_found, theirs_found) >= share:
                out.append(content_id)
        return out

    @staticmethod
    def for_database(db: Database) -> RegistrySearch:
        return RegistryMediaIndex() if db.is_sqlite else DatabaseRegistrySearch()


class DatabaseRegistrySearch(RegistrySearch):
    """The registry searched where it is stored (``RegistryRepository.near``, PostgreSQL):
    no process holds it, a process starts without reading it, and a search sees the registry
    as its own transaction does (an item registered in the decision's transaction too)."""

    def matching(self, uow: UnitOfWork, pdqs: list[str], threshold: int) -> list[str]:
        return uow.registry.near(pdqs, threshold) if pdqs else []

    def videos_near(
        self, uow: UnitOfWork, frames: list[str], threshold: int
    ) -> dict[str, list[str]]:
        if not frames:
            return {}
        return uow.registry.frames(uow.registry.frames_near(frames, threshold))


class RegistryMediaIndex(RegistrySearch):
    """The PDQ hashes of every registered item, in memory (``PdqIndex``: exact radius search
    at tens of millions of hashes), caught up from the registry by id at each lookup. A
    candidate is checked against the registry's current hash before it counts. One per
    process (``Container.registry_media``); safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._index = PdqIndex()
        self._top = 0
        self._frames = PdqIndex()  # registered videos' frames, by frame id
        self._frames_top = 0

    def warm(self, db: Database) -> None:
        try:
            with reading(db) as uow, self._lock:
                self._catch_up(uow)
        except Exception:
            log.exception("could not load the registry's hashes; the first lookup will")

    def _catch_up(self, uow: UnitOfWork) -> None:
        while True:
            page = uow.registry.pdq_after(self._top, limit=PAGE)
            if page:
                self._index.add([i for i, _ in page], [p for _, p in page])
                self._top = page[-1][0]
            if len(page) < PAGE:
                break
        while True:
            frames = uow.registry.frames_after(self._frames_top, limit=PAGE)
            if frames:
                self._frames.add([i for i, _, _ in frames], [p for _, _, p in frames])
                self._frames_top = frames[-1][0]
            if len(frames) < PAGE:
                return

    def videos_near(
        self, uow: UnitOfWork, frames: list[str], threshold: int
    ) -> dict[str, list[str]]:
        if not frames:
            return {}
        with self._lock:
            self._catch_up(uow)
            found = {i for pdq in frames for i, _ in self._frames.search(pdq, threshold)}
        candidates = {c for c, _ in uow.registry.frames_by_id(sorted(found))}
        return uow.registry.frames(sorted(candidates))

    def matching(self, uow: UnitOfWork, pdqs: list[str], threshold: int) -> list[str]:
        if not pdqs:
            return []
        with self._lock:
            self._catch_up(uow)
            found = {i for pdq in pdqs for i, _ in self._index.search(pdq, threshold)}
        rows = uow.registry.content_ids_by_id(sorted(found))
        queries = [int(p, 16) for p in pdqs]
        return [
            content_id
            for content_id, current in rows.values()
            if current is not None
            and any((int(current, 16) ^ q).bit_count() <= threshold for q in queries)
        ]


def _near(value: int, pool: list[int], threshold: int) -> bool:
    return any((value ^ other).bit_count() <= threshold for other in pool)


@dataclass(frozen=True)
class EnforcementContext:
    """``draft_report(uow, case_id, now)``: drafts a confirmed CSAM case's CyberTipline report
    in the decision's transaction (``services.filing.draft``), so it exists when the decision
    is answered; None where nothing is filed."""

    media: RegistrySearch
    pdq_threshold: int = 31
    policies: dict[Category, AccountPolicy] = field(default_factory=lambda: dict(ACCOUNT_POLICIES))
    draft_report: Callable[[UnitOfWork, int, datetime], object] | None = None
    reasons: ReasonsPolicy = field(default_factory=ReasonsPolicy)


def takedown_set(uow: UnitOfWork, content_ids: list[str], ctx: EnforcementContext) -> TakedownSet:
    """Every registered item a violation about ``content_ids`` reaches (see the module)."""
    seeds = uow.registry.items(content_ids)
    known = {i.content_id for i in seeds}
    # Reported items the registry never saw are taken down too, on their own.
    seeds += [SetItem(c, None, None) for c in content_ids if c not in known]
    media = uow.registry.hashes(list(known))
    matched: list[str] = []
    for column in ("md5", "sha256"):
        values = [h[column] for h in media if h.get(column)]
        matched += uow.registry.with_digest(column, values) if values else []
    pdqs = [h["pdq"] for h in media if h.get("pdq")]
    # Mirrored and rotated copies too: the seed's own hash turned every way PDQ can.
    pdqs += [v for h in media for v in h.get("pdq_variants", "").split(",") if v]
    matched += ctx.media.matching(uow, pdqs, ctx.pdq_threshold)
    for frames in uow.registry.frames(list(known)).values():
        matched += ctx.media.matching_videos(uow, frames, ctx.pdq_threshold)
    copies = uow.registry.items([c for c in dict.fromkeys(matched) if c not in known])
    return TakedownSet(tuple(_families(uow, seeds + copies)))


def _families(uow: UnitOfWork, items: list[SetItem]) -> list[SetItem]:
    """``items``, the roots they repost, and everything reposting those, each once."""
    found = {item.content_id: item for item in reversed(items)}
    roots = []
    for item in items:
        root, seen = item, {item.content_id}
        while root.parent_content_id and root.parent_content_id not in seen:
            seen.add(root.parent_content_id)
            parents = uow.registry.items([root.parent_content_id])
            if not parents:
                break
            root = parents[0]
            found.setdefault(root.content_id, root)
        roots.append(root.content_id)
    level = list(dict.fromkeys(roots))
    while level and len(found) < MAX_FAMILY:
        children = [c for c in uow.registry.children(level) if c.content_id not in found]
        for child in children:
            found[child.content_id] = child
        level = [c.content_id for c in children]
    return list(found.values())


def enforce(
    uow: UnitOfWork,
    *,
    case_id: int,
    decision: Decision,
    content_ids: list[str],
    ctx: EnforcementContext,
    facts: CaseFacts,
) -> Plan:
    """Plan and write the actions of a confirmed violation with each one's statement of
    reasons, and bank its media, in ``uow``'s transaction (no commit). ``facts``: the case's,
    what its statements say it rests on."""
    found = takedown_set(uow, content_ids, ctx)
    policy = ctx.policies.get(decision.category, AccountPolicy())
    plan = plan_violation(case_id, found, policy)
    uow.actions.add(
        plan.actions,
        case_id=case_id,
        category=str(decision.category),
        reason=decision.reason,
        statement=decision.statement,
        at=decision.decided_at,
        statements=state_reasons(
            uow,
            case_id=case_id,
            planned=plan.actions,
            items=found.items,
            category=decision.category,
            facts=facts,
            decision=decision,
            at=decision.decided_at,
            policy=ctx.reasons,
        ),
    )
    if not decision.automated:
        # An automatic confirmation rests on a bank that knows the media already.
        _bank_media(uow, decision.category, content_ids)
    uow.publish(ActionsPlanned(case_id=case_id, actions=len(plan.actions)))
    if decision.category is Category.csam:
        if ctx.draft_report is not None:
            ctx.draft_report(uow, case_id, decision.decided_at)
        uow.publish(EvidenceWanted(case_id=case_id, confirmed=True))
    suspended = [a.account_id for a in plan.of_type(ActionType.suspend_account) if a.account_id]
    if suspended:
        uow.publish(
            AccountsSuspended(case_id=case_id, category=str(decision.category), accounts=suspended)
        )
    return plan


def undo(uow: UnitOfWork, *, case_id: int, decision: Decision) -> Plan:
    """A violation overturned on appeal, or a case closed with no violation after an interim
    restriction: restore what the case's actions removed or restricted."""
    undone = [
        a.content_id
        for a in uow.actions.for_case(case_id)
        if a.type in (ActionType.remove, ActionType.restrict) and a.content_id
    ]
    plan = plan_restore(case_id, list(dict.fromkeys(undone)))
    if not plan.actions:
        return plan
    uow.actions.add(
        plan.actions,
        case_id=case_id,
        category=str(decision.category),
        reason=decision.reason,
        statement=decision.statement,
        at=decision.decided_at,
    )
    uow.publish(ActionsPlanned(case_id=case_id, actions=len(plan.actions)))
    return plan


def restrict(
    uow: UnitOfWork,
    *,
    case_id: int,
    category: Category,
    content_ids: list[str],
    at: datetime,
    facts: CaseFacts,
    policy: ReasonsPolicy | None = None,
) -> Plan:
    """Interim restriction of an urgent case's content while it spreads, until a decision
    (a later reading writes nothing new: the actions' ids are stable), each with its
    statement of reasons."""
    plan = plan_restrict(case_id, content_ids)
    uow.actions.add(
        plan.actions,
        case_id=case_id,
        category=str(category),
        reason="restricted while a report of it is reviewed: it is spreading fast",
        statement="This content is not shown to others while a report about it is reviewed.",
        at=at,
        statements=state_reasons(
            uow,
            case_id=case_id,
            planned=plan.actions,
            items=tuple(uow.registry.items(content_ids)),
            category=category,
            facts=facts,
            decision=None,
            at=at,
            policy=policy or ReasonsPolicy(),
        ),
    )
    uow.publish(ActionsPlanned(case_id=case_id, actions=len(plan.actions)))
    return plan


def state_reasons(
    uow: UnitOfWork,
    *,
    case_id: int,
    planned: list[PlannedAction],
    items: tuple[SetItem, ...],
    category: Category,
    facts: CaseFacts,
    decision: Decision | None,
    at: datetime,
    policy: ReasonsPolicy,
) -> dict[str, str]:
    """Each restricting action's statement of reasons (``cases.reasons``), stored for the
    Transparency Database; gives action id → what the person restricted reads. An account's
    statement is about the first copy it uploaded. Copies alike (the same kind, first seen the
    same day) share one statement but for its ``puid``: a takedown of thousands costs little."""
    by_content = {i.content_id: i for i in items}
    by_account: dict[str, SetItem] = {}
    for i in items:
        if i.account_id and (i.parent_content_id is None or i.account_id not in by_account):
            by_account.setdefault(i.account_id, i)
    texts: dict[str, str] = {}
    stored: list[tuple[str, str, int]] = []
    made: dict[tuple[object, ...], tuple[str, str, int]] = {}
    for p in planned:
        source = by_content.get(p.content_id or "") or by_account.get(p.account_id or "")
        item = Item(source.media_kind, source.first_seen) if source else Item()
        day = (item.first_seen or at).date()
        key = (p.type, item.media_kind, day)
        if key not in made:
            found = statement_of_reasons(
                action_id=p.action_id,
                action_type=p.type,
                category=category,
                facts=facts,
                decision=decision,
                item=item,
                at=at,
                policy=policy,
            )
            if found is None:
                continue
            template = uow.statements.add_template(found.as_database())
            made[key] = (found.as_text(), str(found.restriction), template)
        text, restriction, template = made[key]
        texts[p.action_id] = text
        stored.append((p.action_id, restriction, template))
    if stored:
        uow.statements.add(case_id, stored, at=at)
        uow.publish(StatementsMade(case_id=case_id, statements=len(stored)))
    return texts


CONFIRMED_BANKS = {
    Category.csam: ("confirmed-csam", BankPolicy.block_and_report),
    Category.ncii: ("confirmed-ncii", BankPolicy.block),
    Category.other_illegal: ("confirmed-illegal", BankPolicy.block),
    Category.policy: ("confirmed-policy", BankPolicy.block),
}


def _bank_media(uow: UnitOfWork, category: Category, content_ids: list[str]) -> None:
    """The confirmed items' hashes join the category's confirmed bank (made when first
    needed); the bank version moves, so every process's indexes take them."""
    entries = []
    for hashes in uow.registry.hashes(content_ids):
        for signal in (SignalType.pdq, SignalType.md5, SignalType.sha256):
            value = hashes.get(str(signal))
            if value:
                entries.append((signal, value, "confirmed", ""))
    # A video's frames: a re-encoded upload matches the bank by them (``video_matches``).
    for frames in uow.registry.frames(content_ids).values():
        entries += [(SignalType.pdq, pdq, "confirmed video frame", "") for pdq in frames]
    entries = list({(s, v): (s, v, src, n) for s, v, src, n in entries}.values())
    if not entries:
        return
    name, policy = CONFIRMED_BANKS[category]
    bank = uow.banks.get_by_name(name)
    if bank is None:
        bank = uow.banks.add(
            name=name,
            policy=policy,
            description=f"Hashes of {category} this installation confirmed (filled by "
            "enforcement).",
            pdq_threshold=31,
            enabled=True,
        )
    existing = uow.bank_entries.existing(bank.id, [(s.value, v) for s, v, _, _ in entries])
    fresh = [e for e in entries if (e[0].value, e[1]) not in existing]
    if fresh:
        uow.bank_entries.add_many(bank.id, fresh)
        uow.banks.bump_version()
        uow.publish(ConfirmedMediaBanked(bank=name, entries=len(fresh)))
