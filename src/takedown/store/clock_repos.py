"""Each case's clocks in one narrow row (``case_clocks``), kept as the case's events happen, so
that a transparency report of a million cases reads one index a clock instead of joining four
tables of a million rows each (``TransparencyRepository``).

A row holds, in whole seconds from the case's opening: a person's first look (``look_s``), the
first decision that decided it (``decision_s``), the platform's acknowledgment of its latest
removal (``removal_s``, counted only while ``removals_pending`` is 0: every removal done) and
its NCMEC filing (``filing_s``); with the case's ``opened_at``, its priority when a clock was
last marked, and its category: what its first decision found it to be (before one, the
case's). Intake writes none: a case's row is made by its first clock.

Who writes them, in the transaction of the event itself, on every path that makes the event
(console, API, automation, background work):

- ``CaseRepository.save_review``: the first look;
- ``DecisionRepository.add``: a decision that decides the case (``violation`` or
  ``no_violation``);
- ``ActionRepository.add`` / ``delivered`` / ``ack``: removals planned and acknowledged;
- ``FilingRepository.save``: the filing;
- ``recompute``: a merge, which moves actions and can move a case's opening.

Durations are worked out in SQL from the case's own ``opened_at`` (SQLite's ``julianday``,
PostgreSQL's ``epoch``), rounded to the second.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from takedown.store.rawsql import RawRepository, RawSql

# The clocks a first event sets: the earliest such event counts.
FIRST_OF = ("look_s", "decision_s", "filing_s")
_FINAL = "('violation', 'no_violation')"


def seconds(raw: RawSql, later: str, earlier: str) -> str:
    """SQL for the whole seconds from ``earlier`` to ``later`` (columns or a ``:parameter``)."""
    if raw.sqlite:
        return f"CAST(round((julianday({later}) - julianday({earlier})) * 86400.0) AS INTEGER)"
    if later.startswith(":"):
        later = f"CAST({later} AS TIMESTAMP WITH TIME ZONE)"
    return f"CAST(round(extract(epoch from ({later} - {earlier}))) AS BIGINT)"


def _by_row(raw: RawSql, column: str) -> str:
    """``column`` kept out of SQLite's choice of index (``+column``): a condition on an
    action's type or a decision's outcome must not lead it to ``ix_actions_counts`` or
    ``ix_decisions_counts`` (every row of that type or outcome) when an id or a case picks
    a few."""
    return f"+{column}" if raw.sqlite else column


def _upsert(
    raw: RawSql, column: str, value: str, merge: str, *, category: tuple[str, str] | None = None
) -> str:
    """Insert the clocks row of case ``:case_id`` with ``column`` = ``value`` (SQL over the
    case's row ``c``), or set ``column`` to ``merge`` (SQL over ``case_clocks`` and
    ``excluded``) in the row there is. ``category``: the category's SQL on insert and on
    conflict (by default the case's, and the row's own)."""
    insert, update = category or ("c.category", "case_clocks.category")
    return (
        f"INSERT INTO case_clocks (case_id, opened_at, priority, category, {column}) "  # noqa: S608
        f"SELECT c.id, c.opened_at, c.priority, {insert}, {value} FROM cases c "
        "WHERE c.id = :case_id ON CONFLICT (case_id) DO UPDATE SET priority = excluded.priority, "
        f"category = {update}, {column} = {merge}"
    )


class CaseClockRepository(RawRepository):
    def mark(self, case_id: int, clock: str, at: datetime, *, category: str | None = None) -> None:
        """``clock`` (one of ``FIRST_OF``) happened at ``at``; an earlier one stays.
        ``category``: what the event found the content to be (a decision's category), the
        row's category while this event is the earliest of its clock."""
        if clock not in FIRST_OF:
            raise ValueError(clock)
        raw = self._raw
        earlier = f"case_clocks.{clock} IS NULL OR excluded.{clock} < case_clocks.{clock}"
        earliest = f"CASE WHEN {earlier} THEN excluded.{clock} ELSE case_clocks.{clock} END"
        found = (
            (
                ":category",
                f"CASE WHEN {earlier} THEN excluded.category ELSE case_clocks.category END",
            )
            if category is not None
            else None
        )
        raw.write(
            _upsert(raw, clock, seconds(raw, ":at", "c.opened_at"), earliest, category=found),
            {"case_id": case_id, "at": raw.dt(at), "category": category},
        )

    def removals_planned(self, case_id: int) -> None:
        """Removals were planned for the case: its count of removals not yet acknowledged,
        counted again from ``actions`` (a plan replayed inserts nothing new). PostgreSQL: the
        row is locked before the count, so an acknowledgment committed meanwhile is counted
        once, by whichever of the two comes last."""
        raw = self._raw
        lock = "UPDATE case_clocks SET removals_pending = removals_pending WHERE case_id = :case_id"
        pending = (
            "(SELECT count(*) FROM actions a WHERE a.case_id = c.id "  # noqa: S608 - constant
            f"AND {_by_row(raw, 'a.type')} = 'remove' "
            "AND a.state <> 'delivered')"
        )
        if not raw.sqlite:
            raw.write(lock, {"case_id": case_id})
        raw.write(
            _upsert(raw, "removals_pending", pending, "excluded.removals_pending"),
            {"case_id": case_id},
        )

    def recompute(self, case_ids: Iterable[int]) -> None:
        """These cases' rows worked out again from the events' own tables (after a merge); a
        merged case has none: its reports count in the case it was merged into."""
        ids = sorted(set(case_ids))
        if not ids:
            return
        raw = self._raw
        names = {f"c{i}": c for i, c in enumerate(ids)}
        marks = ", ".join(f":{n}" for n in names)
        raw.write(f"DELETE FROM case_clocks WHERE case_id IN ({marks})", names)  # noqa: S608
        raw.write(rebuild_sql(raw, f"IN ({marks})"), names)


def rebuild_sql(raw: RawSql, among: str = "") -> str:
    """``INSERT`` of the clocks rows of the cases whose id is ``among`` (SQL such as
    ``IN (:c0, :c1)``; empty: every case), worked out from the events' own tables, each read
    once for those cases; none for a merged case, none for a case with no clock."""
    s = seconds

    def only(column: str) -> str:
        return f" AND {column} {among}" if among else ""

    return (
        "INSERT INTO case_clocks (case_id, opened_at, priority, category, look_s, "  # noqa: S608
        "decision_s, removal_s, removals_pending, filing_s) "
        # What the first decision that decided the case found: one index search a case.
        "SELECT c.id, c.opened_at, c.priority, coalesce((SELECT x.category FROM decisions x "
        f"WHERE x.case_id = c.id AND {_by_row(raw, 'x.outcome')} IN {_FINAL} "
        "ORDER BY x.decided_at, x.id "
        "LIMIT 1), c.category), "
        f"{s(raw, 'r.first_look_at', 'c.opened_at')}, "
        f"{s(raw, 'd.first', 'c.opened_at')}, {s(raw, 'a.last', 'c.opened_at')}, "
        f"coalesce(a.pending, 0), {s(raw, 'f.filed_at', 'c.opened_at')} FROM cases c "
        "LEFT JOIN case_reviews r ON r.case_id = c.id "
        "LEFT JOIN (SELECT case_id, min(decided_at) AS first FROM decisions "
        f"WHERE {_by_row(raw, 'outcome') if among else 'outcome'} IN {_FINAL}{only('case_id')} "
        "GROUP BY case_id) d ON d.case_id = c.id "
        "LEFT JOIN (SELECT case_id, max(delivered_at) AS last, "
        "sum(CASE WHEN state <> 'delivered' THEN 1 ELSE 0 END) AS pending FROM actions "
        f"WHERE {_by_row(raw, 'type') if among else 'type'} = 'remove'{only('case_id')} "
        "GROUP BY case_id) a ON a.case_id = c.id "
        "LEFT JOIN ncmec_filings f ON f.case_id = c.id "
        f"WHERE c.status <> 'merged'{only('c.id')} AND (r.first_look_at IS NOT NULL "
        "OR d.first IS NOT NULL OR a.case_id IS NOT NULL OR f.filed_at IS NOT NULL)"
    )


def delivered_sql(raw: RawSql, where: str, *, attempt: bool) -> tuple[str, ...]:
    """The statements that mark the actions ``where`` picks (over ``actions``, with an ``:at``
    parameter) delivered at ``:at`` (``attempt``: counting it as an attempt) and count their
    removals on their cases' clocks: each action that becomes delivered takes one from
    ``removals_pending`` and moves ``removal_s`` to ``:at`` if later. SQLite, which has one
    writer at a time: the clocks first, counted from the rows about to change, then the rows.
    PostgreSQL: one statement, the clocks counted from the rows its ``UPDATE`` changed."""
    deliver = (
        "UPDATE actions SET state = 'delivered', delivered_at = :at, claimed_until = NULL"  # noqa: S608
        f"{', attempts = attempts + 1' if attempt else ''} WHERE {where}"
    )
    later = (
        "CASE WHEN removal_s IS NULL OR {new} > removal_s THEN {new} ELSE removal_s END"
    ).format(new=seconds(raw, ":at", "opened_at"))
    if raw.sqlite:
        # Counted from the rows picked by id (``UPDATE … FROM``): a subquery tied to the
        # case would read all of a case's actions, 100,000 for a large takedown, per batch.
        clocks = (
            "UPDATE case_clocks SET removals_pending = removals_pending - n.n, "  # noqa: S608
            f"removal_s = {later} FROM (SELECT case_id, count(*) AS n FROM actions "
            f"WHERE {where} AND +type = 'remove' GROUP BY case_id) AS n "
            "WHERE case_clocks.case_id = n.case_id"
        )
        return clocks, deliver
    return (
        f"WITH done AS ({deliver} RETURNING case_id, type), "  # noqa: S608 - constant
        "n AS (SELECT case_id, count(*) AS n FROM done WHERE type = 'remove' GROUP BY case_id) "
        f"UPDATE case_clocks SET removals_pending = removals_pending - n.n, removal_s = {later} "
        "FROM n WHERE case_clocks.case_id = n.case_id",
    )
