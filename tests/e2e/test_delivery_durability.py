"""Delivering actions survives SIGKILL: the server is killed in the middle of delivering a
violation's actions to a slow receiver; after a restart every action is delivered, none
under a new id (SQLite and PostgreSQL)."""

import os
import signal

import httpx
import pytest

from takedown.identity import Principal, Role, Scope
from takedown.services import accounts, keys
from takedown.store import Database, SqlAlchemyUnitOfWork, migrate
from tests.conftest import PASSWORD, free_port
from tests.e2e.test_server_process import start, wait_healthy
from tests.enforcement_support import SECRET, receiver
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
OPERATOR = Principal.system("tests")
REPOSTS = 1_500


def test_no_action_is_lost_or_renamed_when_the_server_is_killed_mid_delivery(
    database_url, tmp_path
):
    db = Database(database_url)
    migrate.upgrade(db)
    key = keys.create_api_key(
        uow=SqlAlchemyUnitOfWork(db), actor=OPERATOR, name="platform", scopes=[Scope.report]
    ).secret
    accounts.create_user(
        uow=SqlAlchemyUnitOfWork(db),
        actor=OPERATOR,
        name="lead",
        role=Role.child_safety_lead,
        password=PASSWORD,
    )
    lead = accounts.create_personal_token(
        uow=SqlAlchemyUnitOfWork(db), actor=OPERATOR, user_name="lead", label="t"
    ).secret
    with SqlAlchemyUnitOfWork(db) as uow:
        for i in range(REPOSTS):
            uow.content.upsert(
                content_id=f"r-{i}",
                account_id=f"fan-{i}",
                parent_content_id="root",
                hashes={},
                scanned=False,
            )
        uow.content.upsert(
            content_id="root", account_id="up", parent_content_id=None, hashes={}, scanned=False
        )
        uow.commit()
    with receiver() as hook:
        hook.delay = 0.2  # a slow receiver: the kill lands in the middle of the batches
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
        env.update(
            TAKEDOWN_DATABASE_URL=database_url,
            TAKEDOWN_DATA_DIR=str(tmp_path / "data"),
            TAKEDOWN_LOG_LEVEL="WARNING",
            TAKEDOWN_PLATFORM_WEBHOOK_URL=hook.url,
            TAKEDOWN_PLATFORM_WEBHOOK_SECRET=SECRET,
            TAKEDOWN_ACTION_BATCH_SIZE="50",
            TAKEDOWN_ACTION_TIMEOUT_SECONDS="2",
            TAKEDOWN_ACTION_LEASE_SECONDS="4",  # the killed process's batch is let go soon
            TAKEDOWN_REVIEW_SAMPLE_PERCENT="0",
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc, log = start(["serve", "--port", str(port)], env, tmp_path)
        try:
            wait_healthy(url, proc, log)
            with httpx.Client(base_url=url, timeout=30) as client:
                auth = {"Authorization": f"Bearer {lead}"}
                case = client.post(
                    "/v1/reports",
                    json={"content_id": "root", "category": "policy", "reporter_role": "user"},
                    headers={"Authorization": f"Bearer {key}"},
                ).json()["case_id"]
                client.post(f"/v1/cases/{case}/claim", headers=auth).raise_for_status()
                client.post(
                    f"/v1/cases/{case}/decisions",
                    json={"outcome": "violation", "category": "policy", "reason": "spam"},
                    headers=auth,
                ).raise_for_status()
            wait_until(lambda: hook.deliveries >= 5, timeout=60, what="some batches delivered")
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            log.close()
        with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
            planned = {a.action_id for a in uow.actions.for_case(case)}
            pending = [a for a in uow.actions.for_case(case) if a.state == "pending"]
        assert len(planned) == REPOSTS + 1 + 1  # every copy removed, a strike for its uploader
        assert pending, "the kill should have left actions to deliver"

        hook.delay = 0
        proc, log = start(["serve", "--port", str(port)], env, tmp_path)
        try:
            wait_healthy(url, proc, log)
            wait_until(lambda: set(hook.actions) >= planned, timeout=60, what="every action")
            wait_until(
                lambda: _states(db, case) == {"delivered"}, timeout=30, what="all marked delivered"
            )
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
            log.close()
    assert set(hook.actions) == planned  # nothing under a new id
    db.dispose()


def _states(db, case_id):
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        return {a.state for a in uow.actions.for_case(case_id)}
