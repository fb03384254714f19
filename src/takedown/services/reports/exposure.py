"""Exposure: the platform's view and repost counts for an item. When they grow fast, every
open case about the item is raised (``cases.Case.record_exposure``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from takedown.cases import CaseStatus, Priority, TriagePolicy
from takedown.cases.reasons import ReasonsPolicy
from takedown.identity import Permission, Principal, require
from takedown.matching import ContentItem, ExposureReading
from takedown.services import audit
from takedown.services.enforcement import restrict
from takedown.services.errors import InvalidInput
from takedown.store.types import utcnow
from takedown.store.uow import UnitOfWork


@dataclass(frozen=True)
class ExposurePolicy:
    fast_views_per_hour: int = 1000
    fast_reposts_per_hour: int = 20


@dataclass(frozen=True)
class StatsResult:
    content_id: str
    fast: bool
    views_per_hour: float | None
    reposts_per_hour: float | None
    cases_raised: list[int]


# Cases waiting for a person: their content is restricted while it spreads.
_WAITING = frozenset({CaseStatus.open, CaseStatus.pending_second_review, CaseStatus.appealed})


def record_stats(
    uow: UnitOfWork,
    *,
    actor: Principal,
    content_id: str,
    views: int,
    reposts: int,
    policy: TriagePolicy,
    exposure: ExposurePolicy | None = None,
    now: datetime | None = None,
    reasons: ReasonsPolicy | None = None,
) -> StatsResult:
    """Store the platform's exposure counts for an item (a work function, no commit). When
    they grow fast, every open case about the item is raised (its clocks only move earlier),
    and the content of every P0 case about it that waits for a person is restricted on the
    platform until a decision (``enforcement.restrict``)."""
    require(actor, Permission.scan)
    exposure = exposure or ExposurePolicy()
    if views < 0 or reposts < 0:
        raise InvalidInput("views and reposts cannot be negative")
    now = now or utcnow()
    reading = uow.content_stats.record(content_id, views=views, reposts=reposts, at=now)
    item = uow.content.get(content_id) if reading.previous_at is None else None
    vph, rph, fast = _growth(reading, item, exposure)
    raised: list[int] = []
    if fast:
        for case_id in uow.cases.case_ids_for_content(content_id):
            case = uow.cases.get(case_id)
            if case is None:
                continue
            change = case.record_exposure(fast=True, policy=policy, now=now)
            if change.case is case:
                continue
            uow.cases.save(change.case, before=case)
            for event in change.events:
                uow.publish(event)
            raised.append(case_id)
        for case_id in uow.cases.case_ids_for_content(content_id):
            case = uow.cases.get(case_id)
            if case is not None and case.priority is Priority.p0 and case.status in _WAITING:
                restrict(
                    uow,
                    case_id=case_id,
                    category=case.category,
                    content_ids=uow.cases.case_content_ids(case_id),
                    at=now,
                    facts=case.facts,
                    policy=reasons,
                )
    audit.record(
        uow,
        actor=actor,
        action="content.stats",
        target_type="content",
        target_id=content_id,
        details={"views": views, "reposts": reposts, "fast": fast, "cases_raised": raised},
        at=now,
    )
    return StatsResult(
        content_id=content_id,
        fast=fast,
        views_per_hour=vph,
        reposts_per_hour=rph,
        cases_raised=raised,
    )


def _growth(
    reading: ExposureReading, item: ContentItem | None, exposure: ExposurePolicy
) -> tuple[float | None, float | None, bool]:
    """(views an hour, reposts an hour, whether that is fast) from a stats reading: since the
    previous reading, or since the item was first seen when there is none."""
    cur_views, cur_reposts, at = reading.views, reading.reposts, reading.at
    prev_views, prev_reposts, prev_at = (
        reading.previous_views,
        reading.previous_reposts,
        reading.previous_at,
    )
    if prev_at is None:
        prev_at, prev_views, prev_reposts = (item.first_seen_at, 0, 0) if item else (None, 0, 0)
    vph = rph = None
    if prev_at is not None:
        hours = max((at - prev_at).total_seconds() / 3600, 1 / 60)
        vph = (cur_views - (prev_views or 0)) / hours
        rph = (cur_reposts - (prev_reposts or 0)) / hours
    fast = bool(
        (vph is not None and vph >= exposure.fast_views_per_hour)
        or (rph is not None and rph >= exposure.fast_reposts_per_hour)
    )
    return vph, rph, fast


def exposure_fast(uow: UnitOfWork, item: ContentItem, exposure: ExposurePolicy | None) -> bool:
    """Whether the platform's last stats for ``item`` showed fast growth (none posted: no)."""
    reading = uow.content_stats.latest(item.content_id)
    if reading is None:
        return False
    return _growth(reading, item, exposure or ExposurePolicy())[2]
