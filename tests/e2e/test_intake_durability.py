"""A report is answered only once it has committed: SIGKILL the server in the middle of a load
of reports, restart it, and every report that got a 201 is there with its case, its outbox
event and its audit entry, and the audit chain verifies (SQLite and PostgreSQL)."""

import json
import os
import signal
import threading

import httpx
import pytest
from sqlalchemy import text

from takedown.identity import Principal, Scope
from takedown.services import audit, keys
from takedown.store import Database, SqlAlchemyUnitOfWork, migrate
from tests.conftest import free_port
from tests.e2e.test_server_process import start, wait_healthy
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
OPERATOR = Principal.system("tests")


def test_every_answered_report_survives_sigkill(database_url, tmp_path):
    db = Database(database_url)
    migrate.upgrade(db)
    key = keys.create_api_key(
        uow=SqlAlchemyUnitOfWork(db), actor=OPERATOR, name="platform", scopes=[Scope.report]
    ).secret
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    env.update(
        TAKEDOWN_DATABASE_URL=database_url,
        TAKEDOWN_DATA_DIR=str(tmp_path / "data"),
        TAKEDOWN_LOG_LEVEL="WARNING",
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc, log = start(["serve", "--port", str(port)], env, tmp_path)
    answered: list[dict] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def send(worker: int) -> None:
        with httpx.Client(base_url=url, timeout=10) as client:
            i = 0
            while not stop.is_set():
                i += 1
                body = {
                    "content_id": f"hot-{i % 5}" if i % 3 == 0 else f"item-{worker}-{i}",
                    "category": "csam",
                    "reporter_role": "user",
                    "contact": {"email": f"w{worker}-{i}@example.org"},
                }
                try:
                    r = client.post(
                        "/v1/reports", json=body, headers={"Authorization": f"Bearer {key}"}
                    )
                except httpx.HTTPError as exc:
                    with lock:
                        failures.append(type(exc).__name__)
                    return
                if r.status_code == 201:
                    with lock:
                        answered.append(r.json())

    try:
        wait_healthy(url, proc, log)
        threads = [threading.Thread(target=send, args=(w,)) for w in range(12)]
        for t in threads:
            t.start()
        wait_until(lambda: len(answered) >= 300, timeout=30, what="300 answered reports")
        os.killpg(proc.pid, signal.SIGKILL)  # in the middle of the load
        proc.wait(10)
        stop.set()
        for t in threads:
            t.join(15)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    assert len(answered) >= 300, (len(answered), failures)
    assert failures, "the kill should have cut some requests off"

    # Restart: the server comes back on the same database and serves.
    proc, log = start(["serve", "--port", str(port)], env, tmp_path)
    try:
        wait_healthy(url, proc, log)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
        log.close()

    ids = {a["report_id"] for a in answered}
    with db.engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT id, case_id FROM reports")).all())
        cases = {r[0] for r in conn.execute(text("SELECT id FROM cases"))}
        events = conn.execute(
            text("SELECT payload FROM outbox WHERE event_type = 'cases.report_received'")
        ).scalars()
        evented = {(json.loads(p) if isinstance(p, str) else p)["report_id"] for p in events}
        audited = {
            int(t)
            for t in conn.execute(
                text("SELECT target_id FROM audit_log WHERE action = 'report.received'")
            ).scalars()
        }
    missing = ids - set(stored)
    assert not missing, f"{len(missing)} answered reports were lost"
    for answer in answered:
        assert stored[answer["report_id"]] == answer["case_id"]
        assert answer["case_id"] in cases
    assert ids <= evented
    assert ids <= audited
    verified = audit.verify(uow=SqlAlchemyUnitOfWork(db, readonly=True), actor=OPERATOR)
    assert verified.ok, verified.problems
    db.dispose()
