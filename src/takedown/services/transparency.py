"""Transparency reports for any period: the figures a provider publishes (the DSA's yearly
report, a US provider's transparency page), from what takedown recorded, to the second.

A period is ``[start, end)``. What happened in it is counted by when it happened: notices by
when they were received, actions by when they were planned, decisions by when they were made,
appeals by when they were made, filings by when they were filed. The clocks (time to a
person's first look, to the first decision, to the platform's acknowledgment of a case's last
removal, to the NCMEC filing) are those of the cases opened in the period, from their
opening (the first report). Figures only: no case, account or reporter is named, so a report
needs ``transparency:read`` and nothing about minors is hidden from it.

Exports: JSON (``TransparencyReport.as_json``) and a CSV of every figure (``figures_csv``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from takedown.identity import Permission, Principal, require
from takedown.services.errors import InvalidInput
from takedown.store.uow import UnitOfWork

# Where a notice came from, as a transparency report counts it.
SOURCES = ("public_page", "platform_button", "trusted_flagger", "police", "depicted_person")
GROUNDS = {"csam": "law", "ncii": "law", "other_illegal": "law", "policy": "terms"}
MAX_DAYS = 366 * 5


def notice_source(source: str, role: str) -> str | None:
    """A report's kind for the report's counts; None: no notice (an upload a hash matched)."""
    if source == "scan":
        return None
    if role == "trusted_flagger":
        return "trusted_flagger"
    if role == "law_enforcement":
        return "police"
    if role in ("depicted_person", "parent_guardian"):
        return "depicted_person"
    return "public_page" if source == "public_page" else "platform_button"


@dataclass(frozen=True)
class Clock:
    """How long something took, over the cases it applies to: count, median and 90th
    percentile in seconds (None where there is none)."""

    cases: int
    median_s: float | None
    p90_s: float | None

    @classmethod
    def of(cls, seconds: Iterable[float]) -> Clock:
        return cls.of_counts([(s, 1) for s in seconds])

    @classmethod
    def of_counts(cls, counts: Iterable[tuple[float, int]]) -> Clock:
        """From a frequency table: (seconds, how many took that long)."""
        table = sorted((s, n) for s, n in counts if n > 0)
        total = sum(n for _, n in table)
        if not total:
            return cls(0, None, None)
        return cls(total, round(_rank(table, 0.5, total), 1), round(_rank(table, 0.9, total), 1))


def _rank(table: list[tuple[float, int]], share: float, total: int) -> float:
    """The ``share`` percentile of the values a sorted frequency table holds, interpolated
    between the nearest ranks (as PostgreSQL's ``percentile_cont`` and numpy's default)."""
    at = share * (total - 1)
    low, high = int(at), min(int(at) + 1, total - 1)
    found: dict[int, float] = {}
    seen = 0
    for value, n in table:
        for rank in (low, high):
            if rank not in found and seen <= rank < seen + n:
                found[rank] = value
        if len(found) == 2:
            break
        seen += n
    return found[low] + (found[high] - found[low]) * (at - low)


def _clock(rows: list[tuple[str, int, int]]) -> tuple[Clock, dict[str, Clock]]:
    by: dict[str, list[tuple[float, int]]] = {}
    for priority, seconds, n in rows:
        by.setdefault(priority, []).append((seconds, n))
    every = [(s, n) for _, s, n in rows]
    return Clock.of_counts(every), {p: Clock.of_counts(v) for p, v in sorted(by.items())}


@dataclass(frozen=True)
class Complaints:
    """Appeals of one kind of decision (a violation found, or none): how many were made, how
    many decided, how many of those reversed, and the time from appeal to decision."""

    appeals: int
    decided: int
    reversed: int
    to_decision: Clock


@dataclass(frozen=True)
class TransparencyReport:
    start: datetime
    end: datetime
    notices: dict[str, dict[str, int]]  # category → source → count
    automated_detections: int  # uploads a block_and_report hash list caught, no notice
    actions: dict[str, dict[str, int]]  # action type → ground (law | terms) → count
    decisions: dict[str, int]  # human_violation, human_no_violation, automated_violation, …
    to_first_look: Clock
    to_decision: Clock
    to_removal: Clock
    to_filing: Clock
    to_decision_by_priority: dict[str, Clock]
    ncii_requests: int
    ncii_decided_within_deadline: int
    appeals: int
    appeals_decided: int
    reversals: int
    appeal_to_decision: Clock
    ncmec_reports_filed: int
    automated_violations: int
    automated_reversed: int
    # The appeals by the outcome they appealed: ``violation`` (the uploader's, against a
    # removal) or ``no_violation`` (a reporter's, against no action on their notice).
    appeals_by_decision: dict[str, Complaints] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ncii_share_within_deadline(self) -> float | None:
        return _share(self.ncii_decided_within_deadline, self.ncii_requests)

    @property
    def automated_error_rate(self) -> float | None:
        """The share of automated decisions a later one reversed (the accuracy of automated
        means, Article 15(1)(e) DSA)."""
        return _share(self.automated_reversed, self.automated_violations)

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        out["ncii_share_within_deadline"] = self.ncii_share_within_deadline
        out["automated_error_rate"] = self.automated_error_rate
        return out


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def report(
    *, uow: UnitOfWork, actor: Principal, start: datetime, end: datetime
) -> TransparencyReport:
    """The transparency report of ``[start, end)``. Raises ``InvalidInput`` for a period that
    ends before it starts or spans more than five years."""
    require(actor, Permission.transparency_read)
    if end <= start:
        raise InvalidInput("the period ends before it starts", field="to")
    if (end - start).days > MAX_DAYS:
        raise InvalidInput("a period of at most five years", field="from")
    with uow:
        t = uow.transparency
        notices: dict[str, dict[str, int]] = {}
        detections = 0
        for category, source, role, n in t.notices(start, end):
            kind = notice_source(source, role)
            if kind is None:
                detections += n
                continue
            row = notices.setdefault(category, dict.fromkeys(SOURCES, 0))
            row[kind] += n
        actions: dict[str, dict[str, int]] = {}
        for type_, category, n in t.actions(start, end):
            ground = GROUNDS.get(category, "terms")
            actions.setdefault(type_, {"law": 0, "terms": 0})[ground] += n
        decided: dict[str, int] = {}
        for outcome, auto, n in t.decisions(start, end):
            key = f"{'automated' if auto else 'human'}_{outcome}"
            decided[key] = decided.get(key, 0) + n
        to_look, _ = _clock(t.to_first_look(start, end))
        to_decision, by_priority = _clock(t.to_decision(start, end))
        to_removal, _ = _clock(t.to_removal(start, end))
        to_filing, _ = _clock(t.to_filing(start, end))
        ncii, ncii_in_time = t.ncii_requests(start, end)
        appeals = t.appeals(start, end)
        history = t.final_decisions(sorted({case_id for case_id, _ in appeals}))
        automated, reversed_ = t.automated_reversed(start, end)
        filed = t.filed(start, end)
    decided_appeals, reversals, waits = 0, 0, []
    kinds: dict[str, list[Any]] = {}  # appealed outcome → [appeals, decided, reversed, waits]
    for case_id, at in appeals:
        before = [o for when, o in history.get(case_id, []) if when <= at]
        after = [(when, o) for when, o in history.get(case_id, []) if when > at]
        tally = kinds.setdefault(before[-1] if before else "none", [0, 0, 0, []])
        tally[0] += 1
        if after:
            decided_appeals += 1
            tally[1] += 1
            waits.append((after[0][0] - at).total_seconds())
            tally[3].append(waits[-1])
            if before and after[0][1] != before[-1]:
                reversals += 1
                tally[2] += 1
    return TransparencyReport(
        start=start,
        end=end,
        notices=notices,
        automated_detections=detections,
        actions=actions,
        decisions=decided,
        to_first_look=to_look,
        to_decision=to_decision,
        to_removal=to_removal,
        to_filing=to_filing,
        to_decision_by_priority=by_priority,
        ncii_requests=ncii,
        ncii_decided_within_deadline=ncii_in_time,
        appeals=len(appeals),
        appeals_decided=decided_appeals,
        reversals=reversals,
        appeal_to_decision=Clock.of(waits),
        ncmec_reports_filed=filed,
        automated_violations=automated,
        automated_reversed=reversed_,
        appeals_by_decision={
            k: Complaints(n, decided, back, Clock.of(w))
            for k, (n, decided, back, w) in sorted(kinds.items())
        },
        notes=[
            "Clocks are those of the cases opened in the period, from their first report.",
            "A removal's time is the platform's acknowledgment of the case's last removal.",
        ],
    )


def figures_csv(r: TransparencyReport) -> str:
    """Every figure, one a row: ``figure,breakdown,value``."""
    rows: list[tuple[str, str, Any]] = [("period_start", "", r.start.isoformat()),
                                        ("period_end", "", r.end.isoformat())]  # fmt: skip
    for category, sources in sorted(r.notices.items()):
        rows += [("notices", f"{category}/{s}", n) for s, n in sources.items()]
    rows.append(("automated_detections", "", r.automated_detections))
    for type_, grounds in sorted(r.actions.items()):
        rows += [("actions", f"{type_}/{g}", n) for g, n in grounds.items()]
    rows += [("decisions", k, n) for k, n in sorted(r.decisions.items())]
    for name in ("to_first_look", "to_decision", "to_removal", "to_filing", "appeal_to_decision"):
        c: Clock = getattr(r, name)
        rows += [(f"{name}_s", "cases", c.cases), (f"{name}_s", "median", c.median_s),
                 (f"{name}_s", "p90", c.p90_s)]  # fmt: skip
    for priority, c in r.to_decision_by_priority.items():
        rows += [("to_decision_s", f"{priority}/median", c.median_s),
                 ("to_decision_s", f"{priority}/p90", c.p90_s)]  # fmt: skip
    rows += [
        ("ncii_requests", "", r.ncii_requests),
        ("ncii_decided_within_48h", "", r.ncii_decided_within_deadline),
        ("ncii_share_within_48h", "", r.ncii_share_within_deadline),
        ("appeals", "", r.appeals),
        ("appeals_decided", "", r.appeals_decided),
        ("appeal_reversals", "", r.reversals),
        ("ncmec_reports_filed", "", r.ncmec_reports_filed),
        ("automated_violations", "", r.automated_violations),
        ("automated_reversed", "", r.automated_reversed),
        ("automated_error_rate", "", r.automated_error_rate),
    ]
    return _csv(["figure", "breakdown", "value"], rows)


def _csv(header: list[str], rows: list[tuple[Any, ...]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return out.getvalue()


# The clocks' buckets for Prometheus, in seconds: a minute to two days.
CLOCK_BUCKETS = (60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0, 48 * 3600.0)


@dataclass(frozen=True)
class LiveClocks:
    """What ``/metrics`` shows of the clocks: the durations of the cases opened in the last
    ``window`` (by clock name: ``first_look``, ``decision``, ``removal``, ``filing``, each a
    frequency table), the overdue cases by priority, and how long the oldest work
    waiting for the platform and for the Transparency Database has waited."""

    durations: dict[str, list[tuple[str, int, int]]]  # (priority, seconds, cases)
    overdue: dict[str, int]
    delivery_lag_s: float
    transparency_lag_s: float


def live_clocks(
    *, uow: UnitOfWork, actor: Principal, now: datetime, window_s: float = 86_400.0
) -> LiveClocks:
    """The clocks as they stand (``metrics:read``)."""
    require(actor, Permission.metrics_read)
    start = now - timedelta(seconds=window_s)
    with uow:
        t = uow.transparency
        durations = {
            "first_look": t.to_first_look(start, now),
            "decision": t.to_decision(start, now),
            "removal": t.to_removal(start, now),
            "filing": t.to_filing(start, now),
        }
        overdue = t.overdue_by_priority(now)
        lags = [t.oldest_pending(table) for table in ("actions", "statements_of_reasons")]
    delivery, statements = ((now - at).total_seconds() if at else 0.0 for at in lags)
    return LiveClocks(durations, overdue, delivery, statements)


@dataclass(frozen=True)
class Dashboard:
    """The console's transparency page: a period's report, the backlog at the end of each
    day, and the deadlines met by priority (cases opened in the period: a person looked at
    them, or they were decided, by their time to respond)."""

    report: TransparencyReport
    backlog: list[tuple[str, int]]  # (YYYY-MM-DD, cases waiting at that day's end)
    deadlines: dict[str, tuple[int, int]]  # priority → (cases due or done, met)


MAX_DASHBOARD_DAYS = 400


def dashboard(
    *, uow: UnitOfWork, actor: Principal, start: datetime, end: datetime, now: datetime
) -> Dashboard:
    """What the console's transparency page draws, for ``[start, end)`` (whole UTC days);
    ``now`` decides which deadlines have come."""
    found = report(uow=uow.spawn(readonly=True), actor=actor, start=start, end=end)
    if (end - start).days > MAX_DASHBOARD_DAYS:
        raise InvalidInput(f"a chart of at most {MAX_DASHBOARD_DAYS} days", field="from")
    with uow:
        t = uow.transparency
        waiting = t.waiting_at(start)
        opened = t.opened_per_day(start, end)
        decided = t.decided_per_day(start, end)
        deadlines = t.deadlines_met(start, end, now=now)
    backlog = []
    day = start
    while day < end:
        key = day.date().isoformat()
        waiting += opened.get(key, 0) - decided.get(key, 0)
        backlog.append((key, waiting))
        day += timedelta(days=1)
    return Dashboard(found, backlog, dict(sorted(deadlines.items())))
