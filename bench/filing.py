"""Filing with NCMEC, on SQLite and PostgreSQL: a running ``takedown serve`` with auto-filing
on, a platform's media server and a strict local NCMEC server (``tests.ncmec_support``: HTTP
Basic, NCMEC's element order, its response codes). Each of ``CASES`` uploads of a picture a
``block_and_report`` bank knows is confirmed at once; timed from the scan's answer until the
filing list says it is ``filed`` (evidence fetched and sealed, the report drafted, checked against
the schema, submitted, its file uploaded and described, the report finished).
Goal: under 5 s each.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from tests.ncmec_support import PASSWORD, USERNAME, ncmec_server
from tests.review_support import SECRET, platform_media

from bench._postgres import scratch_database
from bench._server import running_server
from bench.intake import machine_speed
from takedown.identity import Principal, Role, Scope
from takedown.media import hash_image
from takedown.services import accounts, keys
from takedown.store import Database, SqlAlchemyUnitOfWork, migrate

OUT = Path(__file__).resolve().parent / "results"
OPERATOR = Principal.system("bench")
CASES = 10
GOAL_S = 5.0


def _people(database_url: str) -> tuple[str, str, str]:
    db = Database(database_url)
    migrate.upgrade(db)
    platform = keys.create_api_key(
        uow=SqlAlchemyUnitOfWork(db), actor=OPERATOR, name="platform", scopes=[Scope.scan]
    ).secret
    tokens = []
    for name, role in (("lead", Role.child_safety_lead), ("comp", Role.compliance)):
        accounts.create_user(
            uow=SqlAlchemyUnitOfWork(db), actor=OPERATOR, name=name, role=role, password=None
        )
        tokens.append(
            accounts.create_personal_token(
                uow=SqlAlchemyUnitOfWork(db), actor=OPERATOR, user_name=name, label="bench"
            ).secret
        )
    db.dispose()
    return platform, tokens[0], tokens[1]


def _run(name: str, database_url: str, folder: Path, port: int) -> dict[str, object]:
    platform, lead, compliance = _people(database_url)
    with platform_media() as media, ncmec_server() as ncmec:
        pictures = {f"known-{i}": media.add(f"known-{i}", n=i) for i in range(CASES)}
        env = {
            **os.environ,
            "TAKEDOWN_DATABASE_URL": database_url,
            "TAKEDOWN_DATA_DIR": str(folder),
            "TAKEDOWN_LOG_LEVEL": "WARNING",
            "TAKEDOWN_PLATFORM_MEDIA_URL": media.template,
            "TAKEDOWN_PLATFORM_WEBHOOK_SECRET": SECRET,
            "TAKEDOWN_EVIDENCE_KEY": "ef" * 32,
            "TAKEDOWN_NCMEC_URL": ncmec.url,
            "TAKEDOWN_NCMEC_USERNAME": USERNAME,
            "TAKEDOWN_NCMEC_PASSWORD": PASSWORD,
            "TAKEDOWN_NCMEC_REPORTER_NAME": "Trust and Safety Team",
            "TAKEDOWN_NCMEC_REPORTER_EMAIL": "safety@platform.example",
            "TAKEDOWN_NCMEC_AUTO_FILE": "true",
        }
        took: list[float] = []
        with running_server(env, port, cpus={0}) as url, httpx.Client(base_url=url) as client:
            auth = {"Authorization": f"Bearer {lead}"}
            client.post(
                "/v1/banks", headers=auth, json={"name": "known", "policy": "block_and_report"}
            ).raise_for_status()
            entries = [
                {"signal_type": "md5", "value": hash_image(d).md5} for d in pictures.values()
            ]
            client.post(
                "/v1/banks/known/entries", headers=auth, json={"entries": entries}
            ).raise_for_status()
            time.sleep(1.5)  # the server sees the bank's new version within a second
            for content_id, data in pictures.items():
                answer = client.post(
                    "/v1/scan",
                    headers={"Authorization": f"Bearer {platform}"},
                    data={"content_id": content_id, "account_id": f"u-{content_id}"},
                    files={"media": ("a.jpg", data, "image/jpeg")},
                )
                answer.raise_for_status()
                started = time.perf_counter()
                while True:
                    filings = client.get(
                        "/v1/ncmec/filings", headers={"Authorization": f"Bearer {compliance}"}
                    ).json()
                    if sum(f["state"] == "filed" for f in filings) > len(took):
                        break
                    if time.perf_counter() - started > 60:
                        raise RuntimeError(f"{content_id}: not filed in 60 s: {filings}")
                    time.sleep(0.02)
                took.append(time.perf_counter() - started)
        assert ncmec.state.submits == CASES and len(ncmec.state.filed()) == CASES
    return {
        "database": name,
        "cases": CASES,
        "median_s": round(statistics.median(took), 3),
        "max_s": round(max(took), 3),
        "goal_s": GOAL_S,
        "met": max(took) < GOAL_S,
    }


def main() -> None:
    console = Console()
    speed = machine_speed()
    console.print(f"machine speed gauge: {speed} ms (lower is faster)")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sqlite = f"sqlite:///{folder / 'sqlite' / 'takedown.db'}"
        (folder / "sqlite").mkdir()
        results.append(_run("sqlite", sqlite, folder / "sqlite", 8731))
        with scratch_database(console) as pg:
            if pg is not None:
                (folder / "pg").mkdir()
                results.append(_run("postgresql", pg, folder / "pg", 8732))
    table = Table(title=f"bank-confirmed case to filed with NCMEC (goal < {GOAL_S:.0f} s)")
    for column in ("database", "cases", "median s", "max s", "goal met"):
        table.add_column(column)
    for r in results:
        table.add_row(
            str(r["database"]), str(r["cases"]), str(r["median_s"]), str(r["max_s"]), str(r["met"])
        )
    console.print(table)
    OUT.mkdir(exist_ok=True)
    (OUT / "filing.json").write_text(
        json.dumps({"machine_speed_ms": speed, "filing": results}, indent=2) + "\n"
    )
