"""Actions for the platform, and the registry queries that find a violation's takedown set.

Actions are written in plain SQL, many at a time (a violation of 100,000 reposts writes as
many rows in the decision's transaction), and inserted with ``ON CONFLICT (action_id) DO
NOTHING``: an action planned twice exists once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from takedown.cases.enforcement import PlannedAction, SetItem
from takedown.matching.pdq_index import EXACT_UP_TO, chunk_probes
from takedown.store.clock_repos import CaseClockRepository, delivered_sql
from takedown.store.rawsql import RawRepository, RawSql

CHUNK = 500  # ids per IN list

_ACTION_COLUMNS = (
    "action_id",
    "case_id",
    "type",
    "content_id",
    "account_id",
    "category",
    "reason",
    "statement",
    "state",
    "attempts",
    "next_attempt_at",
    "created_at",
)
_INSERT_ACTION = (
    f"INSERT INTO actions ({', '.join(_ACTION_COLUMNS)}) "  # noqa: S608 - constant columns
    f"VALUES ({', '.join(':' + c for c in _ACTION_COLUMNS)}) "
    "ON CONFLICT (action_id) DO NOTHING"
)
_READ = (
    "id, action_id, case_id, type, content_id, account_id, category, reason, statement, "
    "state, attempts, next_attempt_at, last_error, created_at, delivered_at"
)


@dataclass(frozen=True)
class ActionRecord:
    id: int
    action_id: str
    case_id: int
    type: str
    content_id: str | None
    account_id: str | None
    category: str
    reason: str
    statement: str
    state: str  # pending | delivered | failed
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


def _marks(prefix: str, values: list[Any]) -> tuple[str, dict[str, Any]]:
    names = {f"{prefix}{n}": v for n, v in enumerate(values)}
    return ", ".join(":" + n for n in names), names


def _in_chunks(values: list[Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """``values`` as IN-list placeholders and their parameters, ``CHUNK`` at a time."""
    for start in range(0, len(values), CHUNK):
        yield _marks("v", values[start : start + CHUNK])


def _all_in(raw: RawSql, sql: str, values: list[Any]) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` (with ``{marks}`` where the IN list goes) for all of ``values``."""
    rows: list[tuple[Any, ...]] = []
    for marks, names in _in_chunks(values):
        rows += raw.all(sql.format(marks=marks), names)
    return rows


# Actions and statements of reasons are queues of pending work claimed with a lease; these are
# their statements, one table or the other (``_QUEUES``: table → what its rows are read by).
_QUEUES = {"actions", "statements_of_reasons"}


def _claim_due(
    raw: RawSql, table: str, select: str, alias: str, *, now: datetime, until: datetime, limit: int
) -> list[tuple[Any, ...]]:
    """Up to ``limit`` pending rows of ``table`` due at ``now`` and held by no one, in the
    order they are due, held until ``until``; ``select`` reads them (``alias`` its rows'
    name), the first column being the row's id."""
    assert table in _QUEUES
    p = f"{alias}." if alias else ""
    rows = raw.all(
        f"SELECT {select} WHERE {p}state = 'pending' AND {p}next_attempt_at <= :now "
        f"AND ({p}claimed_until IS NULL OR {p}claimed_until <= :now) "
        f"ORDER BY {p}next_attempt_at, {p}id LIMIT :limit",
        {"now": raw.dt(now), "limit": limit},
    )
    if rows:
        marks, ids = _marks("i", [int(r[0]) for r in rows])
        raw.write(
            f"UPDATE {table} SET claimed_until = :until WHERE id IN ({marks})",  # noqa: S608
            {"until": raw.dt(until), **ids},
        )
    return rows


def _attempt_failed(
    raw: RawSql, table: str, ids: list[int], *, error: str, retry_at: datetime, limit: int
) -> None:
    """One more failed attempt of each of ``ids``: due again at ``retry_at``, or ``failed``
    once it has failed ``limit`` times."""
    assert table in _QUEUES
    for marks, names in _in_chunks(ids):
        raw.write(
            f"UPDATE {table} SET attempts = attempts + 1, last_error = :error, "  # noqa: S608
            "claimed_until = NULL, next_attempt_at = :retry_at, "
            "state = CASE WHEN attempts + 1 >= :limit THEN 'failed' ELSE 'pending' END "
            f"WHERE id IN ({marks}) AND state = 'pending'",
            {"error": error[:2000], "retry_at": raw.dt(retry_at), "limit": limit, **names},
        )


class ActionRepository(RawRepository):
    def add(
        self,
        planned: list[PlannedAction],
        *,
        case_id: int,
        category: str,
        reason: str,
        statement: str,
        at: datetime,
        statements: dict[str, str] | None = None,
    ) -> None:
        """``statement``: what every action says, but those ``statements`` names (action id
        → its own statement of reasons)."""
        raw = self._raw
        when = raw.dt(at)
        own = statements or {}
        rows = [
            {
                "action_id": p.action_id,
                "case_id": case_id,
                "type": str(p.type),
                "content_id": p.content_id,
                "account_id": p.account_id,
                "category": category,
                "reason": reason,
                "statement": own.get(p.action_id, statement),
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": when,
                "created_at": when,
            }
            for p in planned
        ]
        if rows:
            raw.write_many(_INSERT_ACTION, rows)
        if any(p.type == "remove" for p in planned):
            CaseClockRepository(self._uow).removals_planned(case_id)

    def _records(self, rows: list[tuple[Any, ...]]) -> list[ActionRecord]:
        raw = self._raw
        out = []
        for r in rows:
            due, created = raw.read_dt(r[11]), raw.read_dt(r[13])
            assert due is not None and created is not None
            out.append(
                ActionRecord(
                    id=int(r[0]),
                    action_id=str(r[1]),
                    case_id=int(r[2]),
                    type=str(r[3]),
                    content_id=r[4],
                    account_id=r[5],
                    category=str(r[6]),
                    reason=str(r[7]),
                    statement=str(r[8]),
                    state=str(r[9]),
                    attempts=int(r[10]),
                    next_attempt_at=due,
                    last_error=r[12],
                    created_at=created,
                    delivered_at=raw.read_dt(r[14]),
                )
            )
        return out

    def claim_due(self, *, now: datetime, until: datetime, limit: int) -> list[ActionRecord]:
        """Up to ``limit`` pending actions due now and not held by another deliverer, in
        delivery order, held until ``until`` (a deliverer that dies lets them go then)."""
        rows = _claim_due(
            self._raw, "actions", f"{_READ} FROM actions", "", now=now, until=until, limit=limit
        )
        return self._records(rows)

    def delivered(self, ids: list[int], *, at: datetime) -> None:
        """The platform took these pending actions (a 2xx from its webhook); the removals
        count on their cases' clocks (``clock_repos``)."""
        raw = self._raw
        for marks, names in _in_chunks(ids):
            where = f"id IN ({marks}) AND state = 'pending'"
            for sql in delivered_sql(raw, where, attempt=True):
                raw.write(sql, {"at": raw.dt(at), **names})

    def attempt_failed(
        self, ids: list[int], *, error: str, retry_at: datetime, give_up_after: int
    ) -> None:
        """One more failed attempt: retried at ``retry_at``, or ``failed`` once it has
        failed ``give_up_after`` times."""
        _attempt_failed(
            self._raw, "actions", ids, error=error, retry_at=retry_at, limit=give_up_after
        )

    def after(self, cursor: int, *, limit: int, pending_only: bool = True) -> list[ActionRecord]:
        """Actions in delivery order after ``cursor`` (an action's ``id``), for the pull API."""
        state = "AND state = 'pending' " if pending_only else ""
        rows = self._raw.all(
            f"SELECT {_READ} FROM actions WHERE id > :cursor {state}"  # noqa: S608 - constant
            "ORDER BY id LIMIT :limit",
            {"cursor": cursor, "limit": limit},
        )
        return self._records(rows)

    def ack(self, action_id: str, *, at: datetime) -> ActionRecord | None:
        """Mark an action delivered (the pull API's acknowledgment); None if unknown."""
        raw = self._raw
        found = self.by_action_id(action_id)
        if found is None:
            return None
        if found.state != "delivered":
            for sql in delivered_sql(raw, "id = :id AND state <> 'delivered'", attempt=False):
                raw.write(sql, {"at": raw.dt(at), "id": found.id})
        return self.by_action_id(action_id)

    def by_action_id(self, action_id: str) -> ActionRecord | None:
        rows = self._raw.all(
            f"SELECT {_READ} FROM actions WHERE action_id = :a",  # noqa: S608 - constant
            {"a": action_id},
        )
        found = self._records(rows)
        return found[0] if found else None

    def failed(self, limit: int = 200) -> list[ActionRecord]:
        rows = self._raw.all(
            f"SELECT {_READ} FROM actions WHERE state = 'failed' ORDER BY id LIMIT :limit",  # noqa: S608
            {"limit": limit},
        )
        return self._records(rows)

    def retry(self, action_id: str, *, at: datetime) -> bool:
        """A failed action is pending again, due now, its attempts counted from zero."""
        raw = self._raw
        found = self.by_action_id(action_id)
        if found is None or found.state != "failed":
            return False
        raw.write(
            "UPDATE actions SET state = 'pending', attempts = 0, next_attempt_at = :at, "
            "claimed_until = NULL WHERE id = :id",
            {"at": raw.dt(at), "id": found.id},
        )
        return True

    def for_case(self, case_id: int) -> list[ActionRecord]:
        rows = self._raw.all(
            f"SELECT {_READ} FROM actions WHERE case_id = :case_id ORDER BY id",  # noqa: S608
            {"case_id": case_id},
        )
        return self._records(rows)

    def counts(self) -> dict[str, int]:
        rows = self._raw.all("SELECT state, count(*) FROM actions GROUP BY state")
        return {str(s): int(n) for s, n in rows}


class RegistryRepository(RawRepository):
    """The content registry, read to find a takedown set."""

    def items(self, content_ids: list[str]) -> list[SetItem]:
        return self._set_items("content_id", content_ids)

    def children(self, parents: list[str]) -> list[SetItem]:
        """The items whose parent is one of ``parents``."""
        return self._set_items("parent_content_id", parents)

    def _set_items(self, column: str, values: list[str]) -> list[SetItem]:
        raw = self._raw
        rows = _all_in(
            raw,
            "SELECT content_id, account_id, parent_content_id, media_kind, first_seen_at "  # noqa: S608
            f"FROM content WHERE {column} IN ({{marks}})",
            values,
        )
        return [SetItem(str(c), a or None, p, k, raw.read_dt(f)) for c, a, p, k, f in rows]

    def with_digest(self, column: str, values: list[str]) -> list[str]:
        """Content ids whose ``column`` (``md5`` or ``sha256``) is one of ``values``."""
        if column not in ("md5", "sha256"):
            raise ValueError(column)
        sql = f"SELECT content_id FROM content WHERE {column} IN ({{marks}})"  # noqa: S608
        return [str(r[0]) for r in _all_in(self._raw, sql, values)]

    def hashes(self, content_ids: list[str]) -> list[dict[str, str]]:
        """The media hashes the registry holds for ``content_ids`` (``pdq``, ``md5``,
        ``sha256``, and ``pdq_variants``, comma-separated; an item without any is left
        out)."""
        names = ("pdq", "md5", "sha256", "pdq_variants")
        rows = _all_in(
            self._raw,
            "SELECT pdq, md5, sha256, pdq_variants FROM content WHERE content_id IN ({marks}) "
            "AND (pdq IS NOT NULL OR md5 IS NOT NULL OR sha256 IS NOT NULL)",
            content_ids,
        )
        return [{k: str(v) for k, v in zip(names, row, strict=True) if v} for row in rows]

    def set_frames(self, content_id: str, pdqs: list[str]) -> None:
        """A scanned video's frame hashes, replacing any it had."""
        raw = self._raw
        raw.write("DELETE FROM content_frames WHERE content_id = :c", {"c": content_id})
        if pdqs:
            raw.write_many(
                "INSERT INTO content_frames (content_id, pdq) VALUES (:c, :pdq)",
                [{"c": content_id, "pdq": p} for p in pdqs],
            )

    def frames(self, content_ids: list[str]) -> dict[str, list[str]]:
        """Content id → its frames' PDQ hashes, for those of ``content_ids`` that have any."""
        out: dict[str, list[str]] = {}
        for c, pdq in _all_in(
            self._raw,
            "SELECT content_id, pdq FROM content_frames WHERE content_id IN ({marks}) ORDER BY id",
            content_ids,
        ):
            out.setdefault(str(c), []).append(str(pdq))
        return out

    def frames_by_id(self, ids: list[int]) -> list[tuple[str, str]]:
        """(content id, PDQ) of the frames ``ids``."""
        sql = "SELECT content_id, pdq FROM content_frames WHERE id IN ({marks})"
        return [(str(c), str(p)) for c, p in _all_in(self._raw, sql, ids)]

    def frames_after(self, after: int, *, limit: int) -> list[tuple[int, str, str]]:
        """(frame id, content id, PDQ) of frames with an id above ``after``."""
        rows = self._raw.all(
            "SELECT id, content_id, pdq FROM content_frames WHERE id > :after "
            "ORDER BY id LIMIT :limit",
            {"after": after, "limit": limit},
        )
        return [(int(i), str(c), str(p)) for i, c, p in rows]

    def of_account(self, account_id: str, *, limit: int) -> list[str]:
        """Content ids the account has in the registry, oldest first."""
        rows = self._raw.all(
            "SELECT content_id FROM content WHERE account_id = :account ORDER BY id LIMIT :limit",
            {"account": account_id, "limit": limit},
        )
        return [str(r[0]) for r in rows]

    def repeat_offenders(self, *, minimum: int, limit: int) -> list[tuple[str, int, int]]:
        """(account, cases with a suspension or strike, of them suspensions) for accounts
        acted on in at least ``minimum`` cases, most first."""
        rows = self._raw.all(
            "SELECT account_id, count(DISTINCT case_id), "
            "count(DISTINCT CASE WHEN type = 'suspend_account' THEN case_id END) FROM actions "
            "WHERE account_id IS NOT NULL AND type IN ('suspend_account', 'strike') "
            "GROUP BY account_id HAVING count(DISTINCT case_id) >= :minimum "
            "ORDER BY count(DISTINCT case_id) DESC, account_id LIMIT :limit",
            {"minimum": minimum, "limit": limit},
        )
        return [(str(a), int(n), int(s)) for a, n, s in rows]

    def pdq_after(self, after: int, *, limit: int) -> list[tuple[int, str]]:
        """(registry id, PDQ) of items with a PDQ hash and an id above ``after``."""
        rows = self._raw.all(
            "SELECT id, pdq FROM content WHERE id > :after AND pdq IS NOT NULL "
            "ORDER BY id LIMIT :limit",
            {"after": after, "limit": limit},
        )
        return [(int(i), str(p)) for i, p in rows]

    def near(self, pdqs: list[str], threshold: int) -> list[str]:
        """Content ids of the items whose PDQ hash is within ``threshold`` bits of one of
        ``pdqs``, as this transaction sees the registry (PostgreSQL only: the chunk tables of
        migration 0017)."""
        return self._near("content", "content_pdq_chunks", pdqs, threshold)

    def frames_near(self, pdqs: list[str], threshold: int) -> list[str]:
        """Content ids of the videos with a frame within ``threshold`` bits of one of
        ``pdqs`` (PostgreSQL only, as ``near``)."""
        return self._near("content_frames", "content_frame_chunks", pdqs, threshold)

    def _near(self, table: str, chunks: str, pdqs: list[str], threshold: int) -> list[str]:
        if self._raw.sqlite:
            raise NotImplementedError("the registry's chunk tables are PostgreSQL's")
        queries = sorted({p.lower() for p in pdqs})
        if not queries:
            return []
        params: dict[str, Any] = {"queries": queries, "threshold": threshold}
        distance = (
            "EXISTS (SELECT 1 FROM unnest(CAST(:queries AS text[])) AS q(pdq) "
            "WHERE bit_count(('x' || h.pdq)::bit(256) # ('x' || q.pdq)::bit(256)) <= :threshold)"
        )
        if threshold <= EXACT_UP_TO:
            probes = chunk_probes(queries)
            params |= {f"k{c}": values for c, values in enumerate(probes)}
            candidates = " UNION ALL ".join(
                f"SELECT id FROM {chunks} WHERE k{c} = ANY(CAST(:k{c} AS int[]))"  # noqa: S608
                for c in range(len(probes))
            )
            where = f"h.id IN ({candidates})"
        else:  # beyond the chunks' guarantee: every hash is compared
            where = "h.pdq ~ '^[0-9a-fA-F]{64}$'"
        sql = f"SELECT DISTINCT h.content_id FROM {table} AS h WHERE {where} AND {distance}"  # noqa: S608 - constant names
        return sorted(str(r[0]) for r in self._raw.all(sql, params))

    def content_ids_by_id(self, ids: list[int]) -> dict[int, tuple[str, str | None]]:
        """Registry id → (content id, PDQ) for ``ids``."""
        sql = "SELECT id, content_id, pdq FROM content WHERE id IN ({marks})"
        return {int(i): (str(c), p) for i, c, p in _all_in(self._raw, sql, ids)}


_STATEMENT_COLUMNS = (
    "puid", "case_id", "restriction", "template_id", "created_at", "state", "attempts",
    "next_attempt_at",
)  # fmt: skip
_INSERT_STATEMENT = (
    f"INSERT INTO statements_of_reasons ({', '.join(_STATEMENT_COLUMNS)}) "  # noqa: S608 - constant
    f"VALUES ({', '.join(':' + c for c in _STATEMENT_COLUMNS)}) ON CONFLICT (puid) DO NOTHING"
)


@dataclass(frozen=True)
class StoredStatement:
    id: int
    puid: str
    case_id: int
    restriction: str
    fields: dict[str, Any]
    created_at: datetime
    state: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None


_STATEMENT_READ = (
    "s.id, s.puid, s.case_id, s.restriction, t.fields, s.created_at, s.state, s.attempts, "
    "s.last_error, s.sent_at FROM statements_of_reasons s "
    "JOIN statement_templates t ON t.id = s.template_id"
)


class StatementRepository(RawRepository):
    """Statements of reasons (``cases.reasons``) and their submission to the Transparency
    Database (``services.transparency_db``), claimed with a lease like actions."""

    def add_template(self, fields: dict[str, Any]) -> int:
        """Store fields that statements share (all of theirs but ``puid``); gives their id."""
        raw = self._raw
        values = {"fields": raw.json({k: v for k, v in fields.items() if k != "puid"})}
        return raw.insert(
            "statement_templates",
            "INSERT INTO statement_templates (fields) VALUES (:fields) RETURNING id",
            "INSERT INTO statement_templates (id, fields) VALUES (:id, :fields)",
            values,
        )

    def add(self, case_id: int, statements: list[tuple[str, str, int]], *, at: datetime) -> None:
        """``statements``: (puid, restriction, template id). A puid already stored is left as
        it was (a decision planned again states nothing twice)."""
        raw = self._raw
        when = raw.dt(at)
        rows = [
            {
                "puid": puid,
                "case_id": case_id,
                "restriction": restriction,
                "template_id": template,
                "created_at": when,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": when,
            }
            for puid, restriction, template in statements
        ]
        if rows:
            raw.write_many(_INSERT_STATEMENT, rows)

    def _records(self, rows: list[tuple[Any, ...]]) -> list[StoredStatement]:
        raw = self._raw
        out = []
        for r in rows:
            fields = {**(r[4] if isinstance(r[4], dict) else json.loads(r[4])), "puid": str(r[1])}
            created = raw.read_dt(r[5])
            assert created is not None
            out.append(
                StoredStatement(
                    int(r[0]),
                    str(r[1]),
                    int(r[2]),
                    str(r[3]),
                    fields,
                    created,
                    str(r[6]),
                    int(r[7]),
                    r[8],
                    raw.read_dt(r[9]),
                )
            )
        return out

    def claim_due(self, *, now: datetime, until: datetime, limit: int) -> list[StoredStatement]:
        """Up to ``limit`` pending statements due now and held by no other process, oldest
        first, held until ``until``."""
        rows = _claim_due(
            self._raw, "statements_of_reasons", _STATEMENT_READ, "s", now=now, until=until,
            limit=limit,
        )  # fmt: skip
        return self._records(rows)

    def sent(self, ids: list[int], *, at: datetime) -> None:
        raw = self._raw
        for marks, names in _in_chunks(ids):
            raw.write(
                "UPDATE statements_of_reasons SET state = 'sent', sent_at = :at, "  # noqa: S608
                f"claimed_until = NULL, attempts = attempts + 1 WHERE id IN ({marks})",
                {"at": raw.dt(at), **names},
            )

    def attempt_failed(
        self, ids: list[int], *, error: str, retry_at: datetime, give_up_after: int
    ) -> None:
        """One more failed attempt: retried at ``retry_at``, or ``failed`` once it has failed
        ``give_up_after`` times (``give_up_after`` 1: at once, for a refusal no retry mends)."""
        _attempt_failed(
            self._raw, "statements_of_reasons", ids, error=error, retry_at=retry_at,
            limit=give_up_after,
        )  # fmt: skip

    def released(self, ids: list[int]) -> None:
        """Claimed but not sent (a batch refused for another statement's sake): due again."""
        raw = self._raw
        for marks, names in _in_chunks(ids):
            raw.write(
                f"UPDATE statements_of_reasons SET claimed_until = NULL WHERE id IN ({marks})",  # noqa: S608
                names,
            )

    def for_case(self, case_id: int) -> list[StoredStatement]:
        rows = self._raw.all(
            f"SELECT {_STATEMENT_READ} WHERE s.case_id = :c ORDER BY s.id",
            {"c": case_id},
        )
        return self._records(rows)

    def between(
        self, start: datetime, end: datetime, *, after_id: int, limit: int
    ) -> list[StoredStatement]:
        """Statements made in ``[start, end)``, by id after ``after_id`` (an export's pages)."""
        raw = self._raw
        rows = raw.all(
            f"SELECT {_STATEMENT_READ} WHERE s.created_at >= :start "
            "AND s.created_at < :end AND s.id > :after ORDER BY s.id LIMIT :limit",
            {"start": raw.dt(start), "end": raw.dt(end), "after": after_id, "limit": limit},
        )
        return self._records(rows)

    def counts(self) -> dict[str, int]:
        rows = self._raw.all("SELECT state, count(*) FROM statements_of_reasons GROUP BY state")
        return {str(s): int(n) for s, n in rows}
