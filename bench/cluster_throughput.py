"""Throughput of the distributed mode against the number of processes, on this machine's
PostgreSQL and RabbitMQ (both on the same two cores as everything else).

- Reports: 1 and 2 web processes (``TAKEDOWN_WEB_PROCESSES``) take ``POST /v1/reports`` from
  the open-loop generator (``bench._loadgen``) sent faster than they can answer
  (``OFFERED`` a second for ``SECONDS``): what they answered a second is their capacity.
- Scans: 1 and 2 web processes take ``POST /v1/scan`` of a 640 x 480 JPEG from ``CLIENTS``
  clients at once for ``SECONDS``.
- Actions: 1 and 2 workers deliver a violation's removals (a post with ``REPOSTS`` reposts,
  one action each) to a local webhook receiver that checks every signature; timed from the
  decision's answer to the receiver's last acknowledgement.

Each figure comes with the CPU its processes used and PostgreSQL's, so it reads per core: the
capacity table in ``docs/deploying.md`` is worked from these (per core = rate / cores the
part used). The load generators share the same two cores, so the totals are this machine's,
not the parts' limits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from tests.cluster_support import Part, delete_queues, platform_and_lead
from tests.conftest import broker_problem, free_port
from tests.enforcement_support import SECRET, receiver

from bench._postgres import scratch_database
from bench._server import cpu_seconds
from takedown.identity import Principal
from takedown.store import Database, SqlAlchemyUnitOfWork, migrate

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
console = Console(stderr=True)
SECONDS = float(os.environ.get("TAKEDOWN_BENCH_SECONDS", "8"))
OFFERED = int(os.environ.get("TAKEDOWN_BENCH_OFFERED", "3000"))
CLIENTS = 8
REPOSTS = int(os.environ.get("TAKEDOWN_BENCH_REPOSTS", "4000"))
BROKER = os.environ.get("TAKEDOWN_BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
OPERATOR = Principal.system("bench")


def group_cpu(pid: int) -> float:
    """CPU seconds used so far by every process of ``pid``'s session (a part and the
    processes it started)."""
    return cpu_seconds(lambda _, fields: int(fields[3]) == pid)


def postgres_cpu() -> float:
    """CPU seconds used so far by this machine's PostgreSQL server processes."""
    return cpu_seconds(lambda proc, _: (proc / "comm").read_text().strip() == "postgres")


def _env(database_url: str, prefix: str, tmp: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    env.update(
        TAKEDOWN_DATABASE_URL=database_url,
        TAKEDOWN_DATA_DIR=str(tmp / "data"),
        TAKEDOWN_LOG_LEVEL="WARNING",
        TAKEDOWN_BROKER_URL=BROKER,
        TAKEDOWN_BROKER_PREFIX=prefix,
        TAKEDOWN_REVIEW_SAMPLE_PERCENT="0",
        **more,
    )
    return env


def _ready(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not become ready")


def _reports(url: str, key: str, tag: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench._loadgen", "--url", url, "--key", key,
         "--rate", str(OFFERED), "--seconds", str(SECONDS), "--tag", tag],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    return json.loads(done.stdout)


def _picture() -> bytes:
    from tests.media_support import PHOTOS, encode, photo

    return encode(photo(PHOTOS[0]).convert("RGB").resize((640, 480)), "JPEG", quality=90)


def _scans(url: str, key: str, tag: str) -> dict:
    data = _picture()
    answered: list[int] = []
    until = time.monotonic() + SECONDS

    def client(n: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            i = 0
            while time.monotonic() < until:
                i += 1
                answer = http.post(
                    "/v1/scan",
                    headers={"Authorization": f"Bearer {key}"},
                    data={"content_id": f"{tag}-{n}-{i}", "account_id": "u"},
                    files={"media": ("a.jpg", data, "image/jpeg")},
                )
                if answer.status_code == 200:
                    answered.append(1)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"scans": len(answered), "per_second": len(answered) / (time.monotonic() - started)}


def _web_runs(database_url: str, tmp: Path) -> list[dict]:
    db = Database(database_url)
    rows = []
    for processes in (1, 2):
        platform, _ = platform_and_lead(db)
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        prefix = f"tp{uuid.uuid4().hex[:6]}"
        env = _env(database_url, prefix, tmp, TAKEDOWN_WEB_PROCESSES=str(processes))
        web = Part(f"web{processes}", ["serve", "--port", str(port)], env, tmp)
        try:
            _ready(url)
            _reports(url, platform, f"warm{processes}")
            before, pg = group_cpu(web.proc.pid), postgres_cpu()
            reports = _reports(url, platform, f"r{processes}")
            cpu, pg = group_cpu(web.proc.pid) - before, postgres_cpu() - pg
            rows.append({
                "what": "reports", "web processes": processes,
                "per_second": reports["achieved_rps"], "p99_ms": reports["p99_ms"],
                "cores_used": cpu / reports["seconds"], "postgres_cores": pg / reports["seconds"],
            })  # fmt: skip
            before, pg = group_cpu(web.proc.pid), postgres_cpu()
            scans = _scans(url, platform, f"s{processes}")
            cpu, pg = group_cpu(web.proc.pid) - before, postgres_cpu() - pg
            rows.append({
                "what": "scans", "web processes": processes, "per_second": scans["per_second"],
                "p99_ms": None, "cores_used": cpu / SECONDS, "postgres_cores": pg / SECONDS,
            })  # fmt: skip
        finally:
            web.stop()
            delete_queues(BROKER, prefix)
    db.dispose()
    return rows


def _action_runs(database_url: str, tmp: Path) -> list[dict]:
    db = Database(database_url)
    rows = []
    with receiver(SECRET) as hook:
        for workers in (1, 2):
            platform, lead = platform_and_lead(db)
            root = f"root-{workers}"
            with SqlAlchemyUnitOfWork(db) as uow:
                for i in range(REPOSTS):
                    uow.content.upsert(
                        content_id=f"{root}-r{i}",
                        account_id=f"fan-{i}",
                        parent_content_id=root,
                        hashes={},
                        scanned=False,
                    )
                uow.content.upsert(
                    content_id=root, account_id="up", parent_content_id=None, hashes={},
                    scanned=False,
                )  # fmt: skip
                uow.commit()
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            prefix = f"ta{uuid.uuid4().hex[:6]}"
            env = _env(
                database_url, prefix, tmp,
                TAKEDOWN_PLATFORM_WEBHOOK_URL=hook.url,
                TAKEDOWN_PLATFORM_WEBHOOK_SECRET=SECRET,
                TAKEDOWN_ACTION_BATCH_SIZE="100",
            )  # fmt: skip
            parts = [Part(f"a-web{workers}", ["serve", "--port", str(port)], env, tmp)]
            parts.append(Part(f"a-relay{workers}", ["relay"], env, tmp))
            parts += [Part(f"a-worker{workers}-{n}", ["worker"], env, tmp) for n in range(workers)]
            try:
                _ready(url)
                time.sleep(3)  # the workers connected
                with httpx.Client(base_url=url, timeout=60) as client:
                    case = client.post(
                        "/v1/reports",
                        json={"content_id": root, "category": "policy", "reporter_role": "user"},
                        headers={"Authorization": f"Bearer {platform}"},
                    ).json()["case_id"]
                    auth = {"Authorization": f"Bearer {lead}"}
                    client.post(f"/v1/cases/{case}/claim", headers=auth).raise_for_status()
                    before = {p.name: group_cpu(p.proc.pid) for p in parts[2:]}
                    pg = postgres_cpu()
                    seen = len(hook.actions)
                    started = time.monotonic()
                    client.post(
                        f"/v1/cases/{case}/decisions",
                        json={"outcome": "violation", "category": "policy", "reason": "spam"},
                        headers=auth,
                    ).raise_for_status()
                want = seen + REPOSTS + 2  # every copy removed, a strike for its uploader
                deadline = time.monotonic() + 300
                while len(hook.actions) < want and time.monotonic() < deadline:
                    time.sleep(0.02)
                took = time.monotonic() - started
                cpu = sum(group_cpu(p.proc.pid) - before[p.name] for p in parts[2:])
                pg = postgres_cpu() - pg
                rows.append({
                    "what": "actions", "workers": workers, "actions": len(hook.actions) - seen,
                    "per_second": (len(hook.actions) - seen) / took, "seconds": took,
                    "cores_used": cpu / took, "postgres_cores": pg / took,
                })  # fmt: skip
            finally:
                for p in parts:
                    p.stop()
                delete_queues(BROKER, prefix)
    db.dispose()
    return rows


def main() -> None:
    problem = broker_problem(BROKER)
    if problem:
        console.print(f"[yellow]cluster_throughput skipped: {problem}")
        return
    results: list[dict] = []
    with scratch_database(console) as pg_url, tempfile.TemporaryDirectory() as tmp:
        if pg_url is None:
            console.print("[yellow]cluster_throughput skipped: it needs PostgreSQL")
            return
        migrate.upgrade(Database(pg_url))
        results += _web_runs(pg_url, Path(tmp))
        results += _action_runs(pg_url, Path(tmp))
    table = Table(title="Distributed mode: throughput against processes (this machine, 2 cores)")
    for column in ("work", "web processes", "workers", "per second", "p99 ms", "cores used",
                   "per core", "PostgreSQL cores"):  # fmt: skip
        table.add_column(column, justify="right")
    for r in results:
        per_core = r["per_second"] / r["cores_used"] if r["cores_used"] else None
        r["per_core"] = per_core
        table.add_row(
            r["what"],
            str(r.get("web processes", "")),
            str(r.get("workers", "")),
            f"{r['per_second']:.0f}",
            f"{r['p99_ms']:.0f}" if r.get("p99_ms") is not None else "",
            f"{r['cores_used']:.2f}",
            f"{per_core:.0f}" if per_core else "",
            f"{r['postgres_cores']:.2f}",
        )
    Console().print(table)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "cluster_throughput.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
