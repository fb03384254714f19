"""Preserved evidence: sealed items, their retention, holds and purges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from takedown.evidence import Sealed
from takedown.store.models import EvidenceItemRow
from takedown.store.rawsql import RawRepository


@dataclass(frozen=True)
class EvidenceRecord:
    id: int
    case_id: int
    content_id: str | None
    kind: str  # media | metadata
    media_type: str
    size: int
    sha256: str
    key_fingerprint: str
    created_at: datetime
    retained_until: datetime
    legal_hold: bool
    hold_reason: str | None
    purged_at: datetime | None
    purge_reason: str | None

    @property
    def identity(self) -> str:
        """What the item's encryption is bound to (``evidence.seal``)."""
        return f"evidence:{self.case_id}:{self.id}"


def _record(row: EvidenceItemRow) -> EvidenceRecord:
    return EvidenceRecord(
        id=row.id,
        case_id=row.case_id,
        content_id=row.content_id,
        kind=row.kind,
        media_type=row.media_type,
        size=row.size,
        sha256=row.sha256,
        key_fingerprint=row.key_fingerprint,
        created_at=row.created_at,
        retained_until=row.retained_until,
        legal_hold=row.legal_hold,
        hold_reason=row.hold_reason,
        purged_at=row.purged_at,
        purge_reason=row.purge_reason,
    )


class EvidenceRepository(RawRepository):
    def reserve(
        self,
        *,
        case_id: int,
        content_id: str | None,
        kind: str,
        media_type: str,
        size: int,
        sha256: str,
        at: datetime,
        retained_until: datetime,
    ) -> EvidenceRecord:
        """A new item's row (its id is what the sealing binds to); ``store`` fills it."""
        row = EvidenceItemRow(
            case_id=case_id,
            content_id=content_id,
            kind=kind,
            media_type=media_type,
            size=size,
            sha256=sha256,
            key_fingerprint="",
            created_at=at,
            retained_until=retained_until,
            legal_hold=False,
        )
        self._s.add(row)
        self._s.flush()
        return _record(row)

    def store(self, item_id: int, sealed: Sealed) -> None:
        self._s.execute(
            update(EvidenceItemRow)
            .where(EvidenceItemRow.id == item_id)
            .values(
                ciphertext=sealed.ciphertext,
                wrapped_key=sealed.wrapped_key,
                key_fingerprint=sealed.key_fingerprint,
            )
        )

    def for_case(self, case_id: int) -> list[EvidenceRecord]:
        rows = self._s.scalars(
            select(EvidenceItemRow)
            .where(EvidenceItemRow.case_id == case_id)
            .order_by(EvidenceItemRow.id)
        )
        return [_record(r) for r in rows]

    def get(self, item_id: int) -> EvidenceRecord | None:
        row = self._s.get(EvidenceItemRow, item_id)
        return _record(row) if row else None

    def sealed(self, item_id: int) -> Sealed | None:
        row = self._s.get(EvidenceItemRow, item_id)
        if row is None or row.ciphertext is None or row.wrapped_key is None:
            return None
        return Sealed(row.ciphertext, row.wrapped_key, row.key_fingerprint)

    def has_media(self, case_id: int, content_id: str) -> bool:
        return (
            self._s.scalar(
                select(EvidenceItemRow.id).where(
                    EvidenceItemRow.case_id == case_id,
                    EvidenceItemRow.content_id == content_id,
                    EvidenceItemRow.kind == "media",
                )
            )
            is not None
        )

    def hold(self, case_id: int, *, reason: str | None) -> int:
        """Set (a reason) or lift (None) the legal hold on every live item of the case."""
        result = self._s.execute(
            update(EvidenceItemRow)
            .where(EvidenceItemRow.case_id == case_id, EvidenceItemRow.purged_at.is_(None))
            .values(legal_hold=reason is not None, hold_reason=reason)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    def expired(self, now: datetime, *, limit: int) -> list[EvidenceRecord]:
        rows = self._s.scalars(
            select(EvidenceItemRow)
            .where(
                EvidenceItemRow.purged_at.is_(None),
                EvidenceItemRow.retained_until <= now,
                EvidenceItemRow.legal_hold.is_(False),
            )
            .order_by(EvidenceItemRow.id)
            .limit(limit)
        )
        return [_record(r) for r in rows]

    def live_case_ids(self) -> list[int]:
        """Cases that hold live evidence not under a hold."""
        rows = self._s.scalars(
            select(EvidenceItemRow.case_id)
            .where(EvidenceItemRow.purged_at.is_(None), EvidenceItemRow.legal_hold.is_(False))
            .distinct()
        )
        return [int(r) for r in rows]

    def live_of_cases(self, case_ids: list[int]) -> list[EvidenceRecord]:
        if not case_ids:
            return []
        rows = self._s.scalars(
            select(EvidenceItemRow).where(
                EvidenceItemRow.case_id.in_(case_ids),
                EvidenceItemRow.purged_at.is_(None),
                EvidenceItemRow.legal_hold.is_(False),
            )
        )
        return [_record(r) for r in rows]

    def purge(self, item_id: int, *, reason: str, at: datetime) -> None:
        """Delete an item's bytes and key; its row stays as the record of the deletion."""
        self._s.execute(
            update(EvidenceItemRow)
            .where(EvidenceItemRow.id == item_id)
            .values(ciphertext=None, wrapped_key=None, purged_at=at, purge_reason=reason)
        )

    def live_sealed(self, after: int, *, limit: int) -> list[tuple[EvidenceRecord, Sealed]]:
        rows = self._s.scalars(
            select(EvidenceItemRow)
            .where(EvidenceItemRow.id > after, EvidenceItemRow.purged_at.is_(None))
            .order_by(EvidenceItemRow.id)
            .limit(limit)
        )
        return [
            (_record(r), Sealed(r.ciphertext, r.wrapped_key, r.key_fingerprint))
            for r in rows
            if r.ciphertext is not None and r.wrapped_key is not None
        ]
