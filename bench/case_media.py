"""Finding a report's case by near-identical media (PDQ within 31 bits of an open item), on
SQLite and PostgreSQL, at 1,000 and 10,000 open items.

Compared: the process's in-memory index (``services.case_media.CaseMediaIndex``: catch up on
new items, search, check the candidates in the database), against reading every open item
with a hash and comparing it in Python (what intake did before), both in a read-only unit of
work of their own per lookup. Half the items have a near twin in the same case; the queries
are random hashes, so most find nothing, as most reports about new media do.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench._postgres import scratch_database
from takedown.cases import Case, CaseFacts, CaseStatus, Priority
from takedown.services.case_media import CaseMediaIndex
from takedown.store import Database, SqlAlchemyUnitOfWork, migrate

OUT = Path(__file__).resolve().parent / "results"
SIZES = (1_000, 10_000)
NOW = datetime(2026, 12, 1, tzinfo=UTC)
console = Console(stderr=True)


def _fill(db: Database, n: int, rng: random.Random) -> None:
    with SqlAlchemyUnitOfWork(db) as uow:
        for i in range(n // 2):
            case = Case(
                id=uow.cases.new_id(),
                status=CaseStatus.open,
                priority=Priority.p2,
                reasons=[],
                facts=CaseFacts(),
                respond_by=NOW,
                remove_by=None,
                opened_at=NOW,
                updated_at=NOW,
                confirmed_at=None,
            )
            uow.cases.save(case, before=None)
            case_id = case.id
            base = rng.getrandbits(256)
            for name, value in (
                (f"a{i}", base),
                (f"b{i}", base ^ (rng.getrandbits(256) & (1 << 40) - 1)),
            ):
                uow.cases.add_item(
                    case_id=case_id,
                    content_id=name,
                    root_content_id=name,
                    account_id=None,
                    pdq=f"{value:064x}",
                    md5=None,
                    sha256=None,
                    open=True,
                    added_at=NOW,
                )
        uow.commit()


def _scan(db: Database, pdq: str) -> int | None:
    best = None
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        rows = uow.raw.all("SELECT case_id, pdq FROM case_items WHERE open AND pdq IS NOT NULL")
    for case_id, other in rows:
        distance = (int(pdq, 16) ^ int(other, 16)).bit_count()
        if distance <= 31 and (best is None or (distance, case_id) < best):
            best = (distance, case_id)
    return best[1] if best else None


def _indexed(db: Database, pdq: str, *, index: CaseMediaIndex) -> int | None:
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        return index.nearest_open_case(uow, pdq, 31)


def _measure(backend: str, url: str, n: int) -> dict[str, object]:
    db = Database(url)
    migrate.upgrade(db)
    rng = random.Random(n)  # noqa: S311 - a repeatable load, not a secret
    _fill(db, n, rng)
    index = CaseMediaIndex()
    queries = [f"{rng.getrandbits(256):064x}" for _ in range(300)]
    _indexed(db, queries[0], index=index)  # loads the open items once, as a server does
    timings = {}
    for name, lookup, count in (
        ("scan", _scan, 50),
        ("index", partial(_indexed, index=index), 300),
    ):
        started = time.perf_counter()
        for query in queries[:count]:
            lookup(db, query)
        timings[name] = (time.perf_counter() - started) / count * 1000
    db.dispose()
    return {
        "backend": backend,
        "open_items": n,
        "scan_ms": timings["scan"],
        "index_ms": timings["index"],
    }


def main() -> None:
    rows = []
    for n in SIZES:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(_measure("sqlite", f"sqlite:///{tmp}/bench.db", n))
        with scratch_database(console) as url:
            if url is not None:
                rows.append(_measure("postgresql", url, n))
    table = Table(title="A report's case by near-identical media (ms a lookup)")
    for column in ("database", "open items", "compare with every item", "index", "ratio"):
        table.add_column(column, justify="right")
    for r in rows:
        scan, indexed = float(r["scan_ms"]), float(r["index_ms"])
        table.add_row(
            str(r["backend"]),
            f"{r['open_items']:,}",
            f"{scan:.2f}",
            f"{indexed:.3f}",
            f"{scan / indexed:.1f}x",
        )
    Console().print(table)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "case_media.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
