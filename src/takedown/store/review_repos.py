"""The review queue, the lead's lists, media reveals and quality samples.

The queue reads the partial index ``ix_cases_due`` (the cases waiting for a person, in
deadline order, with the columns its filters and counts need), so a page costs the same with
a hundred open cases or a hundred thousand: pages are keyset pages (after the last row's
deadline, priority and id), never offsets. The index's condition is repeated word for word in
each statement, which is what lets SQLite use a partial index."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, func, select

from takedown.cases import CaseStatus, Category, Priority
from takedown.cases.model import case_id_of
from takedown.cases.records import CaseSearch, QaSample, QueueEntry, QueueFilter
from takedown.store.models import (
    HELD_STATUSES,
    QUEUE_STATUSES,
    MediaRevealRow,
    QaSampleRow,
    status_among,
)
from takedown.store.rawsql import RawRepository

_STATUSES = {m.value: m for m in CaseStatus}
_PRIORITIES = {m.value: m for m in Priority}
_CATEGORIES = {m.value: m for m in Category}
_QUEUE_COLUMNS = "c.id, c.status, c.priority, c.category, c.respond_by, c.remove_by, c.minor_safety"
# The partial indexes' conditions (``models``), on the alias ``c``.
_QUEUE_C = status_among(QUEUE_STATUSES, "c")
_HELD_C = status_among(HELD_STATUSES, "c")

Cursor = tuple[datetime, str, int]
"""Where a queue page ends: the last row's deadline, priority and id."""


def _escalated(sqlite: bool) -> str:
    """A case a reviewer escalated, or one a report with a police case number or from the
    person shown brought."""
    if sqlite:
        facts = (
            "json_extract(c.facts, '$.police_case_number') = 1 OR EXISTS (SELECT 1 FROM "
            "json_each(c.facts, '$.roles') WHERE value = 'depicted_person')"
        )
    else:
        facts = (
            "(c.facts->>'police_case_number')::boolean "
            "OR jsonb_exists(c.facts->'roles', 'depicted_person')"
        )
    return f"({_BY_REVIEWER} OR {facts})"


_BY_REVIEWER = (
    "EXISTS (SELECT 1 FROM case_reviews r WHERE r.case_id = c.id AND r.escalated_to IS NOT NULL)"
)


class ReviewRepository(RawRepository):
    def _where(
        self,
        *,
        minor_safety: bool,
        filters: QueueFilter,
        now: datetime,
        params: dict[str, Any],
    ) -> list[str]:
        raw = self._raw
        where = [_QUEUE_C]
        if not minor_safety:
            where.append("c.minor_safety = :no")
            params["no"] = raw.flag(False)
        if filters.category is not None:
            where.append("c.category = :category")
            params["category"] = str(filters.category)
        if filters.priority is not None:
            where.append("c.priority = :priority")
            params["priority"] = str(filters.priority)
        if filters.status is not None:
            where.append("c.status = :status")
            params["status"] = str(filters.status)
        if filters.overdue:
            where.append("c.respond_by <= :now")
            params["now"] = raw.dt(now)
        if filters.escalated:
            where.append(_escalated(raw.sqlite))
        return where

    def queue(
        self,
        *,
        minor_safety: bool,
        filters: QueueFilter,
        now: datetime,
        after: Cursor | None,
        limit: int,
    ) -> list[QueueEntry]:
        """One page of the queue: deadline first, then priority. ``minor_safety`` False
        leaves out the cases about minors (a reviewer without the child-safety permission
        never receives them)."""
        raw = self._raw
        params: dict[str, Any] = {"limit": limit}
        where = self._where(minor_safety=minor_safety, filters=filters, now=now, params=params)
        if after is not None:
            where.append("(c.respond_by, c.priority, c.id) > (:a_due, :a_priority, :a_id)")
            params.update(a_due=raw.dt(after[0]), a_priority=after[1], a_id=after[2])
        rows = raw.all(
            f"SELECT {_QUEUE_COLUMNS} FROM cases c WHERE {' AND '.join(where)} "  # noqa: S608 - built from constants
            "ORDER BY c.respond_by, c.priority, c.id LIMIT :limit",
            params,
        )
        return self._entries(rows, now)

    def search(
        self,
        search: CaseSearch,
        *,
        minor_safety: bool,
        now: datetime,
        before_id: int | None,
        limit: int,
    ) -> list[QueueEntry]:
        """A page of every case, open or closed, newest first (keyset pages by id), that
        ``search`` finds; ``minor_safety`` False leaves out the cases about minors. The text
        is looked up by each key's own index (``_found_by``), never by scanning cases."""
        raw = self._raw
        params: dict[str, Any] = {"limit": limit}
        where: list[str] = []
        if search.text:
            where.append(f"c.id IN ({_found_by(search.text, params, sqlite=raw.sqlite)})")
        if not minor_safety:
            where.append("c.minor_safety = :no")
            params["no"] = raw.flag(False)
        for column, value in (
            ("category", search.category),
            ("priority", search.priority),
            ("status", search.status),
        ):
            if value is not None:
                where.append(f"c.{column} = :{column}")
                params[column] = str(value)
        if search.decided_by:
            where.append(
                "EXISTS (SELECT 1 FROM decisions d WHERE d.case_id = c.id "
                "AND d.decided_by = :decided_by)"
            )
            params["decided_by"] = search.decided_by
        if search.opened_from is not None:
            where.append("c.opened_at >= :opened_from")
            params["opened_from"] = raw.dt(search.opened_from)
        if search.opened_before is not None:
            where.append("c.opened_at < :opened_before")
            params["opened_before"] = raw.dt(search.opened_before)
        if search.overdue:
            where.append(f"{_QUEUE_C} AND c.respond_by <= :now")
            params["now"] = raw.dt(now)
        if before_id is not None:
            where.append("c.id < :before_id")
            params["before_id"] = before_id
        rows = raw.all(
            f"SELECT {_QUEUE_COLUMNS} FROM cases c "  # noqa: S608 - built from constants
            f"{'WHERE ' + ' AND '.join(where) if where else ''} ORDER BY c.id DESC LIMIT :limit",
            params,
        )
        return self._entries(rows, now)

    def claimed_by(
        self, user_id: int, *, minor_safety: bool, now: datetime, limit: int
    ) -> list[QueueEntry]:
        """The cases ``user_id`` holds an unexpired claim on, soonest deadline first."""
        raw = self._raw
        params: dict[str, Any] = {"user": user_id, "now": raw.dt(now), "limit": limit}
        where = ["r.claim_user_id = :user", "r.claim_until > :now"]
        if not minor_safety:
            where.append("c.minor_safety = :no")
            params["no"] = raw.flag(False)
        rows = raw.all(
            f"SELECT {_QUEUE_COLUMNS} FROM case_reviews r JOIN cases c ON c.id = r.case_id "  # noqa: S608 - built from constants
            f"WHERE {' AND '.join(where)} ORDER BY c.respond_by, c.id LIMIT :limit",
            params,
        )
        return self._entries(rows, now)

    def decided_since(self, since: datetime, *, minor_safety: bool) -> list[tuple[str, int]]:
        """(decider, decisions) made since ``since``, most first."""
        raw = self._raw
        params: dict[str, Any] = {"since": raw.dt(since)}
        minors = ""
        if not minor_safety:
            minors = "AND c.minor_safety = :no"
            params["no"] = raw.flag(False)
        rows = raw.all(
            "SELECT d.decided_by, count(*) FROM decisions d JOIN cases c ON c.id = d.case_id "  # noqa: S608 - built from constants
            f"WHERE d.decided_at >= :since {minors} GROUP BY d.decided_by "
            "ORDER BY count(*) DESC, d.decided_by",
            params,
        )
        return [(str(by), int(n)) for by, n in rows]

    def listed(self, status: CaseStatus, *, minor_safety: bool, limit: int) -> list[QueueEntry]:
        """The cases on hold, waiting for a second opinion, or appealed (a lead's lists)."""
        raw = self._raw
        params: dict[str, Any] = {"status": str(status), "limit": limit}
        where = [_HELD_C, "c.status = :status"]
        if not minor_safety:
            where.append("c.minor_safety = :no")
            params["no"] = raw.flag(False)
        rows = raw.all(
            f"SELECT {_QUEUE_COLUMNS} FROM cases c WHERE {' AND '.join(where)} "  # noqa: S608 - built from constants
            "ORDER BY c.respond_by, c.id LIMIT :limit",
            params,
        )
        return self._entries(rows, None)

    def counts(self, *, minor_safety: bool, now: datetime) -> dict[str, int]:
        """How many cases wait in the queue, how many are overdue, and how many wait for a
        second opinion, are appealed or are on hold."""
        raw = self._raw
        params: dict[str, Any] = {"now": raw.dt(now)}
        where = [_QUEUE_C]
        held = [_HELD_C]
        if not minor_safety:
            where.append("c.minor_safety = :no")
            held.append("c.minor_safety = :no")
            params["no"] = raw.flag(False)
        row = raw.one(
            "SELECT count(*), coalesce(sum(CASE WHEN c.respond_by <= :now THEN 1 ELSE 0 END), 0) "  # noqa: S608 - built from constants
            f"FROM cases c WHERE {' AND '.join(where)}",
            params,
        )
        assert row is not None
        counts = {"queue": int(row[0]), "overdue": int(row[1])}
        counts |= {str(s): 0 for s in _LISTED}
        for status, n in raw.all(
            f"SELECT c.status, count(*) FROM cases c WHERE {' AND '.join(held)} "  # noqa: S608 - built from constants
            "GROUP BY c.status",
            params,
        ):
            counts[str(status)] = int(n)
        return counts

    def backlog(self, *, minor_safety: bool, now: datetime) -> dict[str, tuple[int, int, datetime]]:
        """Priority → (cases waiting in the queue, of them overdue, when the oldest opened)."""
        raw = self._raw
        params: dict[str, Any] = {"now": raw.dt(now)}
        where = [_QUEUE_C]
        if not minor_safety:
            where.append("c.minor_safety = :no")
            params["no"] = raw.flag(False)
        rows = raw.all(
            "SELECT c.priority, count(*), "  # noqa: S608 - built from constants
            "coalesce(sum(CASE WHEN c.respond_by <= :now THEN 1 ELSE 0 END), 0), "
            f"min(c.opened_at) FROM cases c WHERE {' AND '.join(where)} GROUP BY c.priority",
            params,
        )
        found = {}
        for priority, n, overdue, oldest in rows:
            opened = raw.read_dt(oldest)
            assert opened is not None
            found[str(priority)] = (int(n), int(overdue), opened)
        return dict(sorted(found.items()))

    def _entries(self, rows: list[tuple[Any, ...]], now: datetime | None) -> list[QueueEntry]:
        if not rows:
            return []
        raw = self._raw
        ids = [int(r[0]) for r in rows]
        marks = ", ".join(f":i{n}" for n in range(len(ids)))
        by_id = {f"i{n}": case_id for n, case_id in enumerate(ids)}
        items: dict[int, list[str]] = {}
        for case_id, content_id in raw.all(
            f"SELECT case_id, content_id FROM case_items WHERE case_id IN ({marks}) ORDER BY id",  # noqa: S608 - placeholders only
            by_id,
        ):
            items.setdefault(int(case_id), []).append(str(content_id))
        reviews: dict[int, tuple[Any, ...]] = {
            int(r[0]): r
            for r in raw.all(
                "SELECT case_id, claim_name, claim_until, escalated_to FROM case_reviews "  # noqa: S608 - placeholders only
                f"WHERE case_id IN ({marks})",
                by_id,
            )
        }
        entries = []
        for row in rows:
            case_id = int(row[0])
            review = reviews.get(case_id)
            claimed_by = None
            if review is not None and review[1] is not None:
                until = raw.read_dt(review[2])
                if until is not None and (now is None or until > now):
                    claimed_by = str(review[1])
            respond_by = raw.read_dt(row[4])
            assert respond_by is not None
            entries.append(
                QueueEntry(
                    case_id=case_id,
                    status=_STATUSES[row[1]],
                    priority=_PRIORITIES[row[2]],
                    category=_CATEGORIES[row[3]],
                    respond_by=respond_by,
                    remove_by=raw.read_dt(row[5]),
                    minor_safety=bool(row[6]),
                    content_ids=tuple(items.get(case_id, ())),
                    claimed_by=claimed_by,
                    escalated_to=review[3] if review is not None else None,
                )
            )
        return entries

    def close_items(self, case_id: int) -> None:
        """A case closed with no violation: its items are no longer open, and each item's
        registry row names the case, so a new report opens a new case linked to it."""
        raw = self._raw
        raw.write(
            "UPDATE content SET closed_case_id = :case_id WHERE content_id IN "
            "(SELECT content_id FROM case_items WHERE case_id = :case_id)",
            {"case_id": case_id},
        )
        raw.write(
            "UPDATE case_items SET open = :no WHERE case_id = :case_id",
            {"case_id": case_id, "no": raw.flag(False)},
        )

    def reopen_items(self, case_id: int) -> None:
        """An appeal reopened a closed case: its items are open again, unless another open
        case holds the same content by now (one open case per item)."""
        raw = self._raw
        raw.write(
            "UPDATE case_items SET open = :yes WHERE case_id = :case_id AND NOT EXISTS "
            "(SELECT 1 FROM case_items o WHERE o.content_id = case_items.content_id AND o.open)",
            {"case_id": case_id, "yes": raw.flag(True)},
        )

    # Reveals: one row each, counted per reviewer per day.

    def add_reveal(self, *, user_id: int, case_id: int, content_id: str, at: datetime) -> None:
        self._s.add(MediaRevealRow(user_id=user_id, case_id=case_id, content_id=content_id, at=at))
        self._s.flush()

    def reveals_since(self, user_id: int, since: datetime) -> int:
        return int(
            self._s.scalar(
                select(func.count())
                .select_from(MediaRevealRow)
                .where(MediaRevealRow.user_id == user_id, MediaRevealRow.at >= since)
            )
            or 0
        )

    def reveals_by_user_since(self, since: datetime) -> dict[int, int]:
        rows = self._s.execute(
            select(MediaRevealRow.user_id, func.count())
            .where(MediaRevealRow.at >= since)
            .group_by(MediaRevealRow.user_id)
        )
        return {int(u): int(n) for u, n in rows}

    # Quality samples.

    def add_sample(
        self, *, case_id: int, decided_by: str, category: str, outcome: str, at: datetime
    ) -> None:
        self._s.add(
            QaSampleRow(
                case_id=case_id,
                decided_by=decided_by,
                category=category,
                outcome=outcome,
                sampled_at=at,
            )
        )
        self._s.flush()

    def open_samples(self, limit: int = 50) -> list[QaSample]:
        rows = self._s.scalars(
            select(QaSampleRow)
            .where(QaSampleRow.reviewed_at.is_(None))
            .order_by(QaSampleRow.id)
            .limit(limit)
        )
        return [_sample(r) for r in rows]

    def sample(self, sample_id: int) -> QaSample | None:
        row = self._s.get(QaSampleRow, sample_id)
        return _sample(row) if row else None

    def record_sample(
        self, sample_id: int, *, reviewer: str, agrees: bool, note: str, at: datetime
    ) -> None:
        row = self._s.get(QaSampleRow, sample_id)
        assert row is not None
        row.reviewer, row.agrees, row.note, row.reviewed_at = reviewer, agrees, note, at
        self._s.flush()

    def agreement(self) -> list[tuple[str, str, int, int]]:
        """(reviewer, category, samples looked at, agreed with) for each pair."""
        rows = self._s.execute(
            select(
                QaSampleRow.decided_by,
                QaSampleRow.category,
                func.count(),
                func.sum(func.coalesce(QaSampleRow.agrees, False).cast(_INT)),
            )
            .where(QaSampleRow.reviewed_at.is_not(None))
            .group_by(QaSampleRow.decided_by, QaSampleRow.category)
            .order_by(QaSampleRow.decided_by, QaSampleRow.category)
        )
        return [(str(d), str(c), int(n), int(a or 0)) for d, c, n, a in rows]


_INT = Integer()
_LISTED = (CaseStatus.pending_second_review, CaseStatus.appealed, CaseStatus.on_hold)


def _sample(row: QaSampleRow) -> QaSample:
    return QaSample(
        id=row.id,
        case_id=row.case_id,
        decided_by=row.decided_by,
        category=row.category,
        outcome=row.outcome,
        sampled_at=row.sampled_at,
        reviewer=row.reviewer,
        agrees=row.agrees,
        reviewed_at=row.reviewed_at,
    )


_HEX = frozenset("0123456789abcdef")


def _found_by(text: str, params: dict[str, Any], *, sqlite: bool) -> str:
    """The ids of the cases ``text`` names by any key, as one statement of unions, each part
    read from an index of its own: the case number or id, a content id (reported, or an item
    of the case, open or closed), an account id, a content URL, a police case number, a
    reporter's own reference, and,
    for a value shaped like one, an MD5, SHA-256 or PDQ hash of a case's media."""
    value = text.strip()
    params["q"] = value
    params["q_url"] = value[:512]
    parts = [
        "SELECT case_id FROM reports WHERE content_id = :q",
        "SELECT case_id FROM case_items WHERE content_id = :q AND open",
        "SELECT case_id FROM case_items WHERE content_id = :q AND NOT open",
        "SELECT case_id FROM case_items WHERE account_id = :q",
        # The whole URL compared apart from the index: SQLite, seeing ``content_url = :q``,
        # would scan the index instead of searching it (``+`` keeps the term out of that).
        "SELECT case_id FROM reports WHERE substr(content_url, 1, 512) = :q_url "  # noqa: S608 - constant
        f"AND content_url IS NOT NULL AND {'+' if sqlite else ''}content_url = :q",
        "SELECT case_id FROM reports WHERE police_case_number = :q",
        "SELECT case_id FROM reports WHERE reporter_reference = :q",
    ]
    case_id = case_id_of(value)
    if case_id is not None:
        parts.append("SELECT id FROM cases WHERE id = :q_case")
        params["q_case"] = case_id
    digest = value.lower()
    if set(digest) <= _HEX:
        columns = {32: ("md5",), 64: ("sha256", "pdq")}.get(len(digest), ())
        parts += [f"SELECT case_id FROM case_items WHERE {c} = :q_hex" for c in columns]  # noqa: S608 - constant columns
        params["q_hex"] = digest
    return " UNION ".join(parts)
