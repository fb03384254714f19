"""Linking and merging cases (``cases.merge``): a reviewer says two cases belong together, or
merges one into the other, from the case page or the API.

Both need ``cases:review`` and a case the reviewer may see at both ends; a case about a minor
the actor may not see is ``NotFound``, as everywhere, and links to such a case are left out
of what the actor is shown. A merge moves the merged case's reports (with the reporters'
status links), items, messages and actions to the kept case in one transaction, so both
cases' reporters see the kept case's outcome on their status pages and in its e-mails. Each
link and merge is in the audit log of both cases.
"""

from __future__ import annotations

from datetime import datetime

from takedown.cases import Case, ReviewRefused, TriagePolicy, case_id_of, case_number
from takedown.cases.records import CaseLink
from takedown.identity import Permission, Principal
from takedown.services import audit
from takedown.services.case_changes import ReviewConflict
from takedown.services.errors import InvalidInput, NotFound
from takedown.services.platform_links import UNRESOLVED_PREFIX
from takedown.services.review import MAX_REASON, load_visible, reviewer_for, visible_links
from takedown.services.text import clean_text
from takedown.store.link_repos import MERGED, RELATED
from takedown.store.uow import UnitOfWork


def _other(text: str) -> int:
    case_id = case_id_of(text)
    if case_id is None or not 1 <= case_id <= 2**62:
        raise InvalidInput("give the other case's number (TD-0000042) or id", field="case")
    return case_id


def _audit(
    uow: UnitOfWork,
    actor: Principal,
    case_id: int,
    action: str,
    details: dict[str, object],
    now: datetime,
) -> None:
    audit.record(
        uow,
        actor=actor,
        action=action,
        target_type="case",
        target_id=case_id,
        details=details,
        at=now,
    )


def links(*, uow: UnitOfWork, actor: Principal, case_id: int) -> list[CaseLink]:
    """The cases linked to ``case_id`` that the actor may see, oldest link first."""
    reviewer = reviewer_for(actor, Permission.cases_read)
    with uow:
        load_visible(uow, case_id, reviewer)
        return visible_links(uow, case_id, reviewer)


def link(
    *, uow: UnitOfWork, actor: Principal, case_id: int, other: str, note: str, now: datetime
) -> CaseLink:
    """Link case ``case_id`` with ``other`` (a case number or id): a note on both, nothing
    else changes. Linking a pair again changes nothing."""
    reviewer = reviewer_for(actor)
    other_id = _other(other)
    text = clean_text(note, "note", MAX_REASON) or ""
    if other_id == case_id:
        raise InvalidInput("a case is not linked to itself", field="case")
    with uow:
        load_visible(uow, case_id, reviewer)
        load_visible(uow, other_id, reviewer)
        if uow.case_links.add(case_id, other_id, kind=RELATED, note=text, by=actor.name, at=now):
            for one, two in ((case_id, other_id), (other_id, case_id)):
                _audit(
                    uow, actor, one, "case.linked", {"case": case_number(two), "note": text}, now
                )
        uow.commit()
    return CaseLink(other_id, RELATED, text, actor.name, now)


def merge(
    *,
    uow: UnitOfWork,
    actor: Principal,
    case_id: int,
    into: str,
    note: str,
    now: datetime,
    policy: TriagePolicy,
) -> Case:
    """Merge case ``case_id`` into ``into`` (a case number or id); gives the kept case.
    Raises ``ReviewConflict`` where a rule of ``cases.merge`` refuses."""
    reviewer = reviewer_for(actor)
    kept_id = _other(into)
    text = clean_text(note, "note", MAX_REASON) or ""
    with uow:
        # Both rows locked in id order first (PostgreSQL), so two merges of the same pair,
        # or a decision on either, wait for each other rather than cross.
        for locked in sorted({case_id, kept_id}):
            if uow.cases.lock_for_decision(locked) is None:
                raise NotFound(f"no case {case_number(locked)}")
        merged = load_visible(uow, case_id, reviewer)
        kept = load_visible(uow, kept_id, reviewer)
        try:
            result = kept.absorb(
                merged,
                reviewer,
                reporters=uow.case_links.reporters_of([kept_id, case_id]),
                brings_content=uow.case_links.brings_content(
                    case_id, kept_id, apart_from=UNRESOLVED_PREFIX
                ),
                policy=policy,
                now=now,
            )
        except ReviewRefused as refused:
            raise ReviewConflict(refused) from None
        uow.case_links.move(case_id, kept_id)
        for before, change in ((merged, result.merged), (kept, result.kept)):
            uow.cases.save(change.case, before=before)
            uow.cases.save_review(change.case)
            for event in change.events:
                uow.publish(event)
        uow.case_clocks.recompute([case_id, kept_id])  # actions moved, the opening too
        uow.case_links.add(case_id, kept_id, kind=MERGED, note=text, by=actor.name, at=now)
        _audit(
            uow, actor, case_id, "case.merged_into", {"to": case_number(kept_id), "note": text}, now
        )
        _audit(
            uow, actor, kept_id, "case.merged", {"case": case_number(case_id), "note": text}, now
        )
        uow.commit()
    return result.kept.case
