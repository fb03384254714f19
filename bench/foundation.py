"""The foundation's costs on this machine, printed and written as JSON.

1. Authenticated API requests over real HTTP: a `takedown serve` process on SQLite, and a load
   generator in another process (closed loop, a few connections): requests/s and p50/p99 for
   `/healthz` (no auth, the floor) and `/v1/me` (bearer token lookup on every request).
2. Use-case transactions: audit-logged, outbox-publishing commits per second, and the worker's
   drain rate, on SQLite and (where it answers) PostgreSQL.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from bench._server import running_server
from takedown.identity import Principal, Role
from takedown.jobs import HandlerRegistry, RetryPolicy, Worker
from takedown.services import accounts, audit
from takedown.store import Database, SqlAlchemyUnitOfWork, migrate

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
console = Console(stderr=True)
OPERATOR = Principal.system("bench")


def _load(url: str, path: str, headers: dict[str, str], seconds: float, conns: int) -> dict:
    """Closed-loop load from this process; the server is another process."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    def run() -> list[float]:
        mine = []
        with httpx.Client(base_url=url, headers=headers, timeout=10) as c:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                r = c.get(path)
                mine.append(time.perf_counter() - t)
                assert r.status_code == 200, r.text
        return mine

    started = time.perf_counter()
    with ThreadPoolExecutor(conns) as pool:
        for part in pool.map(lambda _: run(), range(conns)):
            latencies.extend(part)
    elapsed = time.perf_counter() - started
    q = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
    }


def bench_http(seconds: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "TAKEDOWN_DATA_DIR": tmp, "TAKEDOWN_LOG_LEVEL": "WARNING"}
        env.pop("TAKEDOWN_DATABASE_URL", None)
        takedown = str(Path(sys.executable).parent / "takedown")
        subprocess.run([takedown, "db", "upgrade"], env=env, check=True, capture_output=True)
        subprocess.run(
            [takedown, "users", "add", "bench", "--role", "admin"],
            check=True,
            env={**env, "TAKEDOWN_PASSWORD": "bench-password-123"},
            capture_output=True,
        )
        token = subprocess.run(
            [takedown, "users", "token", "bench"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        with running_server(env, 18765) as url:
            results = {
                "healthz": _load(url, "/healthz", {}, seconds, 4),
                "me_bearer": _load(url, "/v1/me", {"Authorization": f"Bearer {token}"}, seconds, 4),
            }
    return results


def bench_store(url: str, n: int) -> dict:
    db = Database(url)
    migrate.upgrade(db)
    accounts.create_user(
        uow=SqlAlchemyUnitOfWork(db), actor=OPERATOR, name="bench", role=Role.admin, password=None
    )
    from takedown.identity import UserCreated

    started = time.perf_counter()
    for i in range(n):
        with SqlAlchemyUnitOfWork(db) as uow:
            audit.record(uow, actor=OPERATOR, action="bench.tx", details={"i": i})
            uow.publish(UserCreated(user_id=i, name="x", role="reviewer"))
            uow.commit()
    tx_rate = n / (time.perf_counter() - started)
    registry = HandlerRegistry()
    registry.register(UserCreated, lambda event, ctx: None)
    worker = Worker(db, registry, policy=RetryPolicy(), batch=500)
    started = time.perf_counter()
    handled = 0
    while True:
        done = worker.run_once()
        if not done:
            break
        handled += done
    drain_rate = handled / (time.perf_counter() - started)
    started = time.perf_counter()
    result = audit.verify(uow=SqlAlchemyUnitOfWork(db, readonly=True), actor=OPERATOR)
    verify_rate = result.entries / (time.perf_counter() - started)
    assert result.ok
    db.dispose()
    return {
        "commits_per_s": tx_rate,
        "events_drained_per_s": drain_rate,
        "audit_verified_per_s": verify_rate,
    }


def main() -> None:
    seconds = float(os.environ.get("BENCH_SECONDS", "5"))
    results: dict[str, object] = {"machine": {"cpus": os.cpu_count()}}
    console.print("HTTP over loopback …")
    results["http"] = bench_http(seconds)
    with tempfile.TemporaryDirectory() as tmp:
        console.print("store on SQLite …")
        results["store_sqlite"] = bench_store(f"sqlite:///{tmp}/bench.db", 2000)
    pg_admin = os.environ.get(
        "TAKEDOWN_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@localhost:5432/postgres"
    )
    try:
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        name = f"takedown_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            console.print("store on PostgreSQL …")
            url = make_url(pg_admin).set(database=name).render_as_string(hide_password=False)
            results["store_postgresql"] = bench_store(url, 2000)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    except Exception as exc:
        results["store_postgresql"] = {"skipped": str(exc).splitlines()[0]}

    table = Table(title="takedown foundation benchmark")
    table.add_column("measure")
    table.add_column("value", justify="right")
    http = results["http"]
    assert isinstance(http, dict)
    for name, r in http.items():
        table.add_row(f"GET {name}: requests/s", f"{r['rps']:.0f}")
        table.add_row(f"GET {name}: p50 / p99 ms", f"{r['p50_ms']:.2f} / {r['p99_ms']:.2f}")
    for key in ("store_sqlite", "store_postgresql"):
        store = results[key]
        assert isinstance(store, dict)
        if "skipped" in store:
            table.add_row(key, f"skipped: {store['skipped']}")
            continue
        table.add_row(f"{key}: audited+outbox commits/s", f"{store['commits_per_s']:.0f}")
        table.add_row(f"{key}: outbox events drained/s", f"{store['events_drained_per_s']:.0f}")
        table.add_row(f"{key}: audit entries verified/s", f"{store['audit_verified_per_s']:.0f}")
    Console().print(table)
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "foundation.json"
    path.write_text(json.dumps(results, indent=2))
    console.print(f"written to {path}")
