"""A ``takedown serve`` process for benchmarks that need real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

TAKEDOWN = str(Path(sys.executable).parent / "takedown")


@contextmanager
def running_server(env: dict[str, str], port: int, cpus: set[int] | None = None) -> Iterator[str]:
    """Start the server (pinned to ``cpus`` if given), wait until it answers, yield its URL,
    stop it with SIGTERM."""
    server = subprocess.Popen(
        [TAKEDOWN, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
