"""Searching every case (``services.review.search``, what ``GET /v1/cases`` runs) among
``TAKEDOWN_BENCH_CASES`` (1,000,000) cases, open and closed, on SQLite and PostgreSQL.

Each case has a report and an item: a content id, an account (ten cases an account), an MD5
on every item and a PDQ on half, a content URL on a fifth of the reports and a police case
number on one in fifty, a reporter's own reference on one in twenty; a tenth are about
minors. ``QUERIES`` searches by each key (and the
first page with no search at all), each for a case drawn at random, by a lead (who sees
every case) and by a reviewer without the child-safety permission (whose results leave out
a tenth). Timed in process, the service and the database together.

Goal (issue 31): p95 under 100 ms by each key, on both databases.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from bench._postgres import scratch_database
from bench.intake import machine_speed
from takedown.cases import case_number
from takedown.cases.records import CaseSearch
from takedown.identity import Principal, PrincipalKind, Role
from takedown.services import review
from takedown.store import Database, SqlAlchemyUnitOfWork, migrate
from takedown.utctime import utc_text

OUT = Path(__file__).resolve().parent / "results"
CASES = int(os.environ.get("TAKEDOWN_BENCH_CASES", "1000000"))
QUERIES = 200
GOAL_MS = 100.0
BATCH = 20_000
console = Console(stderr=True)
LEAD = Principal(PrincipalKind.staff_token, 1, "lead", Role.child_safety_lead)
REVIEWER = Principal(PrincipalKind.staff_token, 2, "rev", Role.reviewer)
START = datetime(2026, 1, 1, tzinfo=UTC)


def _md5(i: int) -> str:
    return hashlib.md5(str(i).encode(), usedforsecurity=False).hexdigest()


def _pdq(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


def _rows(first: int, last: int, dt) -> tuple[list[dict], list[dict], list[dict]]:  # type: ignore[no-untyped-def]
    cases, reports, items = [], [], []
    for i in range(first, last):
        opened = START + timedelta(seconds=i * 20)
        status = "open" if i % 7 == 0 else ("confirmed" if i % 20 == 0 else "closed")
        cases.append({
            "id": i, "status": status, "priority": ("P0", "P1", "P2")[i % 3],
            "category": ("csam", "ncii", "other_illegal", "policy")[i % 4],
            "minor_safety": i % 10 == 0, "at": dt(opened),
            "due": dt(opened + timedelta(hours=24)),
        })  # fmt: skip
        reports.append({
            "id": i, "case_id": i, "content_id": f"c-{i}",
            "url": f"https://platform.example/p/{i}" if i % 5 == 0 else None,
            "police": f"PC-{i}" if i % 50 == 0 else None, "digest": f"d{i:015x}",
            "reference": f"TF-{i}" if i % 20 == 0 else None,
            "at": dt(opened),
        })  # fmt: skip
        items.append({
            "id": i, "case_id": i, "content_id": f"c-{i}", "account": f"acct-{i // 10}",
            "md5": _md5(i), "pdq": _pdq(i) if i % 2 == 0 else None, "open": status == "open",
            "at": dt(opened),
        })  # fmt: skip
    return cases, reports, items


def _fill(db: Database) -> float:
    started = time.perf_counter()
    dt = utc_text if db.is_sqlite else (lambda d: d)  # as the product stores times
    for first in range(1, CASES + 1, BATCH):
        cases, reports, items = _rows(first, min(first + BATCH, CASES + 1), dt)
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO cases (id, status, priority, category, minor_safety, reasons, "
                "facts, respond_by, opened_at, updated_at) VALUES (:id, :status, :priority, "
                ":category, :minor_safety, '[]', '{}', :due, :at, :at)"), cases)  # fmt: skip
            conn.execute(text(
                "INSERT INTO reports (id, case_id, content_id, content_url, police_case_number, "
                "reporter_reference, category, reporter_role, good_faith_statement, description, "
                "source, principal_kind, principal_name, submitter, status_digest, received_at) "
                "VALUES (:id, :case_id, :content_id, :url, :police, :reference, 'policy', "
                "'user', false, '', 'api', 'api_key', 'bench', 'bench', :digest, :at)"),
                reports)  # fmt: skip
            conn.execute(text(
                "INSERT INTO case_items (id, case_id, content_id, root_content_id, account_id, "
                "md5, pdq, open, added_at) VALUES (:id, :case_id, :content_id, :content_id, "
                ":account, :md5, :pdq, :open, :at)"), items)  # fmt: skip
        console.print(f"{min(first + BATCH - 1, CASES):,} cases", end="\r")
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _queries(rng: random.Random) -> dict[str, list[str]]:
    def draw(step: int = 1) -> int:
        return rng.randrange(step, CASES + 1, step)

    return {
        "case number": [case_number(draw()) for _ in range(QUERIES)],
        "content id": [f"c-{draw()}" for _ in range(QUERIES)],
        "account id": [f"acct-{draw() // 10}" for _ in range(QUERIES)],
        "content URL": [f"https://platform.example/p/{draw(5)}" for _ in range(QUERIES)],
        "MD5": [_md5(draw()) for _ in range(QUERIES)],
        "PDQ": [_pdq(draw(2)) for _ in range(QUERIES)],
        "police case number": [f"PC-{draw(50)}" for _ in range(QUERIES)],
        "reporter's reference": [f"TF-{draw(20)}" for _ in range(QUERIES)],
        "no search (first page)": [""] * QUERIES,
    }


def _time(db: Database, actor: Principal, values: list[str]) -> tuple[float, float, int]:
    """p50 and p95 in ms, and how many searches found something."""
    times, found = [], 0
    now = START + timedelta(days=400)
    for value in values:
        started = time.perf_counter()
        page = review.search(uow=SqlAlchemyUnitOfWork(db, readonly=True), actor=actor,
                             query=CaseSearch(text=value or None), now=now)  # fmt: skip
        times.append((time.perf_counter() - started) * 1000)
        found += bool(page.entries)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1], found


def _run(name: str, url: str) -> list[dict]:
    db = Database(url)
    migrate.upgrade(db)
    filled = _fill(db)
    console.print(f"{name}: {CASES:,} cases written in {filled:.0f} s")
    rows = []
    for key, values in _queries(random.Random(31)).items():  # noqa: S311 - benchmark data
        for who, actor in (("lead", LEAD), ("reviewer", REVIEWER)):
            p50, p95, found = _time(db, actor, values)
            rows.append({"database": name, "key": key, "who": who,
                         "p50_ms": round(p50, 2), "p95_ms": round(p95, 2),
                         "found": found, "searches": len(values)})  # fmt: skip
    db.dispose()
    return rows


def main() -> None:
    speed = machine_speed()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="takedown-bench-") as folder:
        rows += _run("sqlite", f"sqlite:///{folder}/search.db")
    with scratch_database(console) as url:
        if url is not None:
            rows += _run("postgresql", url)
    table = Table(title=f"case search among {CASES:,} cases (goal: p95 under {GOAL_MS:g} ms)")
    for column in ("database", "key", "who", "p50 ms", "p95 ms", "found", "goal"):
        table.add_column(column)
    for r in rows:
        met = "met" if r["p95_ms"] < GOAL_MS else "NOT met"
        table.add_row(r["database"], r["key"], r["who"], str(r["p50_ms"]), str(r["p95_ms"]),
                      f"{r['found']}/{r['searches']}", met)  # fmt: skip
    Console().print(table)
    worst = max(r["p95_ms"] for r in rows)
    Console().print(
        f"every key on {len({r['database'] for r in rows})} databases: worst p95 {worst:.1f} ms "
        f"(goal: under {GOAL_MS:g} ms): {'met' if worst < GOAL_MS else 'NOT met'}"
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "case_search.json").write_text(
        json.dumps({"machine_speed_ms": speed, "cases": CASES, "rows": rows}, indent=2) + "\n"
    )


if __name__ == "__main__":
    main()
