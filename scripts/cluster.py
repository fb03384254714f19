"""`make cluster` / `make cluster-stop`: the distributed deployment on this machine.

Start: a fresh PostgreSQL database (`CLUSTER_DATABASE`, `takedown_cluster`, on
`CLUSTER_POSTGRES`), the demo's sample data and demo platform, two web processes behind one
port (`TAKEDOWN_WEB_PROCESSES=2`), a relay and two Celery workers on RabbitMQ
(`CLUSTER_BROKER`, queues `CLUSTER_PREFIX.*`), each with its log and PID under
`CLUSTER_STATE` (`data/cluster/`); prints where each part is. Stop: SIGTERM to each, then
SIGKILL to what is left. Development only: the demo's accounts and data.

    python scripts/cluster.py start [--port 8100]
    python scripts/cluster.py stop
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATE = Path(os.environ.get("CLUSTER_STATE", ROOT / "data" / "cluster"))
TAKEDOWN = Path(sys.executable).parent / "takedown"
POSTGRES = os.environ.get("CLUSTER_POSTGRES", "postgresql+psycopg://postgres@localhost:5432")
BROKER = os.environ.get("CLUSTER_BROKER", "amqp://guest:guest@127.0.0.1:5672//")
DATABASE = os.environ.get("CLUSTER_DATABASE", "takedown_cluster")
PREFIX = os.environ.get("CLUSTER_PREFIX", "cluster")


def _fresh_database() -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(f"{POSTGRES}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    return f"{POSTGRES}/{DATABASE}"


def _environment(port: int, database_url: str) -> dict[str, str]:
    """The settings every part shares: what `takedown demo` would otherwise choose in its own
    process (the platform's secret, the vault's key) is chosen here, once, for all."""
    platform = f"http://127.0.0.1:{port + 1}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    env.update(
        TAKEDOWN_DATABASE_URL=database_url,
        TAKEDOWN_DATA_DIR=str(STATE / "data"),
        TAKEDOWN_BROKER_URL=BROKER,
        TAKEDOWN_BROKER_PREFIX=PREFIX,
        TAKEDOWN_WEB_PROCESSES="2",
        TAKEDOWN_MAILBOX="true",
        TAKEDOWN_EVIDENCE_KEY=secrets.token_hex(32),
        TAKEDOWN_PLATFORM_WEBHOOK_SECRET=secrets.token_urlsafe(24),
        TAKEDOWN_PLATFORM_MEDIA_URL=f"{platform}/media/{{content_id}}",
        TAKEDOWN_PLATFORM_WEBHOOK_URL=f"{platform}/takedown/actions",
        TAKEDOWN_PLATFORM_RESOLVE_URL=f"{platform}/takedown/resolve",
    )
    return env


def _spawn(name: str, args: list[str], env: dict[str, str]) -> int:
    log = open(STATE / f"{name}.log", "w")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen(  # noqa: S603 - our own command
        [str(TAKEDOWN), *args],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc.pid


def _ready(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise SystemExit(f"the web processes did not become ready; see {STATE / 'web.log'}")


def start(port: int) -> None:
    if (STATE / "pids.json").exists():
        raise SystemExit("a cluster is running (make cluster-stop first)")
    STATE.mkdir(parents=True, exist_ok=True)
    env = _environment(port, _fresh_database())
    url = f"http://127.0.0.1:{port}"
    pids = {"web": _spawn("web", ["demo", "--port", str(port)], env)}
    (STATE / "pids.json").write_text(json.dumps(pids))
    _ready(url)
    pids["relay"] = _spawn("relay", ["relay"], env)
    for n in (1, 2):
        pids[f"worker{n}"] = _spawn(f"worker{n}", ["worker"], env)
    (STATE / "pids.json").write_text(json.dumps(pids))
    print(f"\ntakedown cluster (PostgreSQL {DATABASE}, RabbitMQ queues {PREFIX}.*)\n")
    print(f"  web       {url}   two processes on one port; console {url}/console")
    print(f"  platform  http://127.0.0.1:{port + 1}   (the demo platform)")
    print(f"  readiness {url}/readyz   metrics {url}/metrics (an API key with scope metrics)")
    for name, pid in pids.items():
        print(f"  {name:<9} pid {pid:<7} log {STATE / (name + '.log')}")
    print(f"\n  accounts and keys: the head of {STATE / 'web.log'}")
    print("  stop with: make cluster-stop\n")


def stop() -> None:
    state = STATE / "pids.json"
    if not state.exists():
        print("no cluster is running")
        return
    pids = json.loads(state.read_text())
    for pid in pids.values():
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + 30
    for name, pid in pids.items():
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            with suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        print(f"stopped {name} ({pid})")
    state.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--port", type=int, default=8100)
    args = parser.parse_args()
    if args.action == "start":
        start(args.port)
    else:
        stop()


if __name__ == "__main__":
    main()
