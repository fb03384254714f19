"""Filing survives SIGKILL (SQLite and PostgreSQL): a server killed while NCMEC holds its
``/submit`` leaves the filing for a person, never submitted twice; one killed during
``/upload``, after the report id was stored, is resumed by the next server from that id and
filed once, its file described once."""

from __future__ import annotations

import os
import signal
import threading

import httpx
import pytest

from takedown.identity import Principal, Role, Scope
from takedown.media import hash_image
from takedown.services import accounts, keys
from takedown.store import Database, SqlAlchemyUnitOfWork, migrate
from tests.conftest import free_port
from tests.e2e.test_server_process import start, wait_healthy
from tests.ncmec_support import PASSWORD, USERNAME, ncmec_server
from tests.review_support import SECRET, platform_media
from tests.waiting import wait_until

pytestmark = pytest.mark.slow
OPERATOR = Principal.system("tests")


def _filing(db, case_id=1):
    with SqlAlchemyUnitOfWork(db, readonly=True) as uow:
        return uow.filings.get(case_id)


@pytest.mark.parametrize("hang", ["submit", "upload"])
def test_a_filer_killed_mid_step_never_submits_twice(database_url, tmp_path, hang):
    db = Database(database_url)
    migrate.upgrade(db)
    platform = keys.create_api_key(
        uow=SqlAlchemyUnitOfWork(db), actor=OPERATOR, name="platform", scopes=[Scope.scan]
    ).secret
    accounts.create_user(
        uow=SqlAlchemyUnitOfWork(db), actor=OPERATOR, name="lead", role=Role.child_safety_lead,
        password=None,
    )  # fmt: skip
    lead = accounts.create_personal_token(
        uow=SqlAlchemyUnitOfWork(db), actor=OPERATOR, user_name="lead", label="t"
    ).secret
    held = threading.Event()
    with platform_media() as media, ncmec_server() as ncmec:
        picture = media.add("known", n=2)
        setattr(ncmec.state, f"hang_{hang}", held)
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
        env.update(
            TAKEDOWN_DATABASE_URL=database_url,
            TAKEDOWN_DATA_DIR=str(tmp_path / "data"),
            TAKEDOWN_LOG_LEVEL="WARNING",
            TAKEDOWN_PLATFORM_MEDIA_URL=media.template,
            TAKEDOWN_PLATFORM_WEBHOOK_SECRET=SECRET,
            TAKEDOWN_EVIDENCE_KEY="12" * 32,
            TAKEDOWN_NCMEC_URL=ncmec.url,
            TAKEDOWN_NCMEC_USERNAME=USERNAME,
            TAKEDOWN_NCMEC_PASSWORD=PASSWORD,
            TAKEDOWN_NCMEC_REPORTER_EMAIL="safety@platform.example",
            TAKEDOWN_NCMEC_AUTO_FILE="true",
            TAKEDOWN_NCMEC_TIMEOUT_SECONDS="3",
            TAKEDOWN_NCMEC_LEASE_SECONDS="4",
            TAKEDOWN_WORKER_POLL_SECONDS="0.2",
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc, log = start(["serve", "--port", str(port)], env, tmp_path)
        try:
            wait_healthy(url, proc, log)
            with httpx.Client(base_url=url, timeout=30) as client:
                auth = {"Authorization": f"Bearer {lead}"}
                client.post(
                    "/v1/banks", headers=auth, json={"name": "k", "policy": "block_and_report"}
                ).raise_for_status()
                client.post(
                    "/v1/banks/k/entries",
                    headers=auth,
                    json={"entries": [{"signal_type": "md5", "value": hash_image(picture).md5}]},
                ).raise_for_status()
                wait_until(
                    lambda: (
                        client.post(
                            "/v1/scan",
                            headers={"Authorization": f"Bearer {platform}"},
                            data={"content_id": "known", "account_id": "u-1"},
                            files={"media": ("a.jpg", picture, "image/jpeg")},
                        ).json()["verdict"]
                        == "block"
                    ),
                    timeout=10,
                    what="the bank in the server's index",
                )
            if hang == "submit":
                wait_until(lambda: ncmec.state.submits == 1, timeout=30, what="/submit held")
            else:
                wait_until(lambda: (_filing(db) or None) and _filing(db).report_id, timeout=30,
                           what="the report id stored")  # fmt: skip
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            log.close()
        held.set()  # NCMEC answers the killed process's request, to nobody
        setattr(ncmec.state, f"hang_{hang}", None)
        before = _filing(db)
        assert before.state == "filing"
        proc, log = start(["serve", "--port", str(port)], env, tmp_path)
        try:
            wait_healthy(url, proc, log)
            want = "needs_attention" if hang == "submit" else "filed"
            after = wait_until(
                lambda: (f := _filing(db)) is not None and f.state == want and f,
                timeout=90,
                what=f"the filing {want} once the killed filer's lease ran out",
            )
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(20)
            log.close()
    assert ncmec.state.submits == 1
    if hang == "submit":
        assert before.submit_sent_at is not None and before.report_id is None
        assert "stopped after sending /submit" in after.error
    else:
        assert after.report_id == before.report_id
        [report] = ncmec.state.filed()
        # The killed process's upload reached NCMEC after all: its copy has no details (NCMEC's
        # /upload has no idempotency key). The report is one, with its file described once.
        described = [f for f in report.files.values() if f.details is not None]
        assert len(described) == 1 and described[0].md5 == hash_image(picture).md5
    db.dispose()
