"""Links between cases, and the moves a merge makes (``cases.merge``): every row that belongs
to the merged case's reports and items is handed to the kept case in the caller's
transaction, so a reporter's status link, their e-mails and the takedown set follow."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select

from takedown.cases.records import CaseLink
from takedown.store.models import CaseLinkRow
from takedown.store.rawsql import RawRepository

RELATED = "related"
MERGED = "merged"


class CaseLinkRepository(RawRepository):
    def add(
        self, case_id: int, other_case_id: int, *, kind: str, note: str, by: str, at: datetime
    ) -> bool:
        """Link two cases (``merged``: ``case_id`` went into ``other_case_id``). False when
        they were linked already, either way round (a merge then turns the link into one)."""
        found = self._s.scalar(
            select(CaseLinkRow).where(
                or_(
                    (CaseLinkRow.case_id == case_id) & (CaseLinkRow.other_case_id == other_case_id),
                    (CaseLinkRow.case_id == other_case_id) & (CaseLinkRow.other_case_id == case_id),
                )
            )
        )
        if found is not None:
            if kind == MERGED and found.kind != MERGED:
                found.case_id, found.other_case_id, found.kind = case_id, other_case_id, kind
                self._s.flush()
                return True
            return False
        self._s.add(
            CaseLinkRow(
                case_id=case_id,
                other_case_id=other_case_id,
                kind=kind,
                note=note,
                created_by=by,
                created_at=at,
            )
        )
        self._s.flush()
        return True

    def for_case(self, case_id: int) -> list[CaseLink]:
        """The cases linked to ``case_id``, oldest link first."""
        rows = self._s.scalars(
            select(CaseLinkRow)
            .where(or_(CaseLinkRow.case_id == case_id, CaseLinkRow.other_case_id == case_id))
            .order_by(CaseLinkRow.id)
        )
        links = []
        for row in rows:
            mine = row.case_id == case_id
            kind = row.kind
            if kind == MERGED:
                kind = "merged_into" if mine else "merged_from"
            links.append(
                CaseLink(
                    case_id=row.other_case_id if mine else row.case_id,
                    kind=kind,
                    note=row.note,
                    created_by=row.created_by,
                    created_at=row.created_at,
                )
            )
        return links

    def merged_into(self, case_id: int) -> list[int]:
        """The cases merged into ``case_id``, directly or into one merged into it, in id
        order: the numbers its reporters may know it by."""
        found: set[int] = set()
        frontier = [case_id]
        while frontier:
            params = {f"c{i}": c for i, c in enumerate(frontier)}
            within = ", ".join(f":{k}" for k in params)
            rows = self._raw.all(
                f"SELECT case_id FROM case_links WHERE kind = '{MERGED}' "  # noqa: S608 - placeholders
                f"AND other_case_id IN ({within})",
                params,
            )
            frontier = [int(r[0]) for r in rows if int(r[0]) not in found]
            found.update(frontier)
        return sorted(found)

    def reporters_of(self, case_ids: list[int]) -> int:
        """Distinct reporters across the cases' reports, counted as intake counts them: by
        reporter key, and each report without one as a reporter of its own."""
        params = {f"c{i}": c for i, c in enumerate(case_ids)}
        within = ", ".join(f":{k}" for k in params)
        keyed = self._raw.value(
            f"SELECT count(DISTINCT reporter_key) FROM reports WHERE case_id IN ({within}) "  # noqa: S608 - placeholders
            "AND reporter_key IS NOT NULL",
            params,
        )
        anonymous = self._raw.value(
            f"SELECT count(*) FROM reports WHERE case_id IN ({within}) "  # noqa: S608 - placeholders
            "AND reporter_key IS NULL",
            params,
        )
        return int(keyed or 0) + int(anonymous or 0)

    def brings_content(self, merged: int, kept: int, *, apart_from: str) -> bool:
        """Whether case ``merged`` has an item ``kept`` has not, other than those whose id
        starts with ``apart_from`` (links the platform did not resolve)."""
        found = self._raw.value(
            "SELECT count(*) FROM case_items m WHERE m.case_id = :merged "
            "AND substr(m.content_id, 1, :n) <> :prefix AND NOT EXISTS "
            "(SELECT 1 FROM case_items k WHERE k.case_id = :kept AND k.content_id = m.content_id)",
            {"merged": merged, "kept": kept, "n": len(apart_from), "prefix": apart_from},
        )
        return bool(found)

    def move(self, merged: int, kept: int) -> None:
        """Hand ``merged``'s reports, items, messages, actions and their statements of
        reasons to ``kept``. An item both cases hold stays once, on ``kept``."""
        raw = self._raw
        params = {"merged": merged, "kept": kept}
        raw.write(
            "DELETE FROM case_items WHERE case_id = :merged AND content_id IN "
            "(SELECT content_id FROM case_items WHERE case_id = :kept)",
            params,
        )
        for table in ("case_items", "reports", "case_messages", "actions", "statements_of_reasons"):
            raw.write(f"UPDATE {table} SET case_id = :kept WHERE case_id = :merged", params)  # noqa: S608 - constant tables
