"""The distributed mode survives its parts being killed (PostgreSQL and RabbitMQ, skipped with
the reason where either does not answer). A web process, a relay and two Celery workers run as
real processes; uploads that match a bank open confirmed CSAM cases, whose removals go to the
platform's webhook (slow, so a kill lands mid-delivery), whose media is sealed, and whose
reports are filed with NCMEC. A worker is SIGKILLed mid-task and the relay SIGKILLed; both are
started again. Afterwards every case's actions are delivered under the ids they were planned
with, every report is filed once, nothing waits in the outbox, and the audit chain verifies."""

from __future__ import annotations

import os
import signal
import subprocess

import httpx
import pytest

from takedown.identity import Principal, Role, Scope
from takedown.media import hash_image
from takedown.services import accounts, keys
from takedown.services import audit as audit_service
from takedown.store import Database, SqlAlchemyUnitOfWork
from tests.conftest import free_port
from tests.e2e.test_server_process import TAKEDOWN, wait_healthy
from tests.enforcement_support import receiver
from tests.media_support import PHOTOS, encode, photo
from tests.ncmec_support import PASSWORD, USERNAME, ncmec_server
from tests.review_support import SECRET, platform_media
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
OPERATOR = Principal.system("tests")
UPLOADS = 8


class Part:
    """One process of the cluster, started and killed as an operator's supervisor would."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], tmp_path) -> None:
        self.name, self.args, self.env, self.tmp_path = name, args, env, tmp_path
        self.runs = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        if self.runs:
            self.log.close()
        self.runs += 1
        log = open(self.tmp_path / f"{self.name}-{self.runs}.log", "w+")  # noqa: SIM115
        self.log = log
        self.proc = subprocess.Popen(
            [str(TAKEDOWN), *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        assert self.proc is not None and self.proc.poll() is None, self.logs()
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}"
            for p in sorted(self.tmp_path.glob(f"{self.name}-*.log"))
        )


def _images() -> dict[str, bytes]:
    return {
        f"upload-{i}": encode(photo(PHOTOS[i]).convert("RGB").resize((480, 360)), "JPEG")
        for i in range(UPLOADS)
    }


def test_killing_a_worker_mid_task_and_the_relay_loses_nothing_and_files_each_report_once(
    postgres_url, broker_url, queue_prefix, tmp_path
):
    db = Database(postgres_url)
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
    images = _images()
    parts: list[Part] = []
    with platform_media() as media, ncmec_server() as ncmec, receiver(SECRET) as hook:
        media.items.update(images)
        hook.delay = 0.3  # deliveries take a while: the kill lands mid-task
        env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
        env.update(
            TAKEDOWN_DATABASE_URL=postgres_url,
            TAKEDOWN_DATA_DIR=str(tmp_path / "data"),
            TAKEDOWN_LOG_LEVEL="WARNING",
            TAKEDOWN_BROKER_URL=broker_url,
            TAKEDOWN_BROKER_PREFIX=queue_prefix,
            TAKEDOWN_PLATFORM_MEDIA_URL=media.template,
            TAKEDOWN_PLATFORM_WEBHOOK_URL=hook.url,
            TAKEDOWN_PLATFORM_WEBHOOK_SECRET=SECRET,
            TAKEDOWN_EVIDENCE_KEY="12" * 32,
            TAKEDOWN_NCMEC_URL=ncmec.url,
            TAKEDOWN_NCMEC_USERNAME=USERNAME,
            TAKEDOWN_NCMEC_PASSWORD=PASSWORD,
            TAKEDOWN_NCMEC_REPORTER_EMAIL="safety@platform.example",
            TAKEDOWN_NCMEC_AUTO_FILE="true",
            TAKEDOWN_NCMEC_TIMEOUT_SECONDS="3",
            TAKEDOWN_NCMEC_LEASE_SECONDS="4",
            TAKEDOWN_ACTION_TIMEOUT_SECONDS="2",
            TAKEDOWN_ACTION_LEASE_SECONDS="4",
            TAKEDOWN_ACTION_BATCH_SIZE="2",
            TAKEDOWN_OUTBOX_LEASE_SECONDS="4",
            TAKEDOWN_RELAY_LEASE_SECONDS="6",
            TAKEDOWN_WORKER_POLL_SECONDS="0.3",
            TAKEDOWN_REVIEW_SAMPLE_PERCENT="0",
        )
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        try:
            web = Part("web", ["serve", "--port", str(port)], env, tmp_path)
            parts.append(web)
            relay = Part("relay", ["relay"], env, tmp_path)
            workers = [Part(f"worker{i}", ["worker"], env, tmp_path) for i in (1, 2)]
            parts += [relay, *workers]
            wait_healthy(url, web.proc, web.log)
            with httpx.Client(base_url=url, timeout=30) as client:
                auth = {"Authorization": f"Bearer {lead}"}
                client.post(
                    "/v1/banks", headers=auth, json={"name": "known", "policy": "block_and_report"}
                ).raise_for_status()
                entries = [
                    {"signal_type": "md5", "value": hash_image(b).md5} for b in images.values()
                ]
                client.post(
                    "/v1/banks/known/entries", headers=auth, json={"entries": entries}
                ).raise_for_status()
                for n, (content_id, data) in enumerate(images.items()):
                    verdict = wait_until(
                        lambda content_id=content_id, data=data: client.post(
                            "/v1/scan",
                            headers={"Authorization": f"Bearer {platform}"},
                            data={"content_id": content_id, "account_id": f"u-{n}"},
                            files={"media": ("a.jpg", data, "image/jpeg")},
                        ).json()["verdict"] == "block" or None,
                        timeout=10,
                        what="the bank in the web process's index",
                    )  # fmt: skip
                    assert verdict
                    if n == 2:
                        wait_until(lambda: hook.deliveries >= 1, timeout=60,
                                   what="a delivery under way")  # fmt: skip
                        workers[0].kill()  # mid-task: the receiver takes 0.3 s an answer
                        workers[0].start()
                    if n == 5:
                        relay.kill()
                        relay.start()
            hook.delay = 0
            cases = _cases(db)
            assert len(cases) == UPLOADS
            planned = _planned(db, cases)
            wait_until(lambda: set(hook.actions) >= planned, timeout=120,
                       what=f"every action delivered\n{_logs(parts)}")  # fmt: skip
            wait_until(lambda: len(ncmec.state.filed()) >= UPLOADS, timeout=120,
                       what=f"every report filed\n{_logs(parts)}")  # fmt: skip
            wait_until(lambda: _outbox(db).get("pending", 0) == 0, timeout=60,
                       what=f"the outbox emptied ({_pending(db)})\n{_logs(parts)}")  # fmt: skip
        finally:
            for part in parts:
                part.stop()
    assert set(hook.actions) == planned  # nothing under a new id
    assert ncmec.state.submits == UPLOADS  # each report filed once
    assert sorted(f.state for f in _filings(db, cases)) == ["filed"] * UPLOADS
    assert _outbox(db).get("dead", 0) == 0
    with SqlAlchemyUnitOfWork(db) as uow:
        chain = audit_service.verify(uow=uow, actor=OPERATOR)
    assert chain.problems == [] and chain.entries > UPLOADS
    db.dispose()


def _logs(parts: list[Part]) -> str:
    return "\n".join(p.logs() for p in parts)


def _cases(db) -> list[int]:
    with db.session(readonly=True) as s:
        from sqlalchemy import select

        from takedown.store.models import CaseRow

        return list(s.scalars(select(CaseRow.id).order_by(CaseRow.id)))


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
    from sqlalchemy import select

    from takedown.store.models import OutboxRow

    with db.session(readonly=True) as s:
        rows = s.execute(
            select(OutboxRow.event_type, OutboxRow.last_error, OutboxRow.attempts).where(
                OutboxRow.status == "pending"
            )
        )
        return [tuple(r) for r in rows]
