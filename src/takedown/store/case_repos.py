"""Repositories for reports, cases, their items and messages, and content stats.

Intake runs on the group-commit writer at thousands of reports a second, so its statements
are hand-written SQL (``RawSql``) rather than ORM statements; the read paths of the status
page and the console use the ORM."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from takedown.cases import (
    Case,
    CaseFacts,
    CaseStatus,
    Category,
    Claim,
    Decision,
    Outcome,
    Priority,
    ReporterRole,
    ReportSource,
)
from takedown.cases.records import CaseItem, CaseMessage, Report
from takedown.matching import ContentItem, ExposureReading
from takedown.store.clock_repos import CaseClockRepository
from takedown.store.matching_repos import CONTENT_COLUMNS, content_item
from takedown.store.models import (
    CaseItemRow,
    CaseMessageRow,
    CaseReviewRow,
    CaseRow,
    ContentStatsRow,
    InstanceSecretRow,
    ReportRow,
)
from takedown.store.rawsql import HasSession, RawRepository
from takedown.store.values import row_value

_REPORT_COLUMNS = (
    "case_id",
    "content_id",
    "content_url",
    "category",
    "reporter_role",
    "depicted_minor",
    "police_agency",
    "police_case_number",
    "reporter_reference",
    "contact_name",
    "contact_email",
    "signature",
    "good_faith_statement",
    "description",
    "valid_request",
    "source",
    "principal_kind",
    "principal_id",
    "principal_name",
    "submitter",
    "idempotency_key",
    "reporter_key",
    "status_digest",
    "received_at",
)


def _inserts(table: str, columns: tuple[str, ...]) -> tuple[str, str]:
    """An insert that returns the new id (SQLite), and one given the id (PostgreSQL; see
    ``RawSql.insert``)."""
    names, values = ", ".join(columns), ", ".join(":" + c for c in columns)
    return (
        f"INSERT INTO {table} ({names}) VALUES ({values}) RETURNING id",  # noqa: S608 - constant columns
        f"INSERT INTO {table} (id, {names}) VALUES (:id, {values})",  # noqa: S608 - constant columns
    )


_INSERT_REPORT = _inserts("reports", _REPORT_COLUMNS)
_CASE_COLUMNS = (
    "status",
    "priority",
    "reasons",
    "facts",
    "respond_by",
    "remove_by",
    "opened_at",
    "updated_at",
    "confirmed_at",
    "category",
    "minor_safety",
)
_INSERT_CASE = _inserts("cases", _CASE_COLUMNS)[1]  # with its id: ``CaseRepository.new_id``
_RELATED_OPEN_CASE = (
    "(SELECT min(case_id) FROM ("
    "SELECT case_id FROM case_items WHERE content_id = :content_id AND open "
    "UNION ALL SELECT case_id FROM case_items WHERE root_content_id = :content_id AND open "
    "UNION ALL SELECT case_id FROM case_items WHERE md5 = c.md5 AND open "
    "UNION ALL SELECT case_id FROM case_items WHERE sha256 = c.sha256 AND open"
    ") AS related)"
)
_CASE_SELECT = (
    "{p}id, {p}status, {p}priority, {p}reasons, {p}facts, {p}respond_by, {p}remove_by, "
    "{p}opened_at, {p}updated_at, {p}confirmed_at"
)
_SELECT_CASE = f"SELECT {_CASE_SELECT.format(p='')} FROM cases WHERE id = :id"  # noqa: S608 - constant columns
_CONTENT_COUNT = len(CONTENT_COLUMNS.split(","))
_INTAKE_ITEM = (
    f"SELECT {', '.join('c.' + col.strip() for col in CONTENT_COLUMNS.split(','))}, "  # noqa: S608 - constant columns
    f"{_RELATED_OPEN_CASE} AS related_case FROM (SELECT 1 AS one) AS q "
    "LEFT JOIN content c ON c.content_id = :content_id"
)
# Whether this reporter has reported the case, and whether the item is on it: scalar
# subqueries, probed by key, not EXISTS, which PostgreSQL may plan as a "hashed SubPlan" that
# reads the whole table once a statement, a plan a prepared statement then keeps while the
# table grows (bench/RECORD.md, "Intake in sets"; a test holds the plan to probing).
_INTAKE_EXISTS = (
    "(SELECT 1 FROM reports WHERE case_id = k.id AND reporter_key = :reporter_key LIMIT 1) "
    "IS NOT NULL, "
    "(SELECT 1 FROM case_items WHERE case_id = k.id AND content_id = :content_id LIMIT 1) "
    "IS NOT NULL"
)
# The item and the oldest open case related to it (``l``, computed once), and that case
# (``k``) with whether this reporter has reported it and whether the item is already on it.
# PostgreSQL takes the case by its key through LATERAL, whatever its statistics say (a hash
# join over every case was chosen on tables never analyzed); SQLite looks it up by key.
_INTAKE_LOOKUP_SQLITE = (
    f"SELECT l.*, {_CASE_SELECT.format(p='k.')}, {_INTAKE_EXISTS} "  # noqa: S608 - constant columns
    f"FROM ({_INTAKE_ITEM}) AS l LEFT JOIN cases k ON k.id = l.related_case"
)
_INTAKE_LOOKUP_PG = (
    f"WITH l AS MATERIALIZED ({_INTAKE_ITEM}) "  # noqa: S608 - constant columns
    f"SELECT l.*, {_CASE_SELECT.format(p='k.')}, {_INTAKE_EXISTS} FROM l "
    f"LEFT JOIN LATERAL (SELECT {_CASE_SELECT.format(p='')} FROM cases "
    "WHERE id = l.related_case) AS k ON true"
)
# Intake in sets (PostgreSQL): the same lookup for every (item, reporter) of a group at once,
# numbered by their place in the arrays (``b.ord``).
_INTAKE_EXISTS_MANY = _INTAKE_EXISTS.replace(":reporter_key", "b.reporter_key").replace(
    ":content_id", "b.content_id"
)
_INTAKE_LOOKUP_MANY_PG = (
    f"SELECT b.ord, l.*, {_CASE_SELECT.format(p='k.')}, {_INTAKE_EXISTS_MANY} "  # noqa: S608 - constant columns
    "FROM unnest(CAST(:content_ids AS text[]), CAST(:reporter_keys AS text[])) "
    "WITH ORDINALITY AS b(content_id, reporter_key, ord) "
    f"CROSS JOIN LATERAL ({_INTAKE_ITEM.replace(':content_id', 'b.content_id')}) AS l "
    f"LEFT JOIN LATERAL (SELECT {_CASE_SELECT.format(p='')} FROM cases "
    "WHERE id = l.related_case) AS k ON true"
)
_PDQ_ITEMS = "SELECT id, case_id, pdq FROM case_items WHERE id > :after AND pdq IS NOT NULL"
_PDQ_ITEMS_AFTER = f"{_PDQ_ITEMS} ORDER BY id LIMIT :limit"
_PDQ_ITEMS_AFTER_OPEN = f"{_PDQ_ITEMS} AND open ORDER BY id LIMIT :limit"
_OPEN_ITEMS = "SELECT id, case_id, pdq FROM case_items WHERE open AND pdq IS NOT NULL AND id "
_OPEN_ITEMS_BY_ID_PG = _OPEN_ITEMS + "= ANY(CAST(:ids AS bigint[]))"
_OPEN_ITEMS_BY_ID_SQLITE = _OPEN_ITEMS + "IN (SELECT value FROM json_each(:ids))"  # noqa: S608 - constant
_INTAKE_CASE = (
    f"SELECT {_CASE_SELECT.format(p='k.')}, {_INTAKE_EXISTS} "  # noqa: S608 - constant columns
    "FROM cases k WHERE k.id = :id"
)
_ITEM_COLUMNS = (
    "case_id",
    "content_id",
    "root_content_id",
    "account_id",
    "pdq",
    "md5",
    "sha256",
    "open",
    "added_at",
)
_INSERT_ITEM = (
    f"INSERT INTO case_items ({', '.join(_ITEM_COLUMNS)}) "  # noqa: S608 - constant columns
    f"VALUES ({', '.join(':' + c for c in _ITEM_COLUMNS)})"
)


# Members by value, for reading rows (``CaseStatus(value)`` runs Python code per call).
_STATUSES = {m.value: m for m in CaseStatus}
_PRIORITIES = {m.value: m for m in Priority}


def _columns(case: Case) -> dict[str, Any]:
    return {
        "status": str(case.status),
        "priority": str(case.priority),
        "reasons": case.reasons,
        "facts": case.facts.as_json(),
        "respond_by": case.respond_by,
        "remove_by": case.remove_by,
        "opened_at": case.opened_at,
        "updated_at": case.updated_at,
        "confirmed_at": case.confirmed_at,
        "category": str(case.category),
        "minor_safety": case.minor_safety,
    }


def _report(row: ReportRow) -> Report:
    return row_value(
        Report,
        row,
        category=Category(row.category),
        reporter_role=ReporterRole(row.reporter_role),
        source=ReportSource(row.source),
    )


class ReportRepository(RawRepository):
    def add(self, **values: Any) -> int:
        raw = self._raw
        values["received_at"] = raw.dt(values["received_at"])
        values["depicted_minor"] = raw.flag(values["depicted_minor"])
        values["good_faith_statement"] = raw.flag(values["good_faith_statement"])
        values["valid_request"] = raw.flag(values["valid_request"])
        return raw.insert("reports", *_INSERT_REPORT, values)

    def get(self, report_id: int) -> Report | None:
        row = self._s.get(ReportRow, report_id)
        return _report(row) if row else None

    def by_idempotency_key(self, submitter: str, key: str) -> tuple[int, str] | None:
        """The id and status digest of the report this submitter sent with this key, if any."""
        found = self._raw.one(
            "SELECT id, status_digest FROM reports "
            "WHERE submitter = :submitter AND idempotency_key = :key",
            {"submitter": submitter, "key": key},
        )
        return (int(found[0]), str(found[1])) if found is not None else None

    def by_status_digest(self, digest: str) -> Report | None:
        row = self._s.scalar(select(ReportRow).where(ReportRow.status_digest == digest))
        return _report(row) if row else None

    def for_case(self, case_id: int) -> list[Report]:
        """The case's reports, oldest first."""
        rows = self._s.scalars(
            select(ReportRow).where(ReportRow.case_id == case_id).order_by(ReportRow.id)
        )
        return [_report(r) for r in rows]

    def contact_emails(self, case_id: int) -> list[str]:
        """The distinct addresses this case's reporters gave, in the order they first did."""
        rows = self._raw.all(
            "SELECT contact_email, min(id) FROM reports WHERE case_id = :case_id "
            "AND contact_email IS NOT NULL GROUP BY contact_email ORDER BY min(id)",
            {"case_id": case_id},
        )
        return [str(r[0]) for r in rows]

    def count(self) -> int:
        return int(self._raw.value("SELECT count(*) FROM reports") or 0)


IntakeFound = tuple[ContentItem | None, tuple[Case, bool, bool] | None]
"""What ``CaseRepository.intake_lookup`` gives: the item in the registry, and its case with
whether this reporter and this item are already on it."""


class CaseRepository(RawRepository):
    def __init__(self, uow: HasSession) -> None:
        super().__init__(uow)
        # Intake lookups made ahead for a group (``prefetch_intake``), by (item, reporter),
        # each with what it depends on; and what this transaction has written since.
        self._prefetched: dict[tuple[str, str | None], tuple[IntakeFound, frozenset[Any]]] = {}
        self._written: set[Any] = set()

    def _params(self, values: dict[str, Any]) -> dict[str, Any]:
        raw = self._raw
        out = dict(values)
        for name in ("respond_by", "remove_by", "opened_at", "updated_at", "confirmed_at"):
            if name in out:
                out[name] = raw.dt(out[name])
        for name in ("reasons", "facts"):
            if name in out:
                out[name] = raw.json(out[name])
        if "minor_safety" in out:
            out["minor_safety"] = raw.flag(out["minor_safety"])
        return out

    @property
    def items_commit_in_id_order(self) -> bool:
        """Whether case items always commit in the order of their ids (SQLite: one writer at
        a time). Where not (PostgreSQL's processes take ids from blocks), an item with a lower
        id than one already read may still commit."""
        return self._raw.sqlite

    def new_id(self) -> int:
        """The id a new case will be saved with (``save``)."""
        return self._raw.new_id("cases")

    def save(self, case: Case, *, before: Case | None) -> None:
        """Write ``case``: a new row when ``before`` is None (its id from ``new_id``), else
        only the columns that differ from ``before``, the case as it was loaded. A column left
        out keeps its indexes untouched: the queue's index on status, priority and
        ``respond_by`` would otherwise be rewritten by every report."""
        if before is None:
            self._raw.write(_INSERT_CASE, self._params(_columns(case) | {"id": case.id}))
            return
        # The enums are ``StrEnum``s: ``str()`` is their value, in a C call (``.value`` is a
        # property written in Python).
        values: dict[str, Any] = {"updated_at": case.updated_at}
        if case.facts is not before.facts:
            values["facts"] = case.facts.as_json()
            category = case.category
            if category is not before.category:
                values["category"] = str(category)
            if case.minor_safety is not before.minor_safety:
                values["minor_safety"] = case.minor_safety
        if case.status is not before.status:
            values["status"] = str(case.status)
        if case.priority is not before.priority:
            values["priority"] = str(case.priority)
        if case.reasons != before.reasons:
            values["reasons"] = case.reasons
        if case.respond_by != before.respond_by:
            values["respond_by"] = case.respond_by
        if case.remove_by != before.remove_by:
            values["remove_by"] = case.remove_by
        if case.confirmed_at != before.confirmed_at:
            values["confirmed_at"] = case.confirmed_at
        if case.opened_at != before.opened_at:  # only a merge moves it (earlier)
            values["opened_at"] = case.opened_at
        self.update(case.id, **values)

    def get(self, case_id: int) -> Case | None:
        row = self._raw.one(_SELECT_CASE, {"id": case_id})
        return self._case(row) if row is not None else None

    def intake_lookup(self, content_id: str, *, reporter_key: str | None) -> IntakeFound:
        """In one statement, for report intake: the registry's row for the item (``content``
        columns, or None), and the oldest open case about it, its family as if it were the
        root, or an exact copy of its media, as ``for_intake`` gives it (or None). When the
        item has a parent, its family's root is another item and the case found here must
        be looked up again (``open_case_for``). Answered from ``prefetch_intake`` when that
        looked it up and nothing it depends on was written since."""
        ahead = self._prefetched.pop((content_id, reporter_key), None)
        if ahead is not None and self._written.isdisjoint(ahead[1]):
            return ahead[0]
        raw = self._raw
        row = raw.one(
            _INTAKE_LOOKUP_SQLITE if raw.sqlite else _INTAKE_LOOKUP_PG,
            {"content_id": content_id, "reporter_key": reporter_key},
        )
        assert row is not None  # the outer join always gives one row
        return self._intake_found(row, reporter_key)

    def _intake_found(self, row: tuple[Any, ...], reporter_key: str | None) -> IntakeFound:
        n = _CONTENT_COUNT
        item = content_item(row[:n])
        if row[n] is None:  # no related open case
            return item, None
        return item, self._for_intake_row(row[n + 1 :], reporter_key)

    def prefetch_intake(self, lookups: list[tuple[str, str | None]]) -> None:
        """PostgreSQL: make the ``intake_lookup`` of each (item, reporter) of a group in one
        statement (one round trip for the group instead of one a report). Each answer is
        used once, and only if nothing it depends on (the item, its case, the items with
        the same media) was written in this transaction since: a report about the same
        item or case earlier in the group makes the next one look again, so each report
        sees the ones before it. SQLite has no round trips to save: nothing is done."""
        if self._raw.sqlite or len(lookups) < 2:
            return
        # Each report may open a case: their ids at hand, so no insert sends the group's
        # waiting writes early to wait for a block of ids.
        self._raw.reserve_ids({"reports": len(lookups), "cases": len(lookups)})
        unique = list(dict.fromkeys(lookups))
        rows = self._raw.all(
            _INTAKE_LOOKUP_MANY_PG,
            {
                "content_ids": [content_id for content_id, _ in unique],
                "reporter_keys": [reporter_key for _, reporter_key in unique],
            },
        )
        self._written.clear()
        for row in rows:
            content_id, reporter_key = unique[int(row[0]) - 1]
            found = self._intake_found(row[1:], reporter_key)
            item, case = found
            depends: set[Any] = {("content", content_id)}
            if case is not None:
                depends.add(("case", case[0].id))
            if item is not None:
                if item.md5:
                    depends.add(("md5", item.md5))
                if item.sha256:
                    depends.add(("sha256", item.sha256))
            self._prefetched[(content_id, reporter_key)] = (found, frozenset(depends))

    def forget_prefetched(self) -> None:
        self._prefetched.clear()
        self._written.clear()

    def for_intake(
        self, case_id: int, *, content_id: str, reporter_key: str | None
    ) -> tuple[Case, bool, bool]:
        """In one statement: the case, whether this reporter has reported it before, and
        whether the item is already one of its items."""
        row = self._raw.one(
            _INTAKE_CASE, {"id": case_id, "content_id": content_id, "reporter_key": reporter_key}
        )
        if row is None:
            raise LookupError(f"case {case_id} is gone")
        return self._for_intake_row(row, reporter_key)

    def lock_for_decision(self, case_id: int) -> str | None:
        """The case's status, its row locked until the transaction ends (PostgreSQL; SQLite's
        writer lock holds everything): intake takes it before a report's automatic decision,
        so two transactions that both found the case open cannot both decide it."""
        sql = "SELECT status FROM cases WHERE id = :id"
        if not self._raw.sqlite:
            sql += " FOR UPDATE"
        if self._prefetched:
            self._written.add(("case", case_id))
        row = self._raw.one(sql, {"id": case_id})
        return str(row[0]) if row is not None else None

    def _for_intake_row(
        self, row: tuple[Any, ...], reporter_key: str | None
    ) -> tuple[Case, bool, bool]:
        seen = bool(row[10]) if reporter_key else False
        return self._case(row[:10]), seen, bool(row[11])

    def _case(self, row: tuple[Any, ...]) -> Case:
        raw = self._raw
        respond_by, opened_at, updated_at = (raw.read_dt(row[i]) for i in (5, 7, 8))
        assert respond_by and opened_at and updated_at
        return Case(
            id=int(row[0]),
            status=_STATUSES[row[1]],
            priority=_PRIORITIES[row[2]],
            reasons=raw.read_json(row[3]),
            facts=CaseFacts.from_json(raw.read_json(row[4])),
            respond_by=respond_by,
            remove_by=raw.read_dt(row[6]),
            opened_at=opened_at,
            updated_at=updated_at,
            confirmed_at=raw.read_dt(row[9]),
        )

    def update(self, case_id: int, **values: Any) -> None:
        if set(values) - set(_CASE_COLUMNS):
            raise ValueError(f"unknown case columns: {sorted(set(values) - set(_CASE_COLUMNS))}")
        assignments = ", ".join(f"{name} = :{name}" for name in values)
        if self._prefetched:
            self._written.add(("case", case_id))
        self._raw.write(
            f"UPDATE cases SET {assignments} WHERE id = :id",  # noqa: S608 - checked names
            {**self._params(values), "id": case_id},
        )

    def with_review(self, case: Case) -> Case:
        """``case`` with its review state (``case_reviews``; none yet: as it is)."""
        row = self._s.get(CaseReviewRow, case.id)
        if row is None:
            return case
        after = case.copied()
        after.claim_by = (
            Claim(int(row.claim_user_id), row.claim_name or "", row.claim_until)
            if row.claim_user_id is not None and row.claim_until is not None
            else None
        )
        after.proposal = _decision_from(row.proposal) if row.proposal else None
        after.first_look_at = row.first_look_at
        after.decided_at = row.decided_at
        after.decided_by = row.decided_by
        after.second_by = row.second_by
        after.appeal_of = _STATUSES[row.appeal_of] if row.appeal_of else None
        after.held_from = _STATUSES[row.held_from] if row.held_from else None
        after.hold_reason = row.hold_reason
        after.escalated_to = row.escalated_to
        after.appeal_heard = bool(row.appeal_heard)
        return after

    def save_review(self, case: Case) -> None:
        """Write ``case``'s review state (the case's own row is ``save``'s)."""
        row = self._s.get(CaseReviewRow, case.id)
        if row is None:
            row = CaseReviewRow(case_id=case.id)
            self._s.add(row)
        claim = case.claim_by
        row.claim_user_id = claim.user_id if claim else None
        row.claim_name = claim.name if claim else None
        row.claim_until = claim.until if claim else None
        row.proposal = _decision_json(case.proposal) if case.proposal else None
        looked = row.first_look_at is None and case.first_look_at is not None
        row.first_look_at = case.first_look_at
        row.decided_at = case.decided_at
        row.decided_by = case.decided_by
        row.second_by = case.second_by
        row.appeal_of = str(case.appeal_of) if case.appeal_of else None
        row.held_from = str(case.held_from) if case.held_from else None
        row.hold_reason = case.hold_reason
        row.escalated_to = case.escalated_to
        row.appeal_heard = case.appeal_heard
        self._s.flush()
        if looked:
            assert case.first_look_at is not None
            CaseClockRepository(self._uow).mark(case.id, "look_s", case.first_look_at)

    def open_case_for(
        self,
        *,
        content_id: str,
        root_content_id: str,
        md5: str | None = None,
        sha256: str | None = None,
    ) -> int | None:
        """The oldest open case about this content, its family (same root) or an exact copy."""
        # One indexed lookup per way of being related (an OR would scan the table).
        found = self._raw.value(
            "SELECT min(case_id) FROM ("
            "SELECT case_id FROM case_items WHERE content_id = :content_id AND open "
            "UNION ALL SELECT case_id FROM case_items WHERE root_content_id = :root AND open "
            "UNION ALL SELECT case_id FROM case_items WHERE md5 = :md5 AND open "
            "UNION ALL SELECT case_id FROM case_items WHERE sha256 = :sha256 AND open"
            ") AS related",
            {"content_id": content_id, "root": root_content_id, "md5": md5, "sha256": sha256},
        )
        return int(found) if found is not None else None

    def pdq_items_after(
        self, after: int, *, open_only: bool, limit: int
    ) -> list[tuple[int, int, str]]:
        """(item id, case id, PDQ) of up to ``limit`` items with a PDQ hash and an id above
        ``after``, in id order (``services.case_media``). The limit also makes PostgreSQL's
        generic plan walk the primary key instead of scanning the table."""
        rows = self._raw.all(
            _PDQ_ITEMS_AFTER_OPEN if open_only else _PDQ_ITEMS_AFTER,
            {"after": after, "limit": limit},
        )
        return [(int(i), int(case_id), str(pdq)) for i, case_id, pdq in rows]

    def open_items_by_id(self, item_ids: list[int]) -> list[tuple[int, int, str]]:
        """(item id, case id, PDQ) of those of ``item_ids`` that are open and have a PDQ."""
        if not item_ids:
            return []
        raw = self._raw
        rows = raw.all(
            _OPEN_ITEMS_BY_ID_SQLITE if raw.sqlite else _OPEN_ITEMS_BY_ID_PG,
            {"ids": json.dumps(item_ids) if raw.sqlite else item_ids},
        )
        return [(int(i), int(case_id), str(pdq)) for i, case_id, pdq in rows]

    def add_item(self, **values: Any) -> None:
        raw = self._raw
        if self._prefetched:
            self._written.update(
                [
                    ("case", values["case_id"]),
                    ("content", values["content_id"]),
                    ("content", values["root_content_id"]),
                    *((name, values[name]) for name in ("md5", "sha256") if values.get(name)),
                ]
            )
        values["open"] = raw.flag(values["open"])
        values["added_at"] = raw.dt(values["added_at"])
        raw.write(_INSERT_ITEM, values)

    def items(self, case_id: int) -> list[CaseItem]:
        rows = self._s.scalars(
            select(CaseItemRow).where(CaseItemRow.case_id == case_id).order_by(CaseItemRow.id)
        )
        return [row_value(CaseItem, r) for r in rows]

    def prior_removals(self, account_id: str, *, excluding_case: int | None = None) -> int:
        """How many confirmed cases hold content of this account (other than ``excluding``)."""
        return int(
            self._raw.value(
                "SELECT count(DISTINCT i.case_id) FROM case_items i JOIN cases c "
                "ON c.id = i.case_id WHERE i.account_id = :account AND c.status = :confirmed "
                "AND i.case_id <> :excluding",
                {
                    "account": account_id,
                    "confirmed": CaseStatus.confirmed.value,
                    "excluding": excluding_case if excluding_case is not None else -1,
                },
            )
            or 0
        )

    def latest_decided_case_for(self, content_id: str) -> int | None:
        """The newest confirmed or closed case that holds ``content_id`` (an appeal's)."""
        found = self._raw.value(
            "SELECT max(i.case_id) FROM case_items i JOIN cases c ON c.id = i.case_id "
            "WHERE i.content_id = :content_id AND c.status IN ('confirmed', 'closed')",
            {"content_id": content_id},
        )
        return int(found) if found is not None else None

    def claims_held(self, now: datetime) -> dict[str, int]:
        """How many cases each reviewer holds an unexpired claim on."""
        rows = self._raw.all(
            "SELECT claim_name, count(*) FROM case_reviews WHERE claim_until > :now "
            "GROUP BY claim_name",
            {"now": self._raw.dt(now)},
        )
        return {str(name): int(n) for name, n in rows}

    def case_content_ids(self, case_id: int) -> list[str]:
        """The content ids of the case's items, in the order they joined."""
        rows = self._raw.all(
            "SELECT content_id FROM case_items WHERE case_id = :case_id ORDER BY id",
            {"case_id": case_id},
        )
        return [str(r[0]) for r in rows]

    def minor_safety_among(self, case_ids: set[int]) -> set[int]:
        """Those of ``case_ids`` that are minor-safety cases (for redacting reads that are
        not about one case, like the audit log's)."""
        if not case_ids:
            return set()
        found = self._s.scalars(
            select(CaseRow.id).where(CaseRow.id.in_(sorted(case_ids)), CaseRow.minor_safety)
        )
        return {int(i) for i in found}

    def minor_safety_content(self, content_ids: set[str]) -> set[str]:
        """Those of ``content_ids`` that are an item of a minor-safety case, open or not."""
        if not content_ids:
            return set()
        found = self._s.scalars(
            select(CaseItemRow.content_id)
            .join(CaseRow, CaseRow.id == CaseItemRow.case_id)
            .where(CaseItemRow.content_id.in_(sorted(content_ids)), CaseRow.minor_safety)
        )
        return set(found)

    def case_ids_for_content(self, content_id: str) -> list[int]:
        rows = self._raw.all(
            "SELECT case_id FROM case_items WHERE content_id = :content_id AND open",
            {"content_id": content_id},
        )
        return [int(r[0]) for r in rows]


_DECISION_COLUMNS = (
    "case_id",
    "outcome",
    "category",
    "reason",
    "statement",
    "decided_by",
    "automated",
    "grounds",
    "decided_at",
    "classification",
)
_INSERT_DECISION = (
    f"INSERT INTO decisions ({', '.join(_DECISION_COLUMNS)}) "  # noqa: S608 - constant columns
    f"VALUES ({', '.join(':' + c for c in _DECISION_COLUMNS)})"
)
_SELECT_DECISIONS = (
    f"SELECT {', '.join(_DECISION_COLUMNS[1:])} FROM decisions "  # noqa: S608 - constant columns
    "WHERE case_id = :case_id ORDER BY id"
)
_OUTCOMES = {m.value: m for m in Outcome}
_CATEGORIES = {m.value: m for m in Category}


class DecisionRepository(RawRepository):
    """A case's decisions. Plain SQL: an automatic confirmation is written by intake, on the
    writer's unit of work, which makes no ORM session for intake."""

    def add(self, case_id: int, decision: Decision) -> None:
        raw = self._raw
        raw.write(
            _INSERT_DECISION,
            {
                "case_id": case_id,
                "outcome": str(decision.outcome),
                "category": str(decision.category),
                "reason": decision.reason,
                "statement": decision.statement,
                "decided_by": decision.decided_by,
                "automated": raw.flag(decision.automated),
                "grounds": raw.json(list(decision.grounds)),
                "decided_at": raw.dt(decision.decided_at),
                "classification": decision.classification,
            },
        )
        if decision.outcome in (Outcome.violation, Outcome.no_violation):
            CaseClockRepository(self._uow).mark(
                case_id, "decision_s", decision.decided_at, category=str(decision.category)
            )

    def for_case(self, case_id: int) -> list[Decision]:
        """The case's decisions, oldest first."""
        raw = self._raw
        return [
            Decision(
                outcome=_OUTCOMES[row[0]],
                category=_CATEGORIES[row[1]],
                reason=row[2],
                statement=row[3],
                decided_by=row[4],
                automated=bool(row[5]),
                grounds=tuple(raw.read_json(row[6]) or ()),
                decided_at=_aware(raw.read_dt(row[7])),
                classification=row[8],
            )
            for row in raw.all(_SELECT_DECISIONS, {"case_id": case_id})
        ]


def _decision_json(decision: Decision) -> dict[str, Any]:
    return {
        "outcome": str(decision.outcome),
        "category": str(decision.category),
        "reason": decision.reason,
        "statement": decision.statement,
        "decided_by": decision.decided_by,
        "decided_at": decision.decided_at.isoformat(),
        "automated": decision.automated,
        "grounds": list(decision.grounds),
        "classification": decision.classification,
    }


def _decision_from(data: dict[str, Any]) -> Decision:
    return Decision(
        outcome=_OUTCOMES[data["outcome"]],
        category=_CATEGORIES[data["category"]],
        reason=data["reason"],
        statement=data["statement"],
        decided_by=data["decided_by"],
        decided_at=datetime.fromisoformat(data["decided_at"]),
        automated=bool(data["automated"]),
        grounds=tuple(data.get("grounds") or ()),
        classification=data.get("classification"),
    )


def _aware(value: datetime | None) -> datetime:
    assert value is not None
    return value


class CaseMessageRepository(RawRepository):
    def add(
        self,
        *,
        case_id: int,
        report_id: int | None,
        author: str,
        kind: str,
        body: str,
        at: datetime,
    ) -> int:
        raw = self._raw
        return int(
            raw.value(
                "INSERT INTO case_messages (case_id, report_id, author, kind, body, at) "
                "VALUES (:case_id, :report_id, :author, :kind, :body, :at) RETURNING id",
                {
                    "case_id": case_id,
                    "report_id": report_id,
                    "author": author,
                    "kind": kind,
                    "body": body,
                    "at": raw.dt(at),
                },
            )
        )

    def for_case(self, case_id: int) -> list[CaseMessage]:
        """Every message of the case, oldest first (staff's view)."""
        rows = self._s.scalars(
            select(CaseMessageRow)
            .where(CaseMessageRow.case_id == case_id)
            .order_by(CaseMessageRow.id)
        )
        return [row_value(CaseMessage, r) for r in rows]

    def for_report(self, case_id: int, report_id: int) -> list[CaseMessage]:
        """One reporter's thread: what they sent, and what staff wrote to the case's
        reporters (``report_id`` None) or to them; never an uploader's appeal."""
        rows = self._s.scalars(
            select(CaseMessageRow)
            .where(
                CaseMessageRow.case_id == case_id,
                or_(
                    CaseMessageRow.report_id == report_id,
                    (CaseMessageRow.report_id.is_(None)) & (CaseMessageRow.author == "staff"),
                ),
            )
            .order_by(CaseMessageRow.id)
        )
        return [row_value(CaseMessage, r) for r in rows]


class ContentStatsRepository(RawRepository):
    def latest(self, content_id: str) -> ExposureReading | None:
        """The last reading and the one before; None if none. Plain SQL: intake reads it
        when a case opens about a registered item, and the writer's unit of work makes no ORM
        session for intake."""
        raw = self._raw
        row = raw.one(
            "SELECT views, reposts, at, previous_views, previous_reposts, previous_at "
            "FROM content_stats WHERE content_id = :content_id",
            {"content_id": content_id},
        )
        if row is None:
            return None
        at = raw.read_dt(row[2])
        assert at is not None
        return ExposureReading(int(row[0]), int(row[1]), at, row[3], row[4], raw.read_dt(row[5]))

    def record(self, content_id: str, *, views: int, reposts: int, at: datetime) -> ExposureReading:
        """Store a reading; returns it with the one before."""
        row = self._s.get(ContentStatsRow, content_id, with_for_update=True)
        if row is None:
            row = ContentStatsRow(content_id=content_id, views=views, reposts=reposts, at=at)
            self._s.add(row)
        else:
            row.previous_views, row.previous_reposts, row.previous_at = (
                row.views,
                row.reposts,
                row.at,
            )
            row.views, row.reposts, row.at = views, reposts, at
        self._s.flush()
        return ExposureReading(
            row.views,
            row.reposts,
            row.at,
            row.previous_views,
            row.previous_reposts,
            row.previous_at,
        )


class InstanceSecretRepository:
    def __init__(self, session: Session) -> None:
        self._s = session

    def get(self, name: str) -> str | None:
        return self._s.scalar(select(InstanceSecretRow.value).where(InstanceSecretRow.name == name))


class RateCounterRepository(RawRepository):
    """Counts for ``services.ratelimits``: one row per bucket and window."""

    def counts(self, bucket: str, windows: tuple[int, int]) -> dict[int, int]:
        rows = self._raw.all(
            "SELECT window_start, count FROM rate_counters "
            "WHERE bucket = :bucket AND window_start IN (:a, :b)",
            {"bucket": bucket, "a": windows[0], "b": windows[1]},
        )
        return {int(w): int(n) for w, n in rows}

    def hit(self, bucket: str, window: int) -> None:
        self._raw.write(
            "INSERT INTO rate_counters (bucket, window_start, count) "
            "VALUES (:bucket, :window, 1) ON CONFLICT (bucket, window_start) "
            "DO UPDATE SET count = rate_counters.count + 1",
            {"bucket": bucket, "window": window},
        )

    def forget(self, bucket: str) -> None:
        """Drop every count of one bucket."""
        self._raw.write("DELETE FROM rate_counters WHERE bucket = :bucket", {"bucket": bucket})

    def forget_bucket_prefix(self, name: str) -> None:
        """Drop every count of limit ``name``."""
        self._raw.write(
            "DELETE FROM rate_counters WHERE bucket LIKE :prefix", {"prefix": name + ":%"}
        )

    def forget_before(self, name: str, window: int) -> None:
        """Drop the windows of limit ``name`` that started before ``window``."""
        self._raw.write(
            "DELETE FROM rate_counters WHERE bucket LIKE :prefix AND window_start < :window",
            {"prefix": name + ":%", "window": window},
        )
