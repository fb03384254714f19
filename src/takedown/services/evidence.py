"""The evidence vault: a case's media and metadata, preserved sealed for a year.

As soon as a case is P0, and again when it is confirmed, its media is fetched from the
platform (the review fetch) and sealed (``evidence.vault``), so an uploader deleting the post
destroys nothing; a confirmation adds the case's metadata (its items, accounts, reports and
decisions). Items are kept ``retention`` from when they were preserved, longer under a legal
hold that compliance sets with a reason; ``purge`` deletes what has expired, and what a case
closed with no violation no longer needs, and audits each deletion.

Only ``compliance`` and ``child_safety_lead`` may list or open evidence
(``evidence:read``); every opening is audited with the reason given, and refused without one.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from takedown.authorities import Filing
from takedown.cases import CaseStatus, Outcome, case_number
from takedown.evidence import MasterKey, rewrap, seal, unseal
from takedown.identity import Permission, Principal, require
from takedown.media import image_format
from takedown.services import audit, review_media
from takedown.services.errors import InvalidInput, NotFound
from takedown.store.evidence_repos import EvidenceRecord
from takedown.store.uow import UnitOfWork

log = logging.getLogger("takedown.evidence")
SYSTEM = Principal.system("evidence")
MAX_REASON = 500


@dataclass(frozen=True)
class Vault:
    """The master key that seals, the ones that may still open, and how long items stay."""

    key: MasterKey
    old_keys: tuple[MasterKey, ...] = ()
    retention: timedelta = timedelta(days=365)

    @property
    def keys(self) -> list[MasterKey]:
        return [self.key, *self.old_keys]


def _keep(
    uow: UnitOfWork,
    vault: Vault,
    *,
    case_id: int,
    content_id: str | None,
    kind: str,
    media_type: str,
    data: bytes,
    now: datetime,
) -> EvidenceRecord:
    record = uow.evidence.reserve(
        case_id=case_id,
        content_id=content_id,
        kind=kind,
        media_type=media_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        at=now,
        retained_until=now + vault.retention,
    )
    uow.evidence.store(record.id, seal(data, vault.key, identity=record.identity))
    audit.record(
        uow,
        actor=SYSTEM,
        action="evidence.preserved",
        target_type="case",
        target_id=case_id,
        details={"item": record.id, "kind": kind, "content_id": content_id, "size": len(data)},
        at=now,
    )
    return record


def preserve_case(
    uow: UnitOfWork,
    *,
    case_id: int,
    vault: Vault,
    media: review_media.MediaSettings,
    now: datetime,
    confirmed: bool,
) -> int:
    """Fetch and seal the media of the case's items not preserved yet; on a confirmation,
    seal its metadata as well. In ``uow``'s transaction (an outbox handler's). Returns how
    many items were preserved. An item the platform no longer has is noted, not an error."""
    preserved = 0
    for item in uow.cases.items(case_id):
        if uow.evidence.has_media(case_id, item.content_id):
            continue
        try:
            data, _ = review_media.fetch(media, item.content_id, now=now.timestamp())
        except (review_media.LinkUnresolved, review_media.MediaGone) as missing:
            # Noted, not an error: a link the platform never matched, or media it no longer has.
            unresolved = isinstance(missing, review_media.LinkUnresolved)
            audit.record(
                uow,
                actor=SYSTEM,
                action="evidence.link_unresolved" if unresolved else "evidence.media_gone",
                target_type="case",
                target_id=case_id,
                details={"content_id": item.content_id},
                at=now,
            )
            continue
        except InvalidInput:
            log.warning("no platform media address is set: the case's media is not preserved")
            break
        kind = image_format(data)
        media_type = f"image/{kind.lower()}" if kind else "application/octet-stream"
        _keep(
            uow,
            vault,
            case_id=case_id,
            content_id=item.content_id,
            kind="media",
            media_type=media_type,
            data=data,
            now=now,
        )
        preserved += 1
    if confirmed:
        data = json.dumps(_metadata(uow, case_id), default=str, indent=1).encode()
        _keep(
            uow,
            vault,
            case_id=case_id,
            content_id=None,
            kind="metadata",
            media_type="application/json",
            data=data,
            now=now,
        )
        preserved += 1
    return preserved


def _metadata(uow: UnitOfWork, case_id: int) -> dict[str, Any]:
    """What the case knows, as preserved with its media (and, later, filed)."""
    items = uow.cases.items(case_id)
    registered = {i.content_id: uow.content.get(i.content_id) for i in items}
    return {
        "case": case_number(case_id),
        "items": [
            {
                "content_id": i.content_id,
                "root_content_id": i.root_content_id,
                "account_id": i.account_id,
                "md5": i.md5,
                "sha256": i.sha256,
                "pdq": i.pdq,
                "first_seen_at": getattr(registered.get(i.content_id), "first_seen_at", None),
                "parent_content_id": getattr(
                    registered.get(i.content_id), "parent_content_id", None
                ),
            }
            for i in items
        ],
        "reports": [
            {
                "id": r.id,
                "category": str(r.category),
                "reporter_role": str(r.reporter_role),
                "depicted_minor": r.depicted_minor,
                "police_agency": r.police_agency,
                "police_case_number": r.police_case_number,
                "description": r.description,
                "received_at": r.received_at,
                "content_url": r.content_url,
            }
            for r in uow.reports.for_case(case_id)
        ],
        "decisions": [
            {
                "outcome": str(d.outcome),
                "category": str(d.category),
                "reason": d.reason,
                "decided_by": d.decided_by,
                "decided_at": d.decided_at,
                "automated": d.automated,
                "grounds": list(d.grounds),
            }
            for d in uow.decisions.for_case(case_id)
        ],
    }


def list_items(*, uow: UnitOfWork, actor: Principal, case_id: int) -> list[EvidenceRecord]:
    require(actor, Permission.evidence_read)
    with uow:
        if uow.cases.get(case_id) is None:
            raise NotFound(f"no case {case_number(case_id)}")
        return uow.evidence.for_case(case_id)


def open_item(
    *,
    uow: UnitOfWork,
    actor: Principal,
    case_id: int,
    item_id: int,
    reason: str,
    vault: Vault,
    now: datetime,
) -> tuple[EvidenceRecord, bytes]:
    """An item's bytes, for a reason that is audited. Raises ``InvalidInput`` without a
    reason, ``NotFound`` for an item not of the case or purged, ``WrongKey`` (loudly) when the
    configured keys do not open it."""
    require(actor, Permission.evidence_read)
    why = " ".join(reason.split())[:MAX_REASON]
    if not why:
        raise InvalidInput("say why you open this evidence (reason=...)", field="reason")
    with uow:
        record = uow.evidence.get(item_id)
        sealed = uow.evidence.sealed(item_id)
        if record is None or record.case_id != case_id or sealed is None:
            raise NotFound(f"no evidence item {item_id} on case {case_number(case_id)}")
        data = unseal(sealed, vault.keys, identity=record.identity)
        audit.record(
            uow,
            actor=actor,
            action="evidence.opened",
            target_type="case",
            target_id=case_id,
            details={"item": item_id, "reason": why},
            at=now,
        )
        uow.commit()
    return record, data


def set_hold(
    *,
    uow: UnitOfWork,
    actor: Principal,
    case_id: int,
    reason: str | None,
    now: datetime,
) -> int:
    """Set a legal hold on a case's evidence (``reason``), or lift it (None)."""
    require(actor, Permission.evidence_hold)
    why = " ".join((reason or "").split())[:MAX_REASON] or None
    if reason is not None and why is None:
        raise InvalidInput("a legal hold needs its reason", field="reason")
    with uow:
        if uow.cases.get(case_id) is None:
            raise NotFound(f"no case {case_number(case_id)}")
        held = uow.evidence.hold(case_id, reason=why)
        audit.record(
            uow,
            actor=actor,
            action="evidence.hold_set" if why else "evidence.hold_lifted",
            target_type="case",
            target_id=case_id,
            details={"reason": why, "items": held},
            at=now,
        )
        uow.commit()
    return held


def purge(
    *,
    uow: UnitOfWork,
    now: datetime,
    batch: int = 1000,
    retention: timedelta = timedelta(days=365),
) -> int:
    """Delete expired evidence not under a hold, and what cases closed with no violation
    hold; each deletion is audited. Returns how many items were purged.

    Evidence of a case whose CyberTipline report reached NCMEC (``Filing.reached_authority``)
    is kept ``retention`` from the filing (18 U.S.C. 2258A's year), whatever the case became
    since (an appeal that closed it with no violation, a retention that ran from its
    preservation): a report NCMEC holds keeps what it describes."""
    purged = 0
    with uow:
        gone = [(r, "expired") for r in uow.evidence.expired(now, limit=batch)]
        closed = [
            c.id
            for c in (uow.cases.get(i) for i in uow.evidence.live_case_ids())
            if c is not None and c.status is CaseStatus.closed and _no_violation(uow, c.id)
        ]
        gone += [(r, "closed_no_violation") for r in uow.evidence.live_of_cases(closed)]
        filings = uow.filings.of_cases(sorted({r.case_id for r, _ in gone}))
        for record, why in gone:
            filing = filings.get(record.case_id)
            if filing is not None and _kept_for_report(filing, now, retention):
                continue
            uow.evidence.purge(record.id, reason=why, at=now)
            audit.record(
                uow,
                actor=SYSTEM,
                action="evidence.purged",
                target_type="case",
                target_id=record.case_id,
                details={"item": record.id, "reason": why, "sha256": record.sha256},
                at=now,
            )
            purged += 1
        uow.commit()
    return purged


def _kept_for_report(filing: Filing, now: datetime, retention: timedelta) -> bool:
    """A report NCMEC has or may have keeps its evidence until ``retention`` after it was
    filed (for ever while it is not filed yet: a person has to settle it first)."""
    if not filing.reached_authority:
        return False
    return filing.filed_at is None or now < filing.filed_at + retention


def _no_violation(uow: UnitOfWork, case_id: int) -> bool:
    decisions = uow.decisions.for_case(case_id)
    return bool(decisions) and decisions[-1].outcome is Outcome.no_violation


def rotate(*, uow: UnitOfWork, vault: Vault, batch: int = 500) -> int:
    """Re-wrap every live item's data key with ``vault.key`` (the media is not decrypted).
    Returns how many were re-wrapped."""
    done, after = 0, 0
    while True:
        with uow:
            page = uow.evidence.live_sealed(after, limit=batch)
            for record, sealed in page:
                if sealed.key_fingerprint != vault.key.fingerprint:
                    uow.evidence.store(
                        record.id, rewrap(sealed, vault.keys, vault.key, identity=record.identity)
                    )
                    done += 1
            uow.commit()
        if len(page) < batch:
            return done
        after = page[-1][0].id
