"""Enforcement at scale, on SQLite and PostgreSQL.

1. Delivery: a running ``takedown serve`` and a local receiver that checks every signature; a
   post with 2,226 reposts (2,227 copies), then one with 100,000; a lead decides the violation
   over HTTP; timed from the decision's answer to the last remove action the receiver
   acknowledged. Goals: 2,227 copies under 2 s, 100,000 under 30 s.
2. The takedown set's computation (``services.enforcement.takedown_set``: the repost family
   and the registry's matching media) with 1,000,000 items in the registry, a PDQ hash on
   each, searched as the product does (``RegistrySearch.for_database``: the process's index on
   SQLite, the database's chunk tables on PostgreSQL). Goal: under 1 s. Ten million on
   PostgreSQL: ``bench/registry_search.py``.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import track
from rich.table import Table

from bench._postgres import scratch_database
from bench._server import running_server
from bench.intake import machine_speed
from takedown.identity import SIGNATURE_HEADER, Principal, Role, Scope, signature_valid
from takedown.services import accounts, keys
from takedown.services.enforcement import EnforcementContext, RegistrySearch, takedown_set
from takedown.store import Database, SqlAlchemyUnitOfWork, migrate

OUT = Path(__file__).resolve().parent / "results"
SECRET = "bench-webhook-secret"
FAMILIES = tuple(
    int(n) for n in os.environ.get("TAKEDOWN_BENCH_FAMILIES", "2226,100000").split(",")
)
REGISTRY = int(os.environ.get("TAKEDOWN_BENCH_REGISTRY", "1000000"))
BATCH = os.environ.get("TAKEDOWN_BENCH_ACTION_BATCH", "500")
GOALS = {2226: 2.0, 100000: 30.0}
OPERATOR = Principal.system("bench")
console = Console(stderr=True)


class _Receiver:
    def __init__(self) -> None:
        self.removed: set[str] = set()
        self.last_at = 0.0
        self.refused = 0
        self.lock = threading.Lock()


@contextmanager
def _receiver() -> Iterator[tuple[str, _Receiver]]:
    state = _Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ok = signature_valid(self.headers.get(SIGNATURE_HEADER), SECRET, body, now=time.time())
            if ok:
                removed = [
                    a["content_id"] for a in json.loads(body)["actions"] if a["type"] == "remove"
                ]
                with state.lock:
                    state.removed.update(removed)
                    state.last_at = time.perf_counter()
            else:
                state.refused += 1
            self.send_response(200 if ok else 401)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/actions", state
    finally:
        server.shutdown()
        server.server_close()


def _family(db: Database, root: str, reposts: int, rng: random.Random) -> None:
    """``root`` and ``reposts`` reposts of it, some of reposts."""
    rows = [
        {"content_id": root, "account_id": "uploader", "parent": None, "at": _NOW},
    ]
    for i in range(reposts):
        parent = rows[rng.randrange(len(rows))]["content_id"] if i > 10 else root
        rows.append(
            {
                "content_id": f"{root}-r{i}",
                "account_id": f"fan-{i % 5000}",
                "parent": parent,
                "at": _NOW,
            }
        )
    _insert(db, rows)


_NOW = datetime(2026, 12, 3, tzinfo=UTC)


def _insert(db: Database, rows: list[dict[str, object]]) -> None:
    for start in range(0, len(rows), 20_000):
        with SqlAlchemyUnitOfWork(db) as uow:
            raw = uow.raw
            raw.write_many(
                "INSERT INTO content (content_id, account_id, parent_content_id, pdq, "
                "first_seen_at) VALUES (:content_id, :account_id, :parent, :pdq, :at)",
                [{"pdq": None, **r, "at": raw.dt(r["at"])} for r in rows[start : start + 20_000]],
            )
            uow.commit()


def _delivery(name: str, database_url: str, folder: Path, port: int) -> list[dict[str, object]]:
    db = Database(database_url)
    migrate.upgrade(db)
    rng = random.Random(20)  # noqa: S311 - benchmark data, not secrets
    for n in FAMILIES:
        _family(db, f"post{n}", n, rng)
    platform = keys.create_api_key(
        uow=SqlAlchemyUnitOfWork(db), actor=OPERATOR, name="platform", scopes=[Scope.report]
    ).secret
    accounts.create_user(
        uow=SqlAlchemyUnitOfWork(db),
        actor=OPERATOR,
        name="lead",
        role=Role.child_safety_lead,
        password=None,
    )
    lead = accounts.create_personal_token(
        uow=SqlAlchemyUnitOfWork(db), actor=OPERATOR, user_name="lead", label="bench"
    ).secret
    db.dispose()
    results = []
    with _receiver() as (hook_url, hook):
        env = {
            **os.environ,
            "TAKEDOWN_DATABASE_URL": database_url,
            "TAKEDOWN_DATA_DIR": str(folder),
            "TAKEDOWN_LOG_LEVEL": "WARNING",
            "TAKEDOWN_PLATFORM_WEBHOOK_URL": hook_url,
            "TAKEDOWN_PLATFORM_WEBHOOK_SECRET": SECRET,
            "TAKEDOWN_ACTION_BATCH_SIZE": BATCH,
            "TAKEDOWN_REVIEW_SAMPLE_PERCENT": "0",
        }
        with (
            running_server(env, port, cpus={0}) as url,
            httpx.Client(base_url=url, timeout=300) as client,
        ):
            for n in FAMILIES:
                root = f"post{n}"
                case = client.post(
                    "/v1/reports",
                    json={"content_id": root, "category": "policy", "reporter_role": "user"},
                    headers={"Authorization": f"Bearer {platform}"},
                ).json()["case_id"]
                auth = {"Authorization": f"Bearer {lead}"}
                client.post(f"/v1/cases/{case}/claim", headers=auth).raise_for_status()
                asked = time.perf_counter()
                answer = client.post(
                    f"/v1/cases/{case}/decisions",
                    json={"outcome": "violation", "category": "policy", "reason": "spam"},
                    headers=auth,
                )
                answered = time.perf_counter()
                answer.raise_for_status()
                expected = {root, *(f"{root}-r{i}" for i in range(n))}
                deadline = time.monotonic() + 600
                while not expected <= hook.removed and time.monotonic() < deadline:
                    time.sleep(0.01)
                done = expected <= hook.removed
                results.append(
                    {
                        "database": name,
                        "copies": n + 1,
                        "decision_answer_s": round(answered - asked, 3),
                        "answer_to_last_ack_s": round(hook.last_at - answered, 3) if done else None,
                        "all_delivered": done,
                        "refused_signatures": hook.refused,
                        "batch": int(BATCH),
                    }
                )
                console.print(results[-1])
    return results


def _set_timing(name: str, database_url: str) -> dict[str, object]:
    db = Database(database_url)
    migrate.upgrade(db)
    rng = random.Random(21)  # noqa: S311 - benchmark data, not secrets
    rows = [
        {
            "content_id": f"item-{i}",
            "account_id": f"acct-{i % 50_000}",
            "parent": None,
            "pdq": f"{rng.getrandbits(256):064x}",
            "at": _NOW,
        }
        for i in track(range(REGISTRY - 2_227), description=f"{REGISTRY:,} items", console=console)
    ]
    _insert(db, rows)
    picture = f"{rng.getrandbits(256):064x}"
    family = [
        {"content_id": "target", "account_id": "up", "parent": None, "pdq": picture, "at": _NOW}
    ]
    for i in range(2_223):
        parent = family[rng.randrange(len(family))]["content_id"]
        family.append(
            {"content_id": f"t-r{i}", "account_id": f"fan-{i}", "parent": parent, "at": _NOW}
        )
    for i in range(3):  # re-uploads a few bits away
        near = int(picture, 16) ^ (rng.getrandbits(256) & ((1 << 12) - 1))
        family.append(
            {
                "content_id": f"t-c{i}",
                "account_id": f"up-{i}",
                "parent": None,
                "pdq": f"{near:064x}",
                "at": _NOW,
            }
        )
    _insert(db, family)
    with SqlAlchemyUnitOfWork(db) as uow:
        uow.raw.write("ANALYZE" if db.is_sqlite else "ANALYZE content, content_pdq_chunks", {})
        uow.commit()
    media = RegistrySearch.for_database(db)  # as the product chooses
    started = time.perf_counter()
    media.warm(db)
    warmed = time.perf_counter() - started
    ctx = EnforcementContext(media=media)
    times, sizes = [], set()
    for _ in range(7):
        with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
            started = time.perf_counter()
            found = takedown_set(uow, ["target"], ctx)
            times.append(time.perf_counter() - started)
        sizes.add(len(found.items))
    db.dispose()
    return {
        "database": name,
        "registry": REGISTRY,
        "set_size": sorted(sizes),
        "median_s": round(statistics.median(times), 3),
        "max_s": round(max(times), 3),
        "index_load_s": round(warmed, 2),
    }


def main() -> None:
    speed = machine_speed()
    console.print(
        "machine speed: a fixed Python loop took "
        + ", ".join(f"{ms:.0f} ms on core {core}" for core, ms in speed.items())
        + " (lower is faster)"
    )
    delivery: list[dict[str, object]] = []
    sets: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        delivery += _delivery("sqlite", f"sqlite:///{folder / 'deliver.db'}", folder, 8941)
        sets.append(_set_timing("sqlite", f"sqlite:///{folder / 'set.db'}"))
        with scratch_database(console) as pg_url:
            if pg_url is not None:
                delivery += _delivery("postgresql", pg_url, folder, 8942)
        with scratch_database(console) as pg_url:
            if pg_url is not None:
                sets.append(_set_timing("postgresql", pg_url))
    table = Table(title="enforcement: decision to the last action acknowledged")
    for column in ("database", "copies", "decision answer s", "answer to last ack s", "goal"):
        table.add_column(column)
    for r in delivery:
        goal = GOALS.get(int(r["copies"]) - 1)  # type: ignore[call-overload]
        took = r["answer_to_last_ack_s"]
        met = "" if goal is None else ("met" if took is not None and took < goal else "NOT met")
        table.add_row(
            str(r["database"]),
            f"{r['copies']:,}",
            str(r["decision_answer_s"]),
            str(took),
            f"< {goal:.0f} s: {met}" if goal else "",
        )
    Console().print(table)
    sets_table = Table(title=f"the takedown set with {REGISTRY:,} registered items (goal < 1 s)")
    for column in ("database", "set size", "median s", "max s", "index load s"):
        sets_table.add_column(column)
    for r in sets:
        sets_table.add_row(
            str(r["database"]),
            str(r["set_size"]),
            str(r["median_s"]),
            str(r["max_s"]),
            str(r["index_load_s"]),
        )
    Console().print(sets_table)
    OUT.mkdir(exist_ok=True)
    (OUT / "enforcement.json").write_text(
        json.dumps(
            {"machine_speed_ms": speed, "delivery": delivery, "takedown_set": sets}, indent=2
        )
        + "\n"
    )
