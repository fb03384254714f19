"""The distributed mode loses nothing when its parts die (PostgreSQL and RabbitMQ, skipped with
the reason where either is missing). A web process, a relay and two Celery workers run as real
processes; uploads that match a bank open confirmed CSAM cases, whose removals go to the
platform's webhook (slow, so a kill lands mid-delivery), whose media is sealed, and whose
reports are filed with NCMEC. Afterwards every acknowledged report is stored with its case,
every action is delivered under the id it was planned with, every CyberTipline report is
filed once, nothing is left in the outbox, and the audit chain verifies."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from sqlalchemy import select

from takedown.identity import Principal, Scope
from takedown.media import hash_image
from takedown.services import audit as audit_service
from takedown.services import keys
from takedown.store import Database, SqlAlchemyUnitOfWork, migrate
from takedown.store.models import CaseRow, OutboxRow, ReportRow
from tests.cluster_support import Part, cluster_env, images, platform_and_lead
from tests.conftest import free_port
from tests.e2e.test_server_process import wait_healthy
from tests.enforcement_support import receiver
from tests.ncmec_support import ncmec_server
from tests.review_support import SECRET, platform_media
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
OPERATOR = Principal.system("tests")
UPLOADS = 8


def _start(env, tmp_path) -> tuple[str, list[Part]]:
    port = free_port()
    web = Part("web", ["serve", "--port", str(port)], env, tmp_path)
    parts = [web, Part("relay", ["relay"], env, tmp_path)]
    parts += [Part(f"worker{i}", ["worker"], env, tmp_path) for i in (1, 2)]
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, web.proc, web.log)
    return url, parts


def _bank(client: httpx.Client, lead: str, uploads: dict[str, bytes]) -> None:
    auth = {"Authorization": f"Bearer {lead}"}
    client.post(
        "/v1/banks", headers=auth, json={"name": "known", "policy": "block_and_report"}
    ).raise_for_status()
    entries = [{"signal_type": "md5", "value": hash_image(b).md5} for b in uploads.values()]
    client.post(
        "/v1/banks/known/entries", headers=auth, json={"entries": entries}
    ).raise_for_status()


def _scan(client: httpx.Client, platform: str, content_id: str, data: bytes) -> str | None:
    try:
        answer = client.post(
            "/v1/scan",
            headers={"Authorization": f"Bearer {platform}"},
            data={"content_id": content_id, "account_id": f"u-{content_id}"},
            files={"media": ("a.jpg", data, "image/jpeg")},
        )
    except httpx.HTTPError:
        return None
    return answer.json()["verdict"] if answer.status_code == 200 else None


def _scan_until_blocked(client, platform, content_id, data, timeout=60.0) -> None:
    wait_until(
        lambda: _scan(client, platform, content_id, data) == "block",
        timeout=timeout,
        what=f"{content_id} blocked",
    )


def _all_done(db: Database, hook, ncmec, parts: list[Part], uploads: int) -> set[str]:
    """Wait for every case's actions, filings and events; the actions planned."""
    logs = lambda: "\n".join(p.logs() for p in parts)  # noqa: E731
    cases = _confirmed(db)
    assert len(cases) == uploads, logs()
    planned = _planned(db, cases)
    wait_until(lambda: set(hook.actions) >= planned, timeout=120,
               what=f"every action delivered\n{logs()}")  # fmt: skip
    wait_until(lambda: len(ncmec.state.filed()) >= uploads, timeout=120,
               what=f"every report filed\n{logs()}")  # fmt: skip
    wait_until(lambda: _outbox(db).get("pending", 0) == 0, timeout=60,
               what=f"the outbox emptied ({_pending(db)})\n{logs()}")  # fmt: skip
    wait_until(lambda: sorted(f.state for f in _filings(db, cases)) == ["filed"] * uploads,
               timeout=30, what="every filing marked filed")  # fmt: skip
    return planned


def _check_nothing_lost(db: Database, hook, ncmec, planned: set[str], uploads: int) -> None:
    assert set(hook.actions) == planned  # nothing under a new id
    assert ncmec.state.submits == uploads  # each report filed once
    assert _outbox(db).get("dead", 0) == 0
    with SqlAlchemyUnitOfWork(db) as uow:
        chain = audit_service.verify(uow=uow, actor=OPERATOR)
    assert chain.problems == [] and chain.entries > uploads


def test_killing_a_worker_mid_task_and_the_relay_loses_nothing_and_files_each_report_once(
    postgres_url, broker_url, queue_prefix, tmp_path
):
    db = Database(postgres_url)
    platform, lead = platform_and_lead(db)
    uploads = images(UPLOADS)
    parts: list[Part] = []
    with platform_media() as media, ncmec_server() as ncmec, receiver(SECRET) as hook:
        media.items.update(uploads)
        hook.delay = 0.3  # deliveries take a while: the kill lands mid-task
        env = cluster_env(postgres_url, broker_url, queue_prefix, tmp_path, media, ncmec, hook)
        try:
            url, parts = _start(env, tmp_path)
            relay, worker = parts[1], parts[2]
            with httpx.Client(base_url=url, timeout=30) as client:
                _bank(client, lead, uploads)
                for n, (content_id, data) in enumerate(uploads.items()):
                    _scan_until_blocked(client, platform, content_id, data, timeout=10)
                    if n == 2:
                        wait_until(lambda: hook.deliveries >= 1, timeout=60,
                                   what="a delivery under way")  # fmt: skip
                        worker.kill()  # mid-task: the receiver takes 0.3 s an answer
                        worker.start()
                    if n == 5:
                        relay.kill()
                        relay.start()
            hook.delay = 0
            planned = _all_done(db, hook, ncmec, parts, UPLOADS)
            _check_health(db, url)
        finally:
            for part in parts:
                part.stop()
    _check_nothing_lost(db, hook, ncmec, planned, UPLOADS)
    db.dispose()


def _check_health(db: Database, url: str) -> None:
    """Every web process reports the other parts: in /readyz, and in its metrics."""
    ready = wait_until(
        lambda: (r := httpx.get(f"{url}/readyz").json())["parts"]["relays"] and r,
        timeout=15,
        what="the relay's heartbeat",
    )
    assert ready["status"] == "ready"
    parts = ready["parts"]
    assert len(parts["workers"]) >= 2  # the killed one is listed until 30 s pass
    # No mail or Transparency Database settings anywhere: nobody takes those lanes.
    assert parts["lanes_without_worker"] == ["email", "transparency"]
    assert parts["relay_lag_seconds"] is not None and set(parts["queue_depths"]) >= {"delivery"}
    metrics_key = keys.create_api_key(
        uow=SqlAlchemyUnitOfWork(db), actor=OPERATOR, name="prometheus", scopes=[Scope.metrics]
    ).secret
    text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {metrics_key}"}).text
    assert 'takedown_parts_alive{kind="relay"}' in text
    assert 'takedown_lane_without_worker{lane="email"} 1.0' in text
    assert 'takedown_lane_without_worker{lane="delivery"} 0.0' in text
    assert "takedown_bank_index_age_seconds" in text


def test_restarting_rabbitmq_and_postgresql_under_load_loses_no_acknowledged_work(
    queue_prefix, tmp_path
):
    """Reports and scans keep coming while the broker, then the database, is restarted:
    what was answered 201 is stored with its case, and every case's work is done once."""
    from tests.private_services import private_postgres, private_rabbitmq

    with private_postgres() as pg, private_rabbitmq() as rabbit:
        from sqlalchemy import create_engine, text

        admin = create_engine(pg.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE takedown"))
        admin.dispose()
        database_url = pg.url("takedown")
        db = Database(database_url)
        migrate.upgrade(db)
        platform, lead = platform_and_lead(db)
        uploads = images(UPLOADS)
        acknowledged: list[tuple[int, int]] = []  # (report id, case id) answered 201
        statuses: dict[int, int] = {}
        stop = threading.Event()
        parts: list[Part] = []
        with platform_media() as media, ncmec_server() as ncmec, receiver(SECRET) as hook:
            media.items.update(uploads)
            env = cluster_env(database_url, rabbit.url, queue_prefix, tmp_path, media, ncmec, hook)
            try:
                url, parts = _start(env, tmp_path)

                def report_load() -> None:
                    with httpx.Client(base_url=url, timeout=10) as client:
                        n = 0
                        while not stop.is_set():
                            n += 1
                            try:
                                answer = client.post(
                                    "/v1/reports",
                                    headers={"Authorization": f"Bearer {platform}"},
                                    json={"content_id": f"post-{n % 40}", "category": "policy",
                                          "reporter_role": "user"},
                                )  # fmt: skip
                            except httpx.HTTPError:
                                continue
                            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
                            if answer.status_code == 503:
                                assert answer.headers["Retry-After"]
                            if answer.status_code == 201:
                                body = answer.json()
                                acknowledged.append((body["report_id"], body["case_id"]))
                            time.sleep(0.02)

                load = threading.Thread(target=report_load, daemon=True)
                load.start()
                with httpx.Client(base_url=url, timeout=30) as client:
                    _bank(client, lead, uploads)
                    items = list(uploads.items())
                    for content_id, data in items[:3]:
                        _scan_until_blocked(client, platform, content_id, data, timeout=10)
                    rabbit.stop()  # the broker goes away with work in its queues
                    for content_id, data in items[3:5]:
                        _scan_until_blocked(client, platform, content_id, data)
                    rabbit.start()
                    pg.stop()  # then the database, under the same load
                    time.sleep(1)
                    pg.start()
                    for content_id, data in items[5:]:
                        _scan_until_blocked(client, platform, content_id, data)
                stop.set()
                load.join(30)
                planned = _all_done(db, hook, ncmec, parts, UPLOADS)
            finally:
                stop.set()
                for part in parts:
                    part.stop()
        assert len(acknowledged) > 50
        assert set(statuses) <= {201, 503}, statuses  # the database away is a 503, never a 500
        with db.session(readonly=True) as s:
            stored = dict(s.execute(select(ReportRow.id, ReportRow.case_id)).all())
        assert all(stored.get(report) == case for report, case in acknowledged)
        _check_nothing_lost(db, hook, ncmec, planned, UPLOADS)
        db.dispose()


def _confirmed(db) -> list[int]:
    with db.session(readonly=True) as s:
        return list(
            s.scalars(select(CaseRow.id).where(CaseRow.category == "csam").order_by(CaseRow.id))
        )


def _planned(db, cases: list[int]) -> set[str]:
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        return {a.action_id for c in cases for a in uow.actions.for_case(c)}


def _filings(db, cases: list[int]):
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        return [uow.filings.get(c) for c in cases]


def _outbox(db) -> dict[str, int]:
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        return uow.outbox.counts()


def _pending(db) -> list[tuple[str, str | None, int]]:
    with db.session(readonly=True) as s:
        rows = s.execute(
            select(OutboxRow.event_type, OutboxRow.last_error, OutboxRow.attempts).where(
                OutboxRow.status == "pending"
            )
        )
        return [tuple(r) for r in rows]


def test_four_eyes_hold_in_the_distributed_mode(postgres_url, broker_url, queue_prefix, tmp_path):
    """A senior's 'no violation' about a minor is a proposal in the distributed mode too:
    with a relay and workers running everything it published, the case stays open, nothing
    is restored and the reporter is not told it closed, until a second senior agrees."""
    from takedown.identity import Role
    from takedown.services import accounts
    from tests.review_support import bearer, file_report

    db = Database(postgres_url)
    platform, first = platform_and_lead(db)
    accounts.create_user(uow=SqlAlchemyUnitOfWork(db), actor=OPERATOR, name="second",
                         role=Role.child_safety_lead, password=None)  # fmt: skip
    second = accounts.create_personal_token(
        uow=SqlAlchemyUnitOfWork(db), actor=OPERATOR, user_name="second", label="t"
    ).secret
    parts: list[Part] = []
    with platform_media() as media, ncmec_server() as ncmec, receiver(SECRET) as hook:
        env = cluster_env(postgres_url, broker_url, queue_prefix, tmp_path, media, ncmec, hook)
        try:
            url, parts = _start(env, tmp_path)
            with httpx.Client(base_url=url, timeout=30) as client:
                receipt = file_report(client, platform, "post-minor", category="csam",
                                      depicted_minor=True)  # fmt: skip
                case = receipt["case_id"]
                assert client.post(f"/v1/cases/{case}/claim", headers=bearer(first)).is_success
                proposed = client.post(
                    f"/v1/cases/{case}/decisions",
                    json={"outcome": "no_violation", "reason": "an adult, a costume"},
                    headers=bearer(first),
                )
                assert proposed.json()["state"] == "pending_second_review", proposed.text
                wait_until(
                    lambda: _outbox(db).get("pending", 0) == 0,
                    timeout=60,
                    what="the workers ran what the proposal published",
                )
                held = client.get(f"/v1/cases/{case}", headers=bearer(second)).json()
                assert held["state"] == "pending_second_review" and held["decisions"] == []
                assert hook.actions == {}
                page = client.get(receipt["status_url"].replace(url, ""))
                assert "closed" not in page.text.lower()
                assert client.post(f"/v1/cases/{case}/claim", headers=bearer(second)).is_success
                agreed = client.post(
                    f"/v1/cases/{case}/decisions",
                    json={"outcome": "no_violation", "reason": "agree: an adult"},
                    headers=bearer(second),
                )
                assert agreed.json()["state"] == "closed", agreed.text
        finally:
            for part in parts:
                part.stop()
    db.dispose()
