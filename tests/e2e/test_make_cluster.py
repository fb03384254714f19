"""``make cluster`` / ``make cluster-stop`` (``scripts/cluster.py``) on this machine's
PostgreSQL and RabbitMQ: the parts start, every web process reports the relay and both
workers in ``/readyz``, the demo platform answers, and stopping leaves no process behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import PG_ADMIN_URL, _pg_admin_exec, free_port_pair
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_make_cluster_starts_every_part_and_make_cluster_stop_ends_them(
    pg_template, broker_url, queue_prefix, tmp_path
):
    port = free_port_pair()
    database = f"takedown_cluster_{uuid.uuid4().hex[:8]}"
    server = make_url(PG_ADMIN_URL).render_as_string(hide_password=False).rsplit("/", 1)[0]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")},
        "CLUSTER_STATE": str(tmp_path / "cluster"),
        "CLUSTER_POSTGRES": server,
        "CLUSTER_DATABASE": database,
        "CLUSTER_BROKER": broker_url,
        "CLUSTER_PREFIX": queue_prefix,
    }
    script = [sys.executable, str(ROOT / "scripts" / "cluster.py")]
    started = subprocess.run(
        [*script, "start", "--port", str(port)], env=env, capture_output=True, text=True,
        timeout=240, check=False,
    )  # fmt: skip
    assert started.returncode == 0, started.stdout + started.stderr
    pids = json.loads((tmp_path / "cluster" / "pids.json").read_text())
    try:
        for part in ("web", "relay", "worker1", "worker2"):
            assert part in started.stdout
        ready = wait_until(
            lambda: (
                (r := httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).json())
                .get("parts", {})
                .get("relays")
                and len(r["parts"]["workers"]) == 2
                and r
            ),
            timeout=30,
            what="the relay's and both workers' heartbeats",
        )
        # The demo sets no NCMEC address: no worker can file, and /readyz says so.
        assert ready["parts"]["lanes_without_worker"] == ["filing", "transparency"]
        assert httpx.get(f"http://127.0.0.1:{port + 1}/", timeout=5).status_code == 200
    finally:
        stopped = subprocess.run(
            [*script, "stop"], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        _pg_admin_exec(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert not any(_alive(pid) for pid in pids.values())
    assert not (tmp_path / "cluster" / "pids.json").exists()
