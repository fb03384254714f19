"""A separate worker process (``takedown worker``) handles the events that a web process
published without having their handler: which event types are handled is declared for the
whole system (``jobs.SYSTEM_EVENTS``), so the web process leaves them pending instead of
storing them done."""

import json
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from sqlalchemy import select

from takedown.bootstrap import default_registry
from takedown.cases import Category, ReporterEmailQueued, ReporterRole
from takedown.server.container import Container
from takedown.services import reports
from takedown.store.models import OutboxRow
from tests.conftest import make_settings
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _email_status(container: Container) -> list[str]:
    with container.uow(readonly=True) as uow:
        rows = uow.session.scalars(
            select(OutboxRow.status).where(OutboxRow.event_type == ReporterEmailQueued.event_type)
        )
        return list(rows)


def test_a_worker_process_sends_the_email_a_web_process_without_its_handler_queued(
    tmp_path, database_url, db
):
    settings = make_settings(database_url, tmp_path / "web")
    web = Container(settings=settings, db=db, registry=default_registry(settings))
    assert not web.registry.has_handlers(ReporterEmailQueued.event_type)
    receipt = reports.submit(
        uow=web.uow(),
        actor=None,
        report_in=reports.ReportCreate(
            category=Category.ncii,
            reporter_role=ReporterRole.depicted_person,
            content_id="post-1",
            contact_email="me@example.org",
        ),
        ctx=replace(web.intake(), email=True),
    )
    # The web process's own worker passes over it: not its to handle, and not done.
    assert web.runtime.run_once() == 0
    assert _email_status(web) == ["pending"]

    data_dir = tmp_path / "worker"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TAKEDOWN_DATABASE_URL": database_url,
        "TAKEDOWN_DATA_DIR": str(data_dir),
        "TAKEDOWN_MAILBOX": "true",
        "TAKEDOWN_WORKER_POLL_SECONDS": "0.1",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "takedown", "worker"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        mailbox = data_dir / "mailbox"
        [delivered] = wait_until(
            lambda: sorted(mailbox.glob("*.json")) if mailbox.is_dir() else [],
            timeout=60,
            what="the worker process's delivery",
        )
        message = json.loads(delivered.read_text())
        assert message["to"] == "me@example.org"
        assert receipt.case_number in message["subject"]
        wait_until(lambda: _email_status(web) == ["done"], what="the event marked done")
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
    assert worker.returncode == 0, err.decode()
    handlers_here = err.decode().split("handlers here: ", 1)[1].split(")", 1)[0].split(", ")
    assert "cases.reporter_email" in handlers_here
