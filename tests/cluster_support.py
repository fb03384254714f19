"""The parts of a distributed deployment as real processes (a web process, a relay, Celery
workers) and the settings that point them at a test's platform, NCMEC and broker: for the
tests that kill and restart them."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from typing import Any

from tests.e2e.test_server_process import TAKEDOWN
from tests.media_support import PHOTOS, encode, photo
from tests.ncmec_support import PASSWORD, USERNAME
from tests.review_support import SECRET


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
            except subprocess.TimeoutExpired:  # stuck (a broker being restarted): killed
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}"
            for p in sorted(self.tmp_path.glob(f"{self.name}-*.log"))
        )


LANES = (
    "events", "evidence", "email", "banks", "delivery", "filing", "exchanges", "maintenance",
)  # fmt: skip


def platform_and_lead(db: Any) -> tuple[str, str]:
    """A platform's API key (scans and reports) and a child-safety lead's personal token,
    each under a name of its own (a database may get several)."""
    from takedown.identity import Principal, Role, Scope
    from takedown.services import accounts, keys
    from takedown.store import SqlAlchemyUnitOfWork

    operator = Principal.system("tests")
    suffix = uuid.uuid4().hex[:8]
    platform = keys.create_api_key(
        uow=SqlAlchemyUnitOfWork(db), actor=operator, name=f"platform-{suffix}",
        scopes=[Scope.scan, Scope.report],
    ).secret  # fmt: skip
    accounts.create_user(
        uow=SqlAlchemyUnitOfWork(db), actor=operator, name=f"lead{suffix}",
        role=Role.child_safety_lead, password=None,
    )  # fmt: skip
    lead = accounts.create_personal_token(
        uow=SqlAlchemyUnitOfWork(db), actor=operator, user_name=f"lead{suffix}", label="t"
    ).secret
    return platform, lead


def delete_queues(broker_url: str, prefix: str) -> None:
    """Delete the lanes' queues under ``prefix`` (a test's or a benchmark's own), so a shared
    broker keeps nothing of the run."""
    from kombu import Connection

    with Connection(broker_url) as connection:
        channel = connection.channel()
        for lane in LANES:
            try:
                channel.queue_delete(f"{prefix}.{lane}")
            except Exception:  # never declared: the broker closed the channel; open another
                channel = connection.channel()


def images(n: int) -> dict[str, bytes]:
    """``n`` uploads, each a different sample photo (so each opens a case of its own)."""
    return {
        f"upload-{i}": encode(photo(PHOTOS[i]).convert("RGB").resize((480, 360)), "JPEG")
        for i in range(n)
    }


def cluster_env(database_url, broker_url, prefix, tmp_path, media, ncmec, hook) -> dict[str, str]:
    """Settings for every part: the broker, the platform's media server and webhook, the
    evidence vault, NCMEC with automatic filing, and short leases, so the work a killed part
    held is taken up again within seconds."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    env.update(
        TAKEDOWN_DATABASE_URL=database_url,
        TAKEDOWN_DATA_DIR=str(tmp_path / "data"),
        TAKEDOWN_LOG_LEVEL="WARNING",
        TAKEDOWN_BROKER_URL=broker_url,
        TAKEDOWN_BROKER_PREFIX=prefix,
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
    return env
