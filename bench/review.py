"""Review at scale: the queue page and ``GET /v1/queue`` with 100,000 open cases, and a claim
and a decision, over HTTP against a running ``takedown serve``, on SQLite and PostgreSQL.

Goals: p95 under 50 ms a queue page (the console's and the API's, the first page and pages
further in, filtered and not); a claim and a decision each under 20 ms p95. A quarter of the
cases are about minors: the reviewer here has the child-safety permission and sees them all;
a second reviewer without it pages past them (the filter in the index).
"""

from __future__ import annotations

import json
import os
import random
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import track
from rich.table import Table

from bench._postgres import scratch_database
from bench._server import running_server
from bench.intake import machine_speed
from takedown.cases import Case, CaseFacts, CaseStatus, Category, Priority
from takedown.identity import Principal, Role
from takedown.services import accounts
from takedown.store import Database, SqlAlchemyUnitOfWork, migrate

OUT = Path(__file__).resolve().parent / "results"
CASES = int(os.environ.get("TAKEDOWN_BENCH_REVIEW_CASES", "100000"))
ROUNDS = int(os.environ.get("TAKEDOWN_BENCH_REVIEW_ROUNDS", "200"))
PASSWORD = "bench-password-Long-1"
GOALS = {"page": 50.0, "claim": 20.0, "decide": 20.0}
console = Console(stderr=True)


def _fill(db: Database, n: int, rng: random.Random) -> None:
    """``n`` open cases, their deadlines spread over two days, a quarter about minors."""
    now = datetime.now(UTC)
    categories = [Category.policy, Category.other_illegal, Category.ncii, Category.csam]
    batch = 5_000
    for start in track(range(0, n, batch), description=f"{n:,} cases", console=console):
        with SqlAlchemyUnitOfWork(db) as uow:
            for i in range(start, min(n, start + batch)):
                category = categories[i % 4]
                case = Case(
                    id=uow.cases.new_id(),
                    status=CaseStatus.open,
                    priority=[Priority.p0, Priority.p1, Priority.p2][rng.randrange(3)],
                    reasons=[],
                    facts=CaseFacts(categories=frozenset({category}), reports=1, reporters=1),
                    respond_by=now + timedelta(minutes=rng.randrange(-120, 2_880)),
                    remove_by=None,
                    opened_at=now,
                    updated_at=now,
                    confirmed_at=None,
                )
                uow.cases.save(case, before=None)
                uow.cases.add_item(
                    case_id=case.id,
                    content_id=f"item-{i}",
                    root_content_id=f"item-{i}",
                    account_id=None,
                    pdq=None,
                    md5=None,
                    sha256=None,
                    open=True,
                    added_at=now,
                )
            uow.commit()
    with SqlAlchemyUnitOfWork(db) as uow:
        if db.is_sqlite:
            uow.raw.write("ANALYZE", {})
        else:
            uow.raw.write("ANALYZE cases", {})
            uow.raw.write("ANALYZE case_items", {})
        uow.commit()


def _staff(db: Database) -> dict[str, str]:
    from takedown.config import Settings
    from takedown.server.container import Container

    container = Container(settings=Settings(database_url=str(db.engine.url)), db=db)
    operator = Principal.system("bench")
    tokens = {}
    for name, role, grant in (("ana", Role.reviewer, True), ("cy", Role.reviewer, False)):
        accounts.create_user(
            uow=container.uow(),
            actor=operator,
            name=name,
            role=role,
            password=PASSWORD,
            child_safety=grant,
        )
        tokens[name] = accounts.create_personal_token(
            uow=container.uow(), actor=operator, user_name=name, label="bench"
        ).secret
    return tokens


def _login(client: httpx.Client, name: str) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    answer = client.post(
        "/login", data={"name": name, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 303, answer.text


def _timed(send, path: str, **kwargs: object) -> tuple[float, httpx.Response]:
    """Milliseconds ``send(path, **kwargs)`` took, and its answer."""
    started = time.perf_counter()
    answer = send(path, **kwargs)
    return (time.perf_counter() - started) * 1000, answer


def _p(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


def _measure(url: str, tokens: dict[str, str], rng: random.Random) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {
        "console page 1": [],
        "console page 5": [],
        "console filtered": [],
        "api page 1": [],
        "api page 5": [],
        "api without child safety": [],
        "claim": [],
        "decide": [],
    }
    ana = {"Authorization": f"Bearer {tokens['ana']}"}
    cy = {"Authorization": f"Bearer {tokens['cy']}"}
    with (
        httpx.Client(base_url=url, timeout=60) as console_client,
        httpx.Client(base_url=url, timeout=60) as api,
    ):
        _login(console_client, "ana")
        for _ in range(5):  # warm the statement caches
            console_client.get("/console/queue")
            api.get("/v1/queue", headers=ana)
        for _ in track(range(ROUNDS), description="queue pages", console=console):
            ms, answer = _timed(console_client.get, "/console/queue")
            assert answer.status_code == 200
            times["console page 1"].append(ms)
            ms, answer = _timed(api.get, "/v1/queue", headers=ana)
            assert answer.status_code == 200 and len(answer.json()["items"]) == 50
            times["api page 1"].append(ms)
            cursor = answer.json()["next"]
            for _ in range(3):
                cursor = api.get("/v1/queue", params={"after": cursor}, headers=ana).json()["next"]
            ms, answer = _timed(api.get, "/v1/queue", params={"after": cursor}, headers=ana)
            times["api page 5"].append(ms)
            ms, answer = _timed(console_client.get, "/console/queue", params={"after": cursor})
            assert answer.status_code == 200
            times["console page 5"].append(ms)
            category = rng.choice(["policy", "ncii", "csam", "other_illegal"])
            ms, answer = _timed(
                console_client.get,
                "/console/queue",
                params={"category": category, "priority": "P1"},
            )
            assert answer.status_code == 200
            times["console filtered"].append(ms)
            ms, answer = _timed(api.get, "/v1/queue", headers=cy)
            assert answer.status_code == 200 and len(answer.json()["items"]) == 50
            times["api without child safety"].append(ms)
        # Claims and decisions on policy cases far down the queue (every fourth is one).
        targets = [4 * rng.randrange(CASES // 4) + 1 for _ in range(ROUNDS)]
        for case_id in track(dict.fromkeys(targets), description="claim, decide", console=console):
            ms, answer = _timed(api.post, f"/v1/cases/{case_id}/claim", headers=ana)
            assert answer.status_code == 200, answer.text
            times["claim"].append(ms)
            body = {"outcome": "violation", "category": "policy", "reason": "spam"}
            ms, answer = _timed(api.post, f"/v1/cases/{case_id}/decisions", json=body, headers=ana)
            assert answer.status_code == 201, answer.text
            times["decide"].append(ms)
    return times


def _run(name: str, database_url: str, data_dir: Path, port: int) -> dict[str, object]:
    rng = random.Random(19)  # noqa: S311 - benchmark data, not secrets
    db = Database(database_url)
    migrate.upgrade(db)
    _fill(db, CASES, rng)
    tokens = _staff(db)
    db.dispose()
    env = {
        **os.environ,
        "TAKEDOWN_DATABASE_URL": database_url,
        "TAKEDOWN_DATA_DIR": str(data_dir),
        "TAKEDOWN_LOG_LEVEL": "WARNING",
        "TAKEDOWN_REVIEW_SAMPLE_PERCENT": "0",
    }
    with running_server(env, port, cpus={0}) as url:
        times = _measure(url, tokens, rng)
    return {
        "database": name,
        "cases": CASES,
        "results": {
            label: {
                "n": len(values),
                "p50_ms": round(statistics.median(values), 2),
                "p95_ms": round(_p(values, 95), 2),
            }
            for label, values in times.items()
        },
    }


def main() -> None:
    speed = machine_speed()
    console.print(
        "machine speed: a fixed Python loop took "
        + ", ".join(f"{ms:.0f} ms on core {core}" for core, ms in speed.items())
        + " (lower is faster)"
    )
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs.append(_run("sqlite", f"sqlite:///{folder / 'review.db'}", folder, 8931))
        with scratch_database(console) as pg_url:
            if pg_url is not None:
                runs.append(_run("postgresql", pg_url, folder, 8932))
    table = Table(
        title=f"review with {CASES:,} open cases (p95 goals: page 50 ms, claim and decision 20 ms)"
    )
    for column in ("database", "request", "n", "p50 ms", "p95 ms", "goal"):
        table.add_column(column)
    for run in runs:
        for label, figures in run["results"].items():  # type: ignore[union-attr]
            goal = GOALS["claim" if label == "claim" else "decide" if label == "decide" else "page"]
            met = "met" if figures["p95_ms"] < goal else "NOT met"
            table.add_row(
                str(run["database"]),
                label,
                str(figures["n"]),
                f"{figures['p50_ms']:.1f}",
                f"{figures['p95_ms']:.1f}",
                f"< {goal:.0f}: {met}",
            )
    Console().print(table)
    OUT.mkdir(exist_ok=True)
    (OUT / "review.json").write_text(
        json.dumps({"machine_speed_ms": speed, "runs": runs}, indent=2) + "\n"
    )
