"""Chaos: the distributed mode under load while its parts are killed (loopback only, bounded).

The parts run as real processes on this machine's PostgreSQL (a scratch database) and RabbitMQ
(queues of the run's own): two web processes on one port, a relay and two Celery workers, with
a local platform (a webhook receiver that checks every signature, a media server) and a local
NCMEC. For ``TAKEDOWN_BENCH_CHAOS_SECONDS`` (600) a client sends reports (50 a second, open
loop, latency counted from each one's scheduled time), an upload that matches a
``block_and_report`` bank every two seconds (each a confirmed CSAM case: removals, sealed
evidence, a CyberTipline report) and a lead's violation decision every five seconds, while
every ``TAKEDOWN_BENCH_CHAOS_KILL_EVERY`` (20) seconds a random part (one of the web processes,
the relay, a worker) is SIGKILLed and started again (a web process by its supervisor).

Then it waits for the work to settle and prints what was acknowledged, stored, delivered and
filed. Goal: nothing acknowledged is lost, no removal is delivered twice under different
action ids, each report is filed once, and the reports' p99 is under 100 ms outside the
``QUIET_AFTER_KILL`` seconds that follow a web process's kill.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import signal
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table
from sqlalchemy import select
from tests.cluster_support import Part, cluster_env, delete_queues, platform_and_lead
from tests.conftest import broker_problem, free_port
from tests.enforcement_support import receiver
from tests.ncmec_support import ncmec_server
from tests.review_support import SECRET, platform_media

from bench._postgres import scratch_database
from bench._server import processes
from takedown.identity import Principal
from takedown.media import hash_image
from takedown.services import audit as audit_service
from takedown.store import Database, SqlAlchemyUnitOfWork, migrate
from takedown.store.models import CaseRow, ReportRow

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results"
console = Console(stderr=True)
SECONDS = float(os.environ.get("TAKEDOWN_BENCH_CHAOS_SECONDS", "600"))
KILL_EVERY = float(os.environ.get("TAKEDOWN_BENCH_CHAOS_KILL_EVERY", "20"))
BROKER = os.environ.get("TAKEDOWN_BENCH_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
REPORTS_PER_SECOND = 50
UPLOAD_EVERY, DECIDE_EVERY = 2.0, 5.0
QUIET_AFTER_KILL = 10.0  # seconds after a kill of the web processes left out of the p99
GOAL_P99_MS = 100.0
OPERATOR = Principal.system("bench")


def _image(n: int) -> bytes:
    """A distinct picture for upload ``n`` (random blocks: its PDQ hash is its own)."""
    rng = np.random.default_rng(n)
    blocks = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    picture = Image.fromarray(blocks).resize((320, 240), Image.Resampling.NEAREST)
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=90)
    return out.getvalue()


class Load:
    """What the clients sent and heard."""

    def __init__(self) -> None:
        self.reports: list[tuple[float, float, int]] = []  # (scheduled, latency s, status)
        self.acknowledged: list[tuple[int, int]] = []  # (report id, case id)
        self.uploads: dict[str, str] = {}  # content id → verdict
        self.decided: list[int] = []
        self.decision_errors: dict[int, int] = {}
        self.kills: list[tuple[float, str, float | None]] = []  # (at, part, back after)


async def _reports(url: str, key: str, load: Load, until: float) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        start = time.monotonic()
        tasks = []
        i = 0

        async def one(i: int, due: float) -> None:
            body = {
                "content_id": f"post-{i % 500}",
                "category": "policy",
                "reporter_role": "user",
                "idempotency_key": f"r-{i}",
            }
            status = 0
            for _ in range(20):  # a platform resends what was not acknowledged, same key
                try:
                    answer = await client.post(
                        "/v1/reports", json=body, headers={"Authorization": f"Bearer {key}"}
                    )
                    status = answer.status_code
                except httpx.HTTPError:
                    status = 0
                if status == 201:
                    data = answer.json()
                    load.acknowledged.append((data["report_id"], data["case_id"]))
                    break
                await asyncio.sleep(0.5)
            load.reports.append((due, time.monotonic() - due, status))

        while time.monotonic() < until:
            due = start + i / REPORTS_PER_SECOND
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            tasks.append(asyncio.create_task(one(i, due)))
            i += 1
        await asyncio.gather(*tasks)


def _uploads(url: str, key: str, pictures: dict[str, bytes], load: Load, until: float) -> None:
    with httpx.Client(base_url=url, timeout=30) as client:
        for content_id, data in pictures.items():
            if time.monotonic() >= until:
                break
            for _ in range(40):
                try:
                    answer = client.post(
                        "/v1/scan",
                        headers={"Authorization": f"Bearer {key}"},
                        data={"content_id": content_id, "account_id": f"u-{content_id}"},
                        files={"media": ("a.jpg", data, "image/jpeg")},
                    )
                    if answer.status_code == 200:
                        load.uploads[content_id] = answer.json()["verdict"]
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            time.sleep(UPLOAD_EVERY)


def _decisions(url: str, lead: str, load: Load, until: float) -> None:
    auth = {"Authorization": f"Bearer {lead}"}
    with httpx.Client(base_url=url, timeout=30) as client:
        while time.monotonic() < until:
            time.sleep(DECIDE_EVERY)
            open_cases = sorted({c for _, c in load.acknowledged} - set(load.decided))
            if not open_cases:
                continue
            case = open_cases[0]
            try:
                client.post(f"/v1/cases/{case}/claim", headers=auth)
                answer = client.post(
                    f"/v1/cases/{case}/decisions",
                    headers=auth,
                    json={"outcome": "violation", "category": "policy", "reason": "spam"},
                )
            except httpx.HTTPError:
                continue
            if answer.status_code in (200, 201):
                load.decided.append(case)
            else:
                load.decision_errors[answer.status_code] = (
                    load.decision_errors.get(answer.status_code, 0) + 1
                )


def _killer(url: str, parts: dict[str, Part], load: Load, until: float, started: float) -> None:
    """Every ``KILL_EVERY`` seconds a random part SIGKILLed and started again; a kill of the
    web processes records how long until they answered again."""
    rng = random.Random(7)  # noqa: S311 - which part to kill, not a secret
    while time.monotonic() + KILL_EVERY < until:
        time.sleep(KILL_EVERY)
        name = rng.choice(sorted(parts))
        part = parts[name]
        back = None
        if name == "web":
            # One of the web processes on the port: its supervisor starts another, and the
            # other process answers meanwhile.
            children = _web_processes(part.proc.pid)
            os.kill(rng.choice(children), signal.SIGKILL)
            killed_at = time.monotonic() - started
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(_web_processes(part.proc.pid)) < 2:
                time.sleep(0.1)
            back = round(time.monotonic() - started - killed_at, 1)
        else:
            part.kill()
            killed_at = time.monotonic() - started
            part.start()
        load.kills.append((round(killed_at, 1), name, back))


def _run(database_url: str) -> dict:
    db = Database(database_url)
    migrate.upgrade(db)
    platform, lead = platform_and_lead(db)
    uploads = int(SECONDS / UPLOAD_EVERY) + 1
    pictures = {f"upload-{n}": _image(n) for n in range(uploads)}
    load = Load()
    prefix = f"chaos{uuid.uuid4().hex[:8]}"
    with (
        tempfile.TemporaryDirectory(prefix="takedown-chaos-") as tmp,
        platform_media() as media,
        ncmec_server() as ncmec,
        receiver(SECRET) as hook,
    ):
        media.items.update(pictures)
        env = cluster_env(database_url, BROKER, prefix, Path(tmp), media, ncmec, hook)
        env.update(TAKEDOWN_WEB_PROCESSES="2", TAKEDOWN_ACTION_BATCH_SIZE="50")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        parts = {
            "web": Part("web", ["serve", "--port", str(port)], env, Path(tmp)),
            "relay": Part("relay", ["relay"], env, Path(tmp)),
            "worker1": Part("worker1", ["worker"], env, Path(tmp)),
            "worker2": Part("worker2", ["worker"], env, Path(tmp)),
        }
        try:
            _wait(lambda: _ready(url), 60, "the web processes")
            with httpx.Client(base_url=url, timeout=30) as client:
                auth = {"Authorization": f"Bearer {lead}"}
                client.post("/v1/banks", headers=auth,
                            json={"name": "known", "policy": "block_and_report"}
                            ).raise_for_status()  # fmt: skip
                entries = [
                    {"signal_type": "md5", "value": hash_image(b).md5} for b in pictures.values()
                ]
                client.post(
                    "/v1/banks/known/entries", headers=auth, json={"entries": entries}
                ).raise_for_status()
            time.sleep(2)  # the bank reaches both web processes' indexes
            started = time.monotonic()
            until = started + SECONDS
            threads = [
                threading.Thread(target=_uploads, args=(url, platform, pictures, load, until)),
                threading.Thread(target=_decisions, args=(url, lead, load, until)),
                threading.Thread(target=_killer, args=(url, parts, load, until, started)),
            ]
            for t in threads:
                t.start()
            asyncio.run(_reports(url, platform, load, until))
            for t in threads:
                t.join()
            console.print(f"load done after {time.monotonic() - started:.0f} s; settling")
            settled = _settle(db, hook, ncmec, 300)
            return _summary(db, load, hook, ncmec, settled, started)
        finally:
            for part in parts.values():
                part.stop()
            db.dispose()
            delete_queues(BROKER, prefix)


def _web_processes(supervisor: int) -> list[int]:
    """The web processes a ``takedown serve`` with several of them started (its children
    that serve, not multiprocessing's helpers)."""
    found = []
    for proc, fields in processes():
        try:
            if int(fields[1]) == supervisor and b"spawn_main" in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"{what} did not come within {timeout:.0f} s")
        time.sleep(0.2)


def _planned(db: Database) -> dict[str, dict]:
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        with db.session(readonly=True) as s:
            cases = list(s.scalars(select(CaseRow.id)))
        return {
            a.action_id: {"case": c, "type": a.type, "content": a.content_id,
                          "account": a.account_id}
            for c in cases for a in uow.actions.for_case(c)
        }  # fmt: skip


def _settle(db: Database, hook, ncmec, timeout: float) -> bool:
    """Wait until every planned action is delivered, every filing filed and no event pends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        planned = _planned(db)
        with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
            pending = uow.outbox.counts().get("pending", 0)
            filings = _filing_states(uow)
        if (
            set(hook.actions) >= set(planned)
            and pending == 0
            and all(s == "filed" for s in filings.values())
        ):
            return True
        time.sleep(1)
    return False


def _filing_states(uow) -> dict[int, str]:
    with uow.db.session(readonly=True) as s:
        cases = list(s.scalars(select(CaseRow.id).where(CaseRow.category == "csam")))
    found = {}
    for case in cases:
        filing = uow.filings.get(case)
        if filing is not None:
            found[case] = filing.state
    return found


def _summary(db: Database, load: Load, hook, ncmec, settled: bool, started: float) -> dict:
    with db.session(readonly=True) as s:
        stored = dict(s.execute(select(ReportRow.id, ReportRow.case_id)).all())
    lost = [r for r, c in load.acknowledged if stored.get(r) != c]
    planned = _planned(db)
    undelivered = set(planned) - set(hook.actions)
    by_target: dict[tuple, set[str]] = {}
    for action_id, a in hook.actions.items():
        key = (a.get("case_id"), a["type"], a.get("content_id"), a.get("account_id"))
        by_target.setdefault(key, set()).add(action_id)
    twice = [k for k, ids in by_target.items() if len(ids) > 1]
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        filings = _filing_states(uow)
        outbox = uow.outbox.counts()
        chain = audit_service.verify(uow=uow, actor=OPERATOR)
    web_kills = [t for t, name, _ in load.kills if name == "web"]
    calm = [
        latency
        for due, latency, status in load.reports
        if status == 201 and not any(0 <= due - started - k < QUIET_AFTER_KILL for k in web_kills)
    ]
    calm.sort()
    every = sorted(latency for _, latency, status in load.reports if status == 201)
    buckets: dict[int, list[float]] = {}
    for due, latency, _ in load.reports:
        buckets.setdefault(int((due - started) // 10) * 10, []).append(latency)
    by_ten = {f"{start}s": _pct(sorted(v), 0.99) for start, v in sorted(buckets.items())}
    return {
        "seconds": SECONDS,
        "p99_ms_by_10_s": by_ten,
        "kills": load.kills,
        "settled": settled,
        "reports_sent": len(load.reports),
        "reports_acknowledged": len(load.acknowledged),
        "reports_never_acknowledged": sum(1 for *_, s in load.reports if s != 201),
        "acknowledged_lost": len(lost),
        "uploads": len(load.uploads),
        "uploads_blocked": sum(1 for v in load.uploads.values() if v == "block"),
        "decisions": len(load.decided),
        "decision_errors": load.decision_errors,
        "actions_planned": len(planned),
        "actions_delivered": len(set(planned) & set(hook.actions)),
        "actions_undelivered": len(undelivered),
        "delivered_twice_under_different_ids": len(twice),
        "receiver_repeats_same_id": hook.repeats,
        "filings": len(filings),
        "filed": sum(1 for s in filings.values() if s == "filed"),
        "ncmec_submits": ncmec.state.submits,
        "outbox": outbox,
        "audit_chain_problems": len(chain.problems),
        "p99_ms_outside_web_kills": _pct(calm, 0.99),
        "p99_ms_all": _pct(every, 0.99),
        "p50_ms_all": _pct(every, 0.50),
    }


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1)


def main() -> None:
    problem = broker_problem(BROKER)
    if problem:
        console.print(f"[yellow]chaos skipped: {problem}")
        return
    with scratch_database(console) as pg_url:
        if pg_url is None:
            console.print("[yellow]chaos skipped: it needs PostgreSQL")
            return
        result = _run(pg_url)
    table = Table(title=f"Chaos: {SECONDS:.0f} s of load, a part killed every {KILL_EVERY:.0f} s")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key, value in result.items():
        table.add_row(key, json.dumps(value) if isinstance(value, dict | list) else str(value))
    Console().print(table)
    met = (
        result["settled"]
        and result["acknowledged_lost"] == 0
        and result["actions_undelivered"] == 0
        and result["delivered_twice_under_different_ids"] == 0
        and result["ncmec_submits"] == result["filings"] == result["filed"]
        and result["audit_chain_problems"] == 0
        and (result["p99_ms_outside_web_kills"] or 0) < GOAL_P99_MS
    )
    Console().print(
        f"goal (0 lost, 0 delivered twice under different ids, each report filed once, p99 of "
        f"reports under {GOAL_P99_MS:g} ms outside the {QUIET_AFTER_KILL:g} s after a web kill): "
        f"{'met' if met else 'NOT met'}"
    )
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "chaos.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
