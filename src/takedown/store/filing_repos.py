"""CyberTipline filings: one per case, its draft, its files, and the filer's leases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import or_, select, update

from takedown.authorities import Filing, FilingState, Tip, TipFile
from takedown.store.clock_repos import CaseClockRepository
from takedown.store.models import CaseItemRow, NcmecFileRow, NcmecFilingRow
from takedown.store.rawsql import RawRepository

_TIP: TypeAdapter[Tip] = TypeAdapter(Tip)
_FILE: TypeAdapter[TipFile] = TypeAdapter(TipFile)


def tip_json(tip: Tip) -> dict[str, Any]:
    data: dict[str, Any] = _TIP.dump_python(tip, mode="json")
    return data


def file_json(file: TipFile) -> dict[str, Any]:
    data: dict[str, Any] = _FILE.dump_python(file, mode="json")
    return data


@dataclass(frozen=True)
class FilingFile:
    id: int
    evidence_item_id: int
    content_id: str | None
    details: TipFile
    file_id: str | None
    uploaded_at: datetime | None
    described_at: datetime | None


def _filing(row: NcmecFilingRow) -> Filing:
    return Filing(
        case_id=row.case_id,
        state=FilingState(row.state),
        drafted_at=row.drafted_at,
        report_id=row.report_id,
        requested_at=row.requested_at,
        filed_at=row.filed_at,
        submit_sent_at=row.submit_sent_at,
        error=row.error,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        auto=row.auto,
    )


def _file(row: NcmecFileRow) -> FilingFile:
    return FilingFile(
        id=row.id,
        evidence_item_id=row.evidence_item_id,
        content_id=row.content_id,
        details=_FILE.validate_python(row.details),
        file_id=row.file_id,
        uploaded_at=row.uploaded_at,
        described_at=row.described_at,
    )


class FilingRepository(RawRepository):
    def _row(self, case_id: int, *, lock: bool = False) -> NcmecFilingRow | None:
        query = select(NcmecFilingRow).where(NcmecFilingRow.case_id == case_id)
        if lock:
            query = query.with_for_update()
        return self._s.scalars(query).first()

    def get(self, case_id: int, *, lock: bool = False) -> Filing | None:
        """The case's filing; ``lock`` holds its row until the transaction ends (PostgreSQL;
        SQLite's writer lock holds everything)."""
        row = self._row(case_id, lock=lock)
        return _filing(row) if row else None

    def of_cases(self, case_ids: list[int]) -> dict[int, Filing]:
        if not case_ids:
            return {}
        rows = self._s.scalars(select(NcmecFilingRow).where(NcmecFilingRow.case_id.in_(case_ids)))
        return {r.case_id: _filing(r) for r in rows}

    def add(self, filing: Filing, tip: Tip, files: list[tuple[int, str | None, TipFile]]) -> None:
        """A new draft with its files (evidence item id, content id, details)."""
        row = NcmecFilingRow(
            case_id=filing.case_id,
            state=str(filing.state),
            tip=tip_json(tip),
            drafted_at=filing.drafted_at,
            attempts=0,
            auto=filing.auto,
        )
        self._s.add(row)
        self._s.flush()
        self._add_files(row.id, files)

    def add_files(self, case_id: int, files: list[tuple[int, str | None, TipFile]]) -> None:
        """More files for a case's draft (media preserved after it was made)."""
        row = self._row(case_id)
        if row is None:
            raise LookupError(f"case {case_id} has no filing")
        self._add_files(row.id, files)

    def _add_files(self, filing_id: int, files: list[tuple[int, str | None, TipFile]]) -> None:
        for item_id, content_id, details in files:
            self._s.add(
                NcmecFileRow(
                    filing_id=filing_id,
                    evidence_item_id=item_id,
                    content_id=content_id,
                    details=file_json(details),
                )
            )
        self._s.flush()

    def save(self, filing: Filing, *, document: str | None = None) -> None:
        values: dict[str, Any] = {
            "state": str(filing.state),
            "report_id": filing.report_id,
            "requested_at": filing.requested_at,
            "submit_sent_at": filing.submit_sent_at,
            "filed_at": filing.filed_at,
            "error": filing.error,
            "attempts": filing.attempts,
            "next_attempt_at": filing.next_attempt_at,
            "auto": filing.auto,
        }
        if document is not None:
            values["document"] = document
        self._s.execute(
            update(NcmecFilingRow).where(NcmecFilingRow.case_id == filing.case_id).values(values)
        )
        if filing.filed_at is not None:
            CaseClockRepository(self._uow).mark(filing.case_id, "filing_s", filing.filed_at)

    def tip(self, case_id: int) -> Tip | None:
        row = self._row(case_id)
        return _TIP.validate_python(row.tip) if row else None

    def set_tip(self, case_id: int, tip: Tip) -> None:
        self._s.execute(
            update(NcmecFilingRow)
            .where(NcmecFilingRow.case_id == case_id)
            .values(tip=tip_json(tip))
        )

    def document(self, case_id: int) -> str | None:
        row = self._row(case_id)
        return row.document if row else None

    def files(self, case_id: int) -> list[FilingFile]:
        rows = self._s.scalars(
            select(NcmecFileRow)
            .join(NcmecFilingRow, NcmecFilingRow.id == NcmecFileRow.filing_id)
            .where(NcmecFilingRow.case_id == case_id)
            .order_by(NcmecFileRow.id)
        )
        return [_file(r) for r in rows]

    def set_file_details(self, file_row_id: int, details: TipFile) -> None:
        self._s.execute(
            update(NcmecFileRow)
            .where(NcmecFileRow.id == file_row_id)
            .values(details=file_json(details))
        )

    def file_uploaded(self, file_row_id: int, *, file_id: str, at: datetime) -> None:
        self._s.execute(
            update(NcmecFileRow)
            .where(NcmecFileRow.id == file_row_id)
            .values(file_id=file_id, uploaded_at=at)
        )

    def file_described(self, file_row_id: int, *, at: datetime) -> None:
        self._s.execute(
            update(NcmecFileRow).where(NcmecFileRow.id == file_row_id).values(described_at=at)
        )

    def claim_due(self, *, now: datetime, until: datetime, limit: int) -> list[int]:
        """Cases whose filing is due and not leased by another filer; leased to ``until``."""
        query = (
            select(NcmecFilingRow.id, NcmecFilingRow.case_id)
            .where(
                NcmecFilingRow.state == str(FilingState.filing),
                NcmecFilingRow.next_attempt_at <= now,
                or_(NcmecFilingRow.lease_until.is_(None), NcmecFilingRow.lease_until <= now),
            )
            .order_by(NcmecFilingRow.next_attempt_at)
            .limit(limit)
        )
        if not self._raw.sqlite:
            query = query.with_for_update(skip_locked=True)
        rows = list(self._s.execute(query))
        if rows:
            self._s.execute(
                update(NcmecFilingRow)
                .where(NcmecFilingRow.id.in_([r[0] for r in rows]))
                .values(lease_until=until)
            )
        return [int(r[1]) for r in rows]

    def renew(self, case_id: int, *, until: datetime) -> None:
        """Hold the filing's lease to ``until`` (before each step)."""
        self._s.execute(
            update(NcmecFilingRow)
            .where(NcmecFilingRow.case_id == case_id)
            .values(lease_until=until)
        )

    def release(self, case_id: int) -> None:
        self._s.execute(
            update(NcmecFilingRow).where(NcmecFilingRow.case_id == case_id).values(lease_until=None)
        )

    def stuck(self) -> dict[str, int]:
        """How many filings failed, and how many wait for a person's answer (by state)."""
        rows = self._raw.all(
            "SELECT state, count(*) FROM ncmec_filings "
            "WHERE state = 'failed' OR state = 'needs_attention' GROUP BY state"
        )
        return {str(state): int(n) for state, n in rows}

    def listing(self, *, filed_limit: int = 50) -> list[Filing]:
        """Every filing not settled yet, and the latest ``filed_limit`` filed or withdrawn."""
        settled = [str(FilingState.filed), str(FilingState.withdrawn)]
        open_rows = self._s.scalars(
            select(NcmecFilingRow)
            .where(NcmecFilingRow.state.not_in(settled))
            .order_by(NcmecFilingRow.drafted_at)
        )
        filed_rows = self._s.scalars(
            select(NcmecFilingRow)
            .where(NcmecFilingRow.state.in_(settled))
            .order_by(NcmecFilingRow.drafted_at.desc())
            .limit(filed_limit)
        )
        return [_filing(r) for r in [*open_rows, *filed_rows]]

    def prior_reports(self, case_id: int, account_id: str) -> list[int]:
        """NCMEC's ids of other cases' reports about ``account_id``, oldest first."""
        rows = self._s.execute(
            select(NcmecFilingRow.report_id)
            .join(CaseItemRow, CaseItemRow.case_id == NcmecFilingRow.case_id)
            .where(
                CaseItemRow.account_id == account_id,
                NcmecFilingRow.case_id != case_id,
                NcmecFilingRow.report_id.is_not(None),
            )
            .distinct()
        )
        return sorted(int(r[0]) for r in rows if r[0] is not None)
