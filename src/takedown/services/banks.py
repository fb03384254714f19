"""Hash banks and their entries: create, configure, fill, disable.

Every change bumps the store's matching version, so other processes reload their indexes;
this process applies the change to its own indexes at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from takedown.identity import Permission, Principal, require
from takedown.matching import (
    BANK_NAME,
    DEFAULT_PDQ_THRESHOLD,
    SIGNALS,
    Bank,
    BankEntriesAdded,
    BankEntry,
    BankIndexes,
    BankPolicy,
    IndexedEntry,
    Indexing,
    InvalidSignal,
    SignalType,
    normalize,
    vpdq,
)
from takedown.matching.banks import FOREVER
from takedown.matching.vpdq import VpdqFrame
from takedown.services import audit
from takedown.services.errors import Conflict, InvalidInput, NotFound
from takedown.services.matcher import Matcher
from takedown.store.types import utcnow
from takedown.store.uow import UnitOfWork

MAX_PDQ_THRESHOLD = 64


@dataclass(frozen=True)
class EntryIn:
    signal_type: str
    value: str
    source: str = ""
    note: str = ""


@dataclass
class AddResult:
    added: int = 0
    duplicates: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (position, reason)
    entries: list[BankEntry] = field(default_factory=list)


def _commit_change(
    uow: UnitOfWork, matcher: Matcher, change: Callable[[BankIndexes], None]
) -> None:
    """Bump the matching version, commit, then apply the change to this process's indexes
    (other processes see the new version and reload)."""
    version = uow.banks.bump_version()
    uow.commit()
    matcher.applied(version, change)


def _check_threshold(value: int) -> int:
    if not 0 <= value <= MAX_PDQ_THRESHOLD:
        raise InvalidInput(
            f"pdq_threshold must be 0–{MAX_PDQ_THRESHOLD} (31 is Meta's match threshold)",
            field="pdq_threshold",
        )
    return value


def _bank(uow: UnitOfWork, name: str) -> Bank:
    bank = uow.banks.get_by_name(name)
    if bank is None:
        raise NotFound(f"no bank named {name!r}")
    return bank


def create_bank(
    *,
    uow: UnitOfWork,
    matcher: Matcher,
    actor: Principal,
    name: str,
    policy: BankPolicy,
    description: str = "",
    pdq_threshold: int = DEFAULT_PDQ_THRESHOLD,
    enabled: bool = True,
) -> Bank:
    require(actor, Permission.banks_manage)
    if not BANK_NAME.match(name):
        raise InvalidInput(
            "bank names are 1-64 lowercase letters, digits, '_' or '-'", field="name"
        )
    _check_threshold(pdq_threshold)
    with uow:
        if uow.banks.get_by_name(name):
            raise Conflict(f"a bank named {name!r} exists", field="name")
        bank = uow.banks.add(
            name=name,
            description=description,
            policy=policy,
            pdq_threshold=pdq_threshold,
            enabled=enabled,
        )
        audit.record(
            uow,
            actor=actor,
            action="bank.created",
            target_type="bank",
            target_id=bank.id,
            details={"name": name, "policy": policy.value, "pdq_threshold": pdq_threshold},
        )
        _commit_change(uow, matcher, lambda ix: ix.put_bank(bank))
    return bank


def update_bank(
    *,
    uow: UnitOfWork,
    matcher: Matcher,
    actor: Principal,
    name: str,
    policy: BankPolicy | None = None,
    description: str | None = None,
    pdq_threshold: int | None = None,
    enabled: bool | None = None,
) -> Bank:
    require(actor, Permission.banks_manage)
    changes: dict[str, object] = {}
    if policy is not None:
        changes["policy"] = policy
    if description is not None:
        changes["description"] = description
    if pdq_threshold is not None:
        changes["pdq_threshold"] = _check_threshold(pdq_threshold)
    if enabled is not None:
        changes["enabled"] = enabled
    with uow:
        bank = _bank(uow, name)
        if changes:
            bank = uow.banks.update(bank.id, **changes)
            audit.record(
                uow,
                actor=actor,
                action="bank.updated",
                target_type="bank",
                target_id=bank.id,
                details={k: str(v) for k, v in changes.items()},
            )
            _commit_change(uow, matcher, lambda ix: ix.put_bank(bank))
    return bank


def list_banks(*, uow: UnitOfWork, actor: Principal) -> list[Bank]:
    require(actor, Permission.banks_read)
    with uow:
        return uow.banks.list()


def get_bank(*, uow: UnitOfWork, actor: Principal, name: str) -> Bank:
    require(actor, Permission.banks_read)
    with uow:
        return _bank(uow, name)


def add_entries(
    *,
    uow: UnitOfWork,
    matcher: Matcher,
    actor: Principal,
    bank_name: str,
    items: list[EntryIn],
) -> AddResult:
    """Add hashes to a bank. Invalid lines are reported by position and skipped; hashes the
    bank already holds (or repeats in ``items``) are counted as duplicates, not errors."""
    require(actor, Permission.banks_manage)
    result = AddResult()
    clean: list[tuple[SignalType, str, str, str]] = []
    seen: set[tuple[str, str]] = set()
    frames: dict[str, list[VpdqFrame]] = {}
    for position, item in enumerate(items):
        try:
            signal_type = SignalType(item.signal_type.strip().lower())
            if SIGNALS[signal_type].indexing is Indexing.video:  # frames, in vPDQ's format
                video = vpdq.parse(item.value)
                value = vpdq.digest(video)
                frames[value] = video
            else:
                value = normalize(signal_type, item.value)
        except ValueError as exc:
            reason = (
                str(exc)
                if isinstance(exc, InvalidSignal) or item.signal_type.strip().lower() == "vpdq"
                else (
                    f"unknown signal type {item.signal_type[:40]!r}; "
                    f"use one of {', '.join(SignalType)}"
                )
            )
            result.invalid.append((position, reason))
            continue
        key = (signal_type.value, value)
        if key in seen:
            result.duplicates += 1
            continue
        seen.add(key)
        clean.append((signal_type, value, item.source[:128], item.note[:2000]))
    with uow:
        bank = _bank(uow, bank_name)
        existing = uow.bank_entries.existing(bank.id, [(t.value, v) for t, v, _, _ in clean])
        fresh = [c for c in clean if (c[0].value, c[1]) not in existing]
        result.duplicates += len(clean) - len(fresh)
        result.entries = uow.bank_entries.add_many(bank.id, fresh, frames) if fresh else []
        result.added = len(result.entries)
        if result.added:
            audit.record(
                uow,
                actor=actor,
                action="bank.entries_added",
                target_type="bank",
                target_id=bank.id,
                details={
                    "added": result.added,
                    "duplicates": result.duplicates,
                    "invalid": len(result.invalid),
                },
            )
            indexed = [
                IndexedEntry(
                    e.id, e.bank_id, e.signal_type, e.value, True, tuple(frames.get(e.value, ()))
                )
                for e in result.entries
            ]
            ids = [e.id for e in result.entries]
            uow.publish(
                BankEntriesAdded(bank_id=bank.id, first_entry_id=min(ids), last_entry_id=max(ids))
            )
            _commit_change(uow, matcher, lambda ix: ix.add(indexed))
    return result


def set_entry_disabled(
    *,
    uow: UnitOfWork,
    matcher: Matcher,
    actor: Principal,
    bank_name: str,
    entry_id: int,
    disabled: bool,
    until: datetime | None = None,
) -> BankEntry:
    """Disable an entry (until a time, or until enabled again) or enable it; enabling also
    ends a flood quarantine (``scanning``: its matches act again)."""
    require(actor, Permission.banks_manage)
    with uow:
        bank = _bank(uow, bank_name)
        entry = uow.bank_entries.get(bank.id, entry_id)
        if entry is None:
            raise NotFound(f"bank {bank_name!r} has no entry {entry_id}")
        value = (until or FOREVER) if disabled else None
        uow.bank_entries.set_disabled_until(entry_id, value)
        if not disabled:  # a person looked: a quarantined entry acts again
            uow.bank_entries.set_quarantined(entry_id, None)
        audit.record(
            uow,
            actor=actor,
            action="bank.entry_disabled" if disabled else "bank.entry_enabled",
            target_type="bank_entry",
            target_id=entry_id,
            details={"bank": bank_name, "until": value.isoformat() if value else None},
        )
        updated = replace(
            entry,
            disabled_until=value,
            quarantined_at=entry.quarantined_at if disabled else None,
        )
        active = updated.active(utcnow())

        def change(ix: BankIndexes) -> None:
            ix.set_active(entry_id, active)
            if not disabled:
                ix.quarantine(entry_id, False)

        _commit_change(uow, matcher, change)
    if disabled and until is not None:
        matcher.reenable_at(until)
    return updated


def delete_entry(
    *,
    uow: UnitOfWork,
    matcher: Matcher,
    actor: Principal,
    bank_name: str,
    entry_id: int,
) -> None:
    require(actor, Permission.banks_manage)
    with uow:
        bank = _bank(uow, bank_name)
        entry = uow.bank_entries.get(bank.id, entry_id)
        if entry is None:
            raise NotFound(f"bank {bank_name!r} has no entry {entry_id}")
        uow.bank_entries.delete(entry_id)
        audit.record(
            uow,
            actor=actor,
            action="bank.entry_deleted",
            target_type="bank_entry",
            target_id=entry_id,
            details={
                "bank": bank_name,
                "signal_type": entry.signal_type.value,
                "value": entry.value,
            },
        )
        _commit_change(uow, matcher, lambda ix: ix.set_active(entry_id, False))


def list_entries(
    *,
    uow: UnitOfWork,
    actor: Principal,
    bank_name: str,
    after_id: int = 0,
    limit: int = 100,
) -> list[BankEntry]:
    require(actor, Permission.banks_read)
    with uow:
        bank = _bank(uow, bank_name)
        return uow.bank_entries.page(bank.id, after_id=after_id, limit=limit)


@dataclass(frozen=True)
class BankOverview:
    bank: Bank
    entries: int  # that count now (not disabled)
    quarantined: int


def overview(*, uow: UnitOfWork, actor: Principal) -> list[BankOverview]:
    """Every bank with its entry counts (the console's banks page)."""
    require(actor, Permission.banks_read)
    with uow:
        counts = uow.bank_entries.counts()
        return [BankOverview(b, *counts.get(b.id, (0, 0))) for b in uow.banks.list()]


@dataclass(frozen=True)
class RecentMatch:
    """An upload a bank matched (the audit log's ``scan.matched``). For someone without the
    child-safety permission, one about a case concerning a minor says only when it was."""

    at: datetime
    content_id: str | None  # None: hidden (about a minor)
    verdict: str | None
    matches: list[dict[str, object]]  # bank, signal_type, entry_id, distance
    case_id: int | None  # the open case about the content, if any


def recent_matches(*, uow: UnitOfWork, actor: Principal, limit: int = 20) -> list[RecentMatch]:
    """The latest uploads a bank matched, newest first (the console's banks page)."""
    require(actor, Permission.banks_read)
    with uow:
        records = uow.audit.list(action="scan.matched", limit=limit)
        hidden = set() if actor.sees_minor_safety else audit.about_minors(uow, records)
        found = []
        for r in records:
            if r.seq in hidden or not r.target_id:
                found.append(RecentMatch(r.at, None, None, [], None))
                continue
            cases = uow.cases.case_ids_for_content(r.target_id)
            matches = r.details.get("matches")
            found.append(
                RecentMatch(
                    at=r.at,
                    content_id=r.target_id,
                    verdict=str(r.details.get("verdict") or ""),
                    matches=list(matches) if isinstance(matches, list) else [],
                    case_id=min(cases) if cases else None,
                )
            )
    return found


def quarantined_entries(*, uow: UnitOfWork, actor: Principal) -> list[tuple[str, BankEntry]]:
    """(bank name, entry) of the entries the flood guard quarantined, the latest first."""
    require(actor, Permission.banks_read)
    with uow:
        names = {b.id: b.name for b in uow.banks.list()}
        return [(names.get(e.bank_id, "?"), e) for e in uow.bank_entries.quarantined()]
