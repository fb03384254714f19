"""Report intake over real HTTP, open loop, on SQLite and PostgreSQL.

A ``takedown serve`` process (pinned to core 0, one web process, its in-process outbox worker
running) takes ``POST /v1/reports`` from a load generator in its own process (pinned to core
1) that sends at a fixed arrival rate, about 30% of reports about 50 hot items, and counts
each latency from the scheduled send time (``bench/_loadgen.py``). Every report is one
transaction: the report, its case (opened or joined and re-triaged), an audit entry and its
outbox events, committed before the answer, through the group-commit writer.

Goal on this 2-core machine: 2,000 reports/s with p99 under 20 ms on SQLite (WAL,
``synchronous=FULL``); 1,000 reports/s with p99 under 30 ms on PostgreSQL. The goal's rate is
run ``TAKEDOWN_BENCH_GOAL_ROUNDS`` times (3), and the benchmark says in how many runs the goal
held: its tail varies from run to run on this machine.

Each SQLite goal run is followed by one while ``TAKEDOWN_BENCH_LOGINS`` (20) failed console
logins a second hit the same server (``bench/_logins.py``; the per-address login limit raised
so that every one asks for a password check, as guesses from many addresses would): a
password check (argon2, slow on purpose) must not take the time intake needs.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from bench._postgres import scratch_database
from bench._server import running_server, server_children_cpu, server_cpu, server_disk_writes
from takedown.identity import Principal, Role, Scope
from takedown.services import accounts, keys
from takedown.store import Database, SqlAlchemyUnitOfWork, migrate

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
console = Console(stderr=True)
SECONDS = float(os.environ.get("TAKEDOWN_BENCH_SECONDS", "8"))
RATES = {
    "sqlite": [
        int(r)
        for r in os.environ.get("TAKEDOWN_BENCH_SQLITE_RATES", "250,500,1000,2000").split(",")
    ],
    "postgresql": [
        int(r) for r in os.environ.get("TAKEDOWN_BENCH_PG_RATES", "250,500,1000").split(",")
    ],
}
GOALS = {"sqlite": (2000, 20.0), "postgresql": (1000, 30.0)}
# The goal's rate is run this many times: its p99 varies from run to run on this machine, so
# one run says little about whether the goal holds.
GOAL_ROUNDS = int(os.environ.get("TAKEDOWN_BENCH_GOAL_ROUNDS", "3"))
CORES = os.cpu_count() or 1
LOGINS = float(os.environ.get("TAKEDOWN_BENCH_LOGINS", "20"))
LOGIN_NAME = "bench-admin"


def _pin(core: int) -> set[int] | None:
    return {core} if CORES >= 2 else None


def prepare_database(url: str) -> str:
    """Migrate a fresh database and make a platform key with the report scope."""
    db = Database(url)
    migrate.upgrade(db)
    key = keys.create_api_key(
        uow=SqlAlchemyUnitOfWork(db),
        actor=Principal.system("bench"),
        name="bench platform",
        scopes=[Scope.report],
    ).secret
    accounts.create_user(
        uow=SqlAlchemyUnitOfWork(db),
        actor=Principal.system("bench"),
        name=LOGIN_NAME,
        role=Role.admin,
        password=secrets.token_urlsafe(18),
    )
    db.dispose()
    return key


def _count(url: str) -> dict[str, int]:
    db = Database(url)
    with db.engine.connect() as conn:
        counts = {
            table: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() or 0)
            for table in ("reports", "cases", "audit_log", "outbox")
        }
    db.dispose()
    return counts


def _start_logins(url: str) -> subprocess.Popen[str]:
    """``LOGINS`` failed logins a second, for ``SECONDS``, from another process."""
    pin = _pin(1)
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "bench._logins", "--url", url),
            # A second longer than the reports, which start a little after it.
            *("--rate", str(LOGINS), "--seconds", str(SECONDS + 1), "--name", LOGIN_NAME),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        preexec_fn=(lambda: os.sched_setaffinity(0, pin)) if pin else None,
    )


def _load(url: str, key: str, rate: int, tag: str) -> dict:
    command = [
        sys.executable,
        "-m",
        "bench._loadgen",
        "--url",
        url,
        "--key",
        key,
        "--rate",
        str(rate),
        "--seconds",
        str(SECONDS),
        "--tag",
        tag,
    ]
    pin = _pin(1)
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        preexec_fn=(lambda: os.sched_setaffinity(0, pin)) if pin else None,
    )
    return json.loads(done.stdout)


def _run(backend: str, url: str) -> list[dict]:
    key = prepare_database(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    env.update(
        TAKEDOWN_DATABASE_URL=url,
        TAKEDOWN_LOG_LEVEL="WARNING",
        TAKEDOWN_LOGIN_ADDRESS_LIMIT="1000000",  # every login asks for a password check
    )
    rows = []
    port = 8931 if backend == "sqlite" else 8932
    with (
        tempfile.TemporaryDirectory(prefix="takedown-bench-") as data_dir,
        running_server({**env, "TAKEDOWN_DATA_DIR": data_dir}, port, cpus=_pin(0)) as server,
    ):
        _load(server, key, 300, f"{backend}-warm")
        goal_rate = GOALS[backend][0]
        with_logins = backend == "sqlite" and LOGINS > 0
        runs = [(rate, 0, False) for rate in RATES[backend] if rate != goal_rate]
        if goal_rate in RATES[backend]:
            # With and without logins in turn, so that both see the same machine (its speed
            # drifts within minutes) and a database of about the same size.
            for n in range(GOAL_ROUNDS):
                runs += [(goal_rate, n, False)] + ([(goal_rate, n, True)] if with_logins else [])
        elif with_logins:
            runs += [(goal_rate, n, True) for n in range(GOAL_ROUNDS)]
        for rate, n, logins in runs:
            before = _count(url)
            cpu_before, disk_before = server_cpu(port), server_disk_writes(port)
            checks_before = server_children_cpu(port)
            guesses = _start_logins(server) if logins else None
            if guesses is not None and guesses.stdout is not None:
                guesses.stdout.readline()  # "ready": its start-up is over
            result = _load(server, key, rate, f"{backend}-{rate}-{n}{'-logins' if logins else ''}")
            cpu, disk = server_cpu(port) - cpu_before, server_disk_writes(port)
            # The password checks run in a child process, on the server's core, at idle priority.
            checks_cpu = server_children_cpu(port) - checks_before
            if guesses is not None:  # its last answers may come after the reports' last
                out, _ = guesses.communicate(timeout=SECONDS + 120)
                result["logins"] = json.loads(out)
            # What the server itself writes to disk a report (SQLite: its WAL and checkpoints;
            # PostgreSQL writes in its own processes, so about nothing here).
            result["server_disk_kib_per_report"] = (
                (disk - disk_before) / 1024 / max(1, result["ok"])
                if disk is not None and disk_before is not None
                else None
            )
            after = _count(url)
            result["server_cpu_ms_per_report"] = cpu * 1000 / max(1, result["ok"])
            result["server_cpu_share"] = cpu / result["seconds"]
            result["password_checks_cpu_share"] = checks_cpu / result["seconds"]
            # The load generators share one core: past about 80% of it, their own queue
            # shows up as the server's latency.
            result["generators_cpu_share"] = (
                result["cpu_s"] + (result["logins"]["cpu_s"] if guesses is not None else 0.0)
            ) / result["wall_s"]
            result["backend"] = backend
            result["stored"] = {k: after[k] - before[k] for k in after}
            rows.append(result)
            console.print(
                f"{backend} {rate}/s{_logins_note(result)}: {result['achieved_rps']:.0f}/s, p50 "
                f"{result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
                f"server CPU {result['server_cpu_share']:.0%} of a core, "
                f"generators {result['generators_cpu_share']:.0%} of theirs, "
                f"{result['server_cpu_ms_per_report']:.2f} ms a report, "
                f"{_kib(result['server_disk_kib_per_report'])} KiB to disk a report, "
                f"statuses {result['statuses']}"
            )
    return rows


_GAUGE = (
    "import time\nt = time.perf_counter()\ns = 0\n"
    "for i in range(3_000_000): s += i * i\nprint(time.perf_counter() - t)"
)


def machine_speed() -> dict[int, float]:
    """Milliseconds a fixed pure-Python loop takes on each of the first two cores: this
    machine's speed drifts by a factor of two between days, so a run's figures only compare
    with runs that gauged the same. It tells a slow machine, not a fast enough one: read the
    server's CPU per report beside it (``bench/RECORD.md`` has the readings seen so far)."""
    cores = [c for c in (0, 1) if c < CORES]
    speeds = {}
    for core in cores:
        done = subprocess.run(
            [sys.executable, "-c", _GAUGE],
            capture_output=True,
            text=True,
            check=True,
            preexec_fn=lambda core=core: os.sched_setaffinity(0, {core}),
        )
        speeds[core] = float(done.stdout) * 1000
    return speeds


def _logins_note(result: dict) -> str:
    logins = result.get("logins")
    if not logins:
        return ""
    return (
        f" with {logins['rate']:g} failed logins/s (answers {logins['statuses']}; password "
        f"checks {result['password_checks_cpu_share']:.0%} of the server's core)"
    )


def _kib(value: float | None) -> str:
    return "?" if value is None else f"{value:.1f}"


def _met(r: dict) -> bool:
    goal_rate, goal_p99 = GOALS[r["backend"]]
    return bool(r["offered_rps"] >= goal_rate and r["p99_ms"] < goal_p99 and r["ok"] == r["sent"])


def main() -> None:
    speed = machine_speed()
    console.print(
        "machine speed: a fixed Python loop took "
        + ", ".join(f"{ms:.0f} ms on core {core}" for core, ms in speed.items())
        + " (lower is faster)"
    )
    results: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        results += _run("sqlite", f"sqlite:///{tmp}/bench.db")
    with scratch_database(console) as pg_url:
        if pg_url is not None:
            results += _run("postgresql", pg_url)
    table = Table(title="Report intake over HTTP (open loop, 30% of reports on 50 hot items)")
    for column in (
        "database",
        "failed logins/s",
        "offered/s",
        "achieved/s",
        "201s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "reports stored",
        "server CPU ms/report",
        "server disk KiB/report",
        "goal",
    ):
        table.add_column(column, justify="right")
    for r in results:
        goal_rate, goal_p99 = GOALS[r["backend"]]
        goal = (
            f"{goal_rate}/s p99<{goal_p99:g}: {'met' if _met(r) else '-'}"
            if r["offered_rps"] == goal_rate
            else ""
        )
        table.add_row(
            r["backend"],
            f"{r['logins']['rate']:g}" if r.get("logins") else "",
            str(r["offered_rps"]),
            f"{r['achieved_rps']:.0f}",
            str(r["ok"]),
            f"{r['p50_ms']:.1f}",
            f"{r['p99_ms']:.1f}",
            f"{r['max_ms']:.0f}",
            str(r["stored"]["reports"]),
            f"{r['server_cpu_ms_per_report']:.2f}",
            _kib(r["server_disk_kib_per_report"]) if r["backend"] == "sqlite" else "-",
            goal,
        )
    Console().print(table)
    for backend, (goal_rate, goal_p99) in GOALS.items():
        for with_logins in (False, True):
            runs = [
                r
                for r in results
                if r["backend"] == backend
                and r["offered_rps"] == goal_rate
                and bool(r.get("logins")) == with_logins
            ]
            if runs:
                met = sum(_met(r) for r in runs)
                p99s = ", ".join(f"{r['p99_ms']:.1f}" for r in runs)
                Console().print(
                    f"{backend}: {goal_rate}/s with p99 under {goal_p99:g} ms"
                    f"{f' while {LOGINS:g} failed logins/s came in' if with_logins else ''}: "
                    f"met in {met} of {len(runs)} runs (p99 {p99s} ms)"
                )
    OUT.mkdir(parents=True, exist_ok=True)
    after = machine_speed()
    Console().print(
        "machine speed before and after: "
        + ", ".join(f"core {c}: {speed[c]:.0f} and {after[c]:.0f} ms" for c in speed)
    )
    (OUT / "intake.json").write_text(
        json.dumps({"machine_speed_ms": [speed, after], "runs": results}, indent=2)
    )


if __name__ == "__main__":
    main()
