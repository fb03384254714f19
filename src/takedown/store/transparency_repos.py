"""The figures of a transparency report (``services.transparency``), counted by the database:
aggregates and single columns of durations in seconds, never a case's details.

Each query reads one period, ``[start, end)``, by the time its rows happened: reports by when
they were received, cases by when they were opened, decisions, actions and filings by their own
times. Counts read one index each, in the order they are grouped (``ix_reports_counts`` and
its kind); the clocks read each case's clocks row (``store.clock_repos``), kept as the case's
events happen, so a year of a million cases is a few narrow index scans and no join.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from takedown.store.clock_repos import seconds
from takedown.store.rawsql import RawRepository

# Outcomes that decide a case: ``outcome IN ('violation', 'no_violation')``, written out in
# each statement.
FINAL = "('violation', 'no_violation')"
_FINAL_OUTCOMES = ("violation", "no_violation")


class TransparencyRepository(RawRepository):
    def _period(self, start: datetime, end: datetime) -> dict[str, Any]:
        raw = self._raw
        return {"start": raw.dt(start), "end": raw.dt(end)}

    def notices(self, start: datetime, end: datetime) -> list[tuple[str, str, str, int]]:
        """(category, source, reporter role, count) of the reports received in the period."""
        rows = self._raw.all(
            "SELECT category, source, reporter_role, count(*) FROM reports "
            "WHERE received_at >= :start AND received_at < :end GROUP BY 1, 2, 3",
            self._period(start, end),
        )
        return [(str(c), str(s), str(r), int(n)) for c, s, r, n in rows]

    def actions(self, start: datetime, end: datetime) -> list[tuple[str, str, int]]:
        """(type, category, count) of the actions planned in the period."""
        rows = self._raw.all(
            "SELECT type, category, count(*) FROM actions "
            "WHERE created_at >= :start AND created_at < :end GROUP BY 1, 2",
            self._period(start, end),
        )
        return [(str(t), str(c), int(n)) for t, c, n in rows]

    def decisions(self, start: datetime, end: datetime) -> list[tuple[str, bool, int]]:
        """(outcome, automated, count) of the decisions made in the period."""
        raw = self._raw
        rows = raw.all(
            "SELECT outcome, automated, count(*) FROM decisions "
            "WHERE decided_at >= :start AND decided_at < :end GROUP BY 1, 2",
            self._period(start, end),
        )
        return [(str(o), bool(a), int(n)) for o, a, n in rows]

    def to_first_look(self, start: datetime, end: datetime) -> list[tuple[str, int, int]]:
        """(priority, seconds, cases) from a case's opening to a person's first look, for the cases
        opened in the period that someone looked at."""
        return self._clock("look_s", "", start, end)

    def to_decision(self, start: datetime, end: datetime) -> list[tuple[str, int, int]]:
        """(priority, seconds, cases) from a case's opening to its first decision (a violation or
        not), for the cases opened in the period that were decided."""
        return self._clock("decision_s", "", start, end)

    def to_removal(self, start: datetime, end: datetime) -> list[tuple[str, int, int]]:
        """(priority, seconds, cases) from a case's opening to the platform's acknowledgment of its
        last removal, for the cases opened in the period whose removals are all done."""
        return self._clock("removal_s", " AND removals_pending = 0", start, end)

    def to_filing(self, start: datetime, end: datetime) -> list[tuple[str, int, int]]:
        """(priority, seconds, cases) from a case's opening to its CyberTipline report's filing."""
        return self._clock("filing_s", "", start, end)

    def _clock(
        self, column: str, where: str, start: datetime, end: datetime
    ) -> list[tuple[str, int, int]]:
        """(priority, whole seconds, how many cases took that long): a frequency table, which
        crosses from the database as a few thousand rows where the cases are a million, read
        from the clock's own index of ``case_clocks`` in the order it is grouped."""
        rows = self._raw.all(
            f"SELECT priority, {column}, count(*) FROM case_clocks "  # noqa: S608 - constant
            f"WHERE {column} IS NOT NULL{where} AND opened_at >= :start AND opened_at < :end "
            f"GROUP BY priority, {column}",
            self._period(start, end),
        )
        return [(str(p), int(s), int(n)) for p, s, n in rows]

    def decision_by_category(self, start: datetime, end: datetime) -> list[tuple[str, int, int]]:
        """(category, seconds, cases) from a case's opening to its first decision, for the
        cases opened in the period that were decided."""
        rows = self._raw.all(
            "SELECT category, decision_s, count(*) FROM case_clocks "
            "WHERE decision_s IS NOT NULL AND opened_at >= :start AND opened_at < :end "
            "GROUP BY category, decision_s",
            self._period(start, end),
        )
        return [(str(c), int(s), int(n)) for c, s, n in rows]

    def measures(self, start: datetime, end: datetime) -> list[tuple[str, str, bool, bool, int]]:
        """(action type, category, own initiative, solely automated, count) of the restricting
        actions planned in the period. Own initiative: the case has no notice, only uploads a
        hash matched (read from ``ix_reports_case_reporter`` alone). Solely automated: an
        interim restriction, or planned by an automatic decision (made at the action's own
        moment on its case; those are few, found from the automatic decisions)."""
        raw = self._raw
        own = (
            "CASE WHEN EXISTS (SELECT 1 FROM reports r WHERE r.case_id = a.case_id "
            "AND r.source <> 'scan') THEN 0 ELSE 1 END"
        )
        restricting = "a.type IN ('remove', 'restrict', 'suspend_account')"
        params = {**self._period(start, end), "yes": raw.flag(True)}
        every = raw.all(
            f"SELECT type, category, own, count(*) FROM (SELECT a.type, a.category, {own} "  # noqa: S608 - constant
            f"AS own FROM actions a WHERE {restricting} AND a.created_at >= :start "
            "AND a.created_at < :end) x GROUP BY 1, 2, 3",
            params,
        )
        automatic = raw.all(
            f"SELECT type, category, own, count(*) FROM (SELECT a.type, a.category, {own} "  # noqa: S608 - constant
            "AS own FROM decisions d JOIN actions a ON a.case_id = d.case_id "
            "AND a.created_at = d.decided_at WHERE d.outcome = 'violation' "
            f"AND d.automated = :yes AND {restricting} AND d.decided_at >= :start "
            "AND d.decided_at < :end) x GROUP BY 1, 2, 3",
            params,
        )
        solely = {(str(t), str(c), bool(o)): int(n) for t, c, o, n in automatic}
        out = []
        for t, c, o, n in every:
            key = (str(t), str(c), bool(o))
            # An interim restriction is planned by no person (``cases.reasons``).
            auto = int(n) if key[0] == "restrict" else min(solely.get(key, 0), int(n))
            out += [(*key, True, auto)] if auto else []
            out += [(*key, False, int(n) - auto)] if int(n) > auto else []
        return out

    def ncii_requests(self, start: datetime, end: datetime) -> tuple[int, int]:
        """(cases opened in the period with a valid NCII removal request, those of them first
        decided by their removal deadline, to the second)."""
        deadline = seconds(self._raw, "c.remove_by", "c.opened_at")
        row = self._raw.one(
            "SELECT count(*), "  # noqa: S608 - constant
            f"coalesce(sum(CASE WHEN k.decision_s <= {deadline} THEN 1 ELSE 0 END), 0) "
            "FROM cases c LEFT JOIN case_clocks k ON k.case_id = c.id "
            "WHERE c.remove_by IS NOT NULL AND c.opened_at >= :start AND c.opened_at < :end",
            self._period(start, end),
        )
        assert row is not None
        return int(row[0]), int(row[1])

    def appeals(self, start: datetime, end: datetime) -> list[tuple[int, datetime]]:
        """(case id, when) of the appeals made in the period."""
        raw = self._raw
        rows = raw.all(
            "SELECT case_id, at FROM case_messages WHERE kind = 'appeal' "
            "AND at >= :start AND at < :end ORDER BY at",
            self._period(start, end),
        )
        out = []
        for case_id, at in rows:
            when = raw.read_dt(at)
            assert when is not None
            out.append((int(case_id), when))
        return out

    def final_decisions(self, case_ids: list[int]) -> dict[int, list[tuple[datetime, str]]]:
        """Case id → its decisions that decided it (when, outcome), oldest first."""
        raw = self._raw
        found: dict[int, list[tuple[datetime, str]]] = {}
        for first in range(0, len(case_ids), 500):
            part = case_ids[first : first + 500]
            names = {f"c{i}": c for i, c in enumerate(part)}
            marks = ", ".join(f":{n}" for n in names)
            # Every decision of the cases, the outcome checked here: a condition on
            # ``outcome`` in SQL would lead SQLite to ``ix_decisions_counts`` and a scan.
            rows = raw.all(
                "SELECT case_id, decided_at, outcome FROM decisions "  # noqa: S608 - placeholders
                f"WHERE case_id IN ({marks}) ORDER BY case_id, decided_at, id",
                names,
            )
            for case_id, at, outcome in rows:
                if outcome not in _FINAL_OUTCOMES:
                    continue
                when = raw.read_dt(at)
                assert when is not None
                found.setdefault(int(case_id), []).append((when, str(outcome)))
        return found

    def automated_reversed(self, start: datetime, end: datetime) -> tuple[int, int]:
        """(automated violations decided in the period, those a later decision on their case
        found no violation)."""
        row = self._raw.one(
            "SELECT count(*), coalesce(sum(CASE WHEN EXISTS (SELECT 1 FROM decisions l "
            "WHERE l.case_id = d.case_id AND l.decided_at > d.decided_at "
            "AND l.outcome = 'no_violation') THEN 1 ELSE 0 END), 0) FROM decisions d "
            "WHERE d.automated = :yes AND d.outcome = 'violation' "
            "AND d.decided_at >= :start AND d.decided_at < :end",
            {**self._period(start, end), "yes": self._raw.flag(True)},
        )
        assert row is not None
        return int(row[0]), int(row[1])

    def filed(self, start: datetime, end: datetime) -> int:
        """CyberTipline reports filed with NCMEC in the period."""
        value = self._raw.value(
            "SELECT count(*) FROM ncmec_filings WHERE filed_at >= :start AND filed_at < :end",
            self._period(start, end),
        )
        return int(value or 0)

    def overdue_by_priority(self, now: datetime) -> dict[str, int]:
        """Cases waiting for a person past their time to respond, by priority."""
        raw = self._raw
        rows = raw.all(
            "SELECT priority, count(*) FROM cases WHERE status IN "
            "('open', 'pending_second_review', 'appealed') AND respond_by <= :now GROUP BY 1",
            {"now": raw.dt(now)},
        )
        return {str(p): int(n) for p, n in rows}

    def oldest_pending(self, table: str) -> datetime | None:
        """When the oldest work still pending in ``table`` (``actions`` to the platform,
        ``statements_of_reasons`` to the Transparency Database) was made."""
        if table not in ("actions", "statements_of_reasons"):
            raise ValueError(table)
        raw = self._raw
        return raw.read_dt(
            raw.value(f"SELECT min(created_at) FROM {table} WHERE state = 'pending'")  # noqa: S608 - checked
        )

    def _day(self, column: str) -> str:
        if self._raw.sqlite:
            return f"substr({column}, 1, 10)"
        return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"

    def opened_per_day(self, start: datetime, end: datetime) -> dict[str, int]:
        """``YYYY-MM-DD`` → cases opened that day (UTC), in the period."""
        rows = self._raw.all(
            f"SELECT {self._day('opened_at')}, count(*) FROM cases "  # noqa: S608 - constant
            "WHERE opened_at >= :start AND opened_at < :end GROUP BY 1",
            self._period(start, end),
        )
        return {str(d): int(n) for d, n in rows}

    def decided_per_day(self, start: datetime, end: datetime) -> dict[str, int]:
        """``YYYY-MM-DD`` → cases first decided that day (UTC), in the period."""
        rows = self._raw.all(
            f"SELECT {self._day('x.first')}, count(*) FROM (SELECT case_id, "  # noqa: S608 - constant
            "min(decided_at) AS first FROM decisions WHERE outcome IN "
            "('violation', 'no_violation') GROUP BY case_id) x "
            "WHERE x.first >= :start AND x.first < :end GROUP BY 1",
            self._period(start, end),
        )
        return {str(d): int(n) for d, n in rows}

    def waiting_at(self, at: datetime) -> int:
        """Cases opened before ``at`` and not decided by then."""
        raw = self._raw
        value = raw.value(
            "SELECT count(*) FROM cases c WHERE c.opened_at < :at AND c.status <> 'merged' "
            "AND NOT EXISTS (SELECT 1 FROM decisions d WHERE d.case_id = c.id "
            "AND d.outcome IN ('violation', 'no_violation') AND d.decided_at < :at)",
            {"at": raw.dt(at)},
        )
        return int(value or 0)

    def deadlines_met(
        self, start: datetime, end: datetime, *, now: datetime
    ) -> dict[str, tuple[int, int]]:
        """Priority → (cases opened in the period whose time to respond has come by ``now``,
        or that were looked at or decided before it; those a person looked at, or that were
        decided, by their time to respond). A case not yet due and not yet done counts in
        neither: its deadline is not yet met or missed."""
        raw = self._raw
        deadline = seconds(raw, "c.respond_by", "c.opened_at")
        rows = raw.all(
            "SELECT c.priority, coalesce(sum(CASE WHEN k.look_s IS NOT NULL "  # noqa: S608 - constant
            "OR k.decision_s IS NOT NULL OR c.respond_by <= :now THEN 1 ELSE 0 END), 0), "
            f"coalesce(sum(CASE WHEN k.look_s <= {deadline} OR k.decision_s <= {deadline} "
            "THEN 1 ELSE 0 END), 0) FROM cases c LEFT JOIN case_clocks k ON k.case_id = c.id "
            "WHERE c.opened_at >= :start AND c.opened_at < :end AND c.status <> 'merged' "
            "GROUP BY 1",
            {**self._period(start, end), "now": raw.dt(now)},
        )
        return {str(p): (int(n), int(met)) for p, n, met in rows}
