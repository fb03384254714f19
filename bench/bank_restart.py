"""A web process's restart with a large bank, on PostgreSQL: how long until its indexes are
ready to match (``Matcher.reload`` from nothing, what ``takedown serve`` does at start), and
the memory they take. ``TAKEDOWN_BENCH_BANK_ENTRIES`` entries (10,000,000), half PDQ and half
MD5, as NCMEC's list gives them, written by PostgreSQL itself (``generate_series``).

First the maintenance lane's snapshot (``matcher.snapshot_banks``: every entry read, the
arrays stored), timed; then a page of 5,000 entries added after it, so the start applies the
changes since as well; then the start from the snapshot, timed. Where
``TAKEDOWN_BENCH_BANK_FULL_READ`` is 1 (the default up to two million entries), a start that
reads every entry instead is timed too.

Goal (issue 30): ready in under 10 s at ten million entries. Then another page of 5,000
entries, caught up with in place by the running process: the time of that too.
"""

from __future__ import annotations

import json
import os
import resource
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from bench._postgres import scratch_database
from takedown.identity import Principal
from takedown.matching import BankPolicy, SignalType
from takedown.services import banks
from takedown.services.matcher import Matcher, snapshot_banks
from takedown.store import Database, SqlAlchemyUnitOfWork, migrate
from takedown.store.types import utcnow

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
console = Console(stderr=True)
ENTRIES = int(os.environ.get("TAKEDOWN_BENCH_BANK_ENTRIES", "10000000"))
GOAL_SECONDS = 10.0
FULL_READ = os.environ.get("TAKEDOWN_BENCH_BANK_FULL_READ", "1" if ENTRIES <= 2_000_000 else "0")
OPERATOR = Principal.system("bench")


def _fill(db: Database, n: int) -> float:
    started = time.perf_counter()
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO bank_entries (bank_id, signal_type, value, source, note, added_at) "
                "SELECT 1, CASE WHEN g % 2 = 0 THEN 'pdq' ELSE 'md5' END, "
                "CASE WHEN g % 2 = 0 THEN md5(g::text) || md5((g + 1)::text) "
                "ELSE md5(g::text) END, 'bench', '', now() "
                "FROM generate_series(1, :n) AS g"
            ),
            {"n": n},
        )
        conn.execute(text("UPDATE matching_state SET version = version + 1"))
        conn.execute(text("ANALYZE bank_entries"))  # as autovacuum would after such a load
    return time.perf_counter() - started


def main() -> None:
    with scratch_database(console) as url:
        if url is None:
            console.print("[yellow]bank_restart skipped: it needs PostgreSQL")
            return
        db = Database(url)
        migrate.upgrade(db)
        matcher = Matcher(db)
        banks.create_bank(uow=SqlAlchemyUnitOfWork(db), matcher=matcher, actor=OPERATOR,
                          name="ncmec", policy=BankPolicy.block_and_report)  # fmt: skip
        console.print(f"writing {ENTRIES:,} entries")
        filled = _fill(db, ENTRIES)

        def page(start: int) -> None:
            items = [banks.EntryIn("md5", f"{i:032x}") for i in range(start, start + 5_000)]
            banks.add_entries(uow=SqlAlchemyUnitOfWork(db), matcher=matcher, actor=OPERATOR,
                              bank_name="ncmec", items=items)  # fmt: skip

        console.print("the maintenance lane's snapshot")
        started = time.perf_counter()
        stored = snapshot_banks(lambda: SqlAlchemyUnitOfWork(db), now=utcnow())
        snapshotted = time.perf_counter() - started
        assert stored is not None and stored.entries == ENTRIES
        page(0)  # changed after the snapshot: applied at start
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        console.print("a start from the snapshot")
        started = time.perf_counter()
        restarted = Matcher(db)
        indexes = restarted.reload()
        ready = time.perf_counter() - started
        assert restarted.from_snapshot == 1 and restarted.rebuilt == 0
        for query in (
            {SignalType.md5: "c4ca4238a0b923820dcc509a6f75849b"},  # md5('1')
            {SignalType.md5: f"{17:032x}"},
        ):  # from the page after the snapshot
            assert indexes.lookup(query), f"{query} should match"  # fmt: skip
        rss = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
        arrays_mib = indexes.nbytes / 2**20
        page(5_000)  # another process adds a page: caught up with in place
        started = time.perf_counter()
        restarted.reload()
        caught_up = time.perf_counter() - started
        assert restarted.caught_up == 1
        full = None
        if FULL_READ == "1":
            with SqlAlchemyUnitOfWork(db) as uow:
                uow.bank_snapshots.keep_latest(0)
                uow.commit()
            console.print("a start that reads every entry")
            started = time.perf_counter()
            reader = Matcher(db)
            reader.reload()
            full = round(time.perf_counter() - started, 2)
            assert reader.rebuilt == 1
        db.dispose()
    result = {
        "entries": ENTRIES,
        "fill_seconds": round(filled, 1),
        "snapshot_seconds": round(snapshotted, 1),
        "ready_seconds": round(ready, 2),
        "index_arrays_mib": round(arrays_mib),
        "peak_rss_growth_mib": round(rss),  # above the snapshot step's peak, in this process
        "catch_up_5000_seconds": round(caught_up, 3),
        "full_read_seconds": full,
        "goal_met": ready < GOAL_SECONDS,
    }
    table = Table(title="A web process's restart with a large bank (PostgreSQL)")
    for key in result:
        table.add_column(key.replace("_", " "), justify="right")
    table.add_row(*(str(v) for v in result.values()))
    Console().print(table)
    Console().print(
        f"ready to match {ENTRIES:,} entries in {ready:.1f} s "
        f"(goal: under {GOAL_SECONDS:g} s): {'met' if ready < GOAL_SECONDS else 'NOT met'}"
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bank_restart.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
