"""A hash exchange's first sync of ``BENCH_SYNC_ENTRIES`` (default 1,000,000) PDQ hashes from
a local server that speaks StopNCII's ``FetchHashes`` (1,000 records a page, with page
tokens), on SQLite and PostgreSQL. Goal: under 60 s and under 1 GB peak memory, with entries
matchable as they arrive.

The sync runs in a process of its own, as the ``exchanges`` lane would run it, with the
process's bank indexes loaded first (so they grow page by page, as a serving process's do);
its peak memory is that process's maximum resident set. While it runs, a probe in the same
process looks up a hash from the first page after each page is stored: "matchable as they
arrive" is the number of pages after which the first page's hash first matched (1: at once).
The server builds each page's JSON as asked, so its own time is part of the figure, as a real
exchange's would be.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from rich.console import Console
from rich.table import Table

from bench._postgres import scratch_database
from bench.intake import machine_speed

OUT = Path(__file__).resolve().parent / "results"
console = Console(stderr=True)
ENTRIES = int(os.environ.get("BENCH_SYNC_ENTRIES", "1000000"))
PAGE = 1000
GOAL_S = 60.0
GOAL_BYTES = 1 << 30
KEYS = {"subscription_key": "bench-sub", "functions_key": "bench-fn"}


def pdq(n: int) -> str:
    """A distinct, well-spread PDQ hash for entry ``n``."""
    x = (n * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019) & ((1 << 64) - 1)
    words = []
    for _ in range(4):
        x ^= x >> 33
        x = (x * 0xFF51AFD7ED558CCD) & ((1 << 64) - 1)
        x ^= x >> 29
        words.append(f"{x:016x}")
    return "".join(words)


class _Exchange(BaseHTTPRequestHandler):
    total = ENTRIES

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        q = dict(parse_qsl(urlsplit(self.path).query))
        if self.headers.get("x-functions-key") != KEYS["functions_key"]:
            self.send_response(401)
            self.end_headers()
            return
        offset = int(q.get("nextPageToken", "0") or 0)
        size = min(int(q.get("pageSize", PAGE)), PAGE)
        end = min(offset + size, self.total)
        records = [
            {
                "lastModtimestamp": 100 + n,
                "signalType": "ImagePDQ",
                "hashValue": pdq(n),
                "hashStatus": "Active",
                "caseNumbers": {f"C{n}": "Active"},
                "CSPFeedbacks": [],
            }
            for n in range(offset, end)
        ]
        more = end < self.total
        body = json.dumps(
            {
                "count": len(records),
                "hashRecords": records,
                "hasMoreRecords": more,
                "nextPageToken": str(end) if more else None,
                "nextSetTimestamp": 100 + self.total,
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


_CHILD = r"""
import json, resource, sys, time
from takedown.config import Settings
from takedown.identity import Principal
from takedown.matching import BankPolicy, SignalType
from takedown.matching.exchanges import ExchangeKind
from takedown.server.container import Container
from takedown.flows import SYSTEM_EVENTS
from takedown.jobs import HandlerRegistry
from takedown.services import banks, exchanges
from takedown.store import Database, migrate
from bench.exchange_sync import KEYS, pdq

url, data_dir, server = sys.argv[1:4]
settings = Settings(database_url=url, data_dir=data_dir, log_format="text")
db = Database(url)
migrate.upgrade(db)
c = Container(settings=settings, db=db, registry=HandlerRegistry(SYSTEM_EVENTS))
op = Principal.system("bench")
banks.create_bank(uow=c.uow(), matcher=c.matcher, actor=op, name="sn", policy=BankPolicy.block)
exchanges.add_exchange(uow=c.uow(), actor=op, vault=None, name="sn", kind=ExchangeKind.stopncii,
                       bank="sn", url=server, credentials=KEYS, now=c.now())
c.matcher.indexes()  # loaded, as a serving process's are
first = pdq(0)
pages, seen_at = [0], [None]
deps = c.exchange_sync()
store_page = exchanges._store_page

def probing(uow, **kw):
    out = store_page(uow, **kw)
    pages[0] += 1
    if seen_at[0] is None and c.matcher.indexes().lookup({SignalType.pdq: first}):
        seen_at[0] = pages[0]
    return out

exchanges._store_page = probing
start = time.perf_counter()
result = exchanges.sync_exchange(deps, name="sn", actor=op)
took = time.perf_counter() - start
live = exchanges.get_exchange(uow=c.uow(readonly=True), actor=op, name="sn")[1]
print(json.dumps({
    "ok": result.ok, "error": result.error, "added": result.added, "pages": result.pages,
    "live": live, "seconds": took, "first_matched_after_pages": seen_at[0],
    "index_entries": len(c.matcher.indexes()),
    "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
}))
"""


def _run(url: str, data_dir: str, server: str) -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=f"{root / 'src'}:{root}")
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, url, data_dir, server],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    speed = machine_speed()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Exchange)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    server = f"http://127.0.0.1:{httpd.server_address[1]}"
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append({"db": "sqlite", **_run(f"sqlite:///{tmp}/sync.db", tmp, server)})
        with scratch_database(console) as pg, tempfile.TemporaryDirectory() as tmp:
            if pg is not None:
                rows.append({"db": "postgresql", **_run(pg, tmp, server)})
    finally:
        httpd.shutdown()
    table = Table(title=f"exchange sync: {ENTRIES:,} StopNCII hashes, {PAGE} a page")
    for col in ("db", "seconds", "entries/s", "peak memory", "first page matchable after", "ok"):
        table.add_column(col)
    for r in rows:
        good = (
            r["ok"]
            and r["live"] == ENTRIES
            and r["index_entries"] == ENTRIES
            and r["seconds"] < GOAL_S
            and r["peak_rss"] < GOAL_BYTES
        )
        table.add_row(
            r["db"],
            f"{r['seconds']:.1f} s (goal < {GOAL_S:.0f})",
            f"{ENTRIES / r['seconds']:,.0f}",
            f"{r['peak_rss'] / 2**20:,.0f} MiB (goal < 1024)",
            f"{r['first_matched_after_pages']} page(s)",
            "yes" if good else f"NO ({r.get('error')})",
        )
    console.print(table)
    console.print(f"machine speed (ms, lower is faster): {speed}")
    OUT.mkdir(exist_ok=True)
    (OUT / "exchange_sync.json").write_text(
        json.dumps(
            {"entries": ENTRIES, "page": PAGE, "machine_speed": speed, "runs": rows}, indent=2
        )
    )


if __name__ == "__main__":
    main()
