"""A ``takedown serve`` process for benchmarks that need real HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

TAKEDOWN = str(Path(sys.executable).parent / "takedown")


def processes() -> Iterator[tuple[Path, list[str]]]:
    """Each process's /proc entry and its ``stat`` fields after the command's name (0 its
    state, 1 its parent, 3 its session, 11 and 12 its user and system ticks)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            yield proc, (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue


def cpu_seconds(match: Callable[[Path, list[str]], bool]) -> float:
    """CPU seconds (user + system) used so far by the processes ``match`` picks."""
    ticks = 0
    for proc, fields in processes():
        try:
            if match(proc, fields):
                ticks += int(fields[11]) + int(fields[12])
        except OSError:  # it ended while being read
            continue
    return ticks / os.sysconf("SC_CLK_TCK")


def _serves(port: int) -> Callable[[Path, list[str]], bool]:
    needle = f"serve\x00--port\x00{port}".encode()
    return lambda proc, _: needle in (proc / "cmdline").read_bytes()


def _server_procs(port: int) -> Iterator[Path]:
    """The /proc entries of the server process(es) serving ``port``."""
    serves = _serves(port)
    for proc, fields in processes():
        try:
            if serves(proc, fields):
                yield proc
        except OSError:
            continue


def server_cpu(port: int) -> float:
    """CPU seconds (user + system) used so far by the server process serving ``port``."""
    return cpu_seconds(_serves(port))


def server_children_cpu(port: int) -> float:
    """CPU seconds used so far by the server's child processes (its password checks), which
    its own ``server_cpu`` leaves out; a child that has ended is no longer counted."""
    parents = {proc.name for proc in _server_procs(port)}
    return cpu_seconds(lambda _, fields: fields[1] in parents)


def server_disk_writes(port: int) -> int | None:
    """Bytes the server process serving ``port`` has sent to storage so far (``write_bytes``
    of ``/proc/PID/io``: SQLite's WAL, its checkpoints into the database file, logs), or None
    where the kernel does not count them for us."""
    total = None
    for proc in _server_procs(port):
        try:
            for line in (proc / "io").read_text().splitlines():
                if line.startswith("write_bytes:"):
                    total = (total or 0) + int(line.split()[1])
        except OSError:
            continue
    return total


def wait_until_idle(port: int, *, timeout: float = 180.0, busy: float = 0.1) -> None:
    """Wait until the server has settled: after it answers, it still loads the bank indexes
    and compiles the lookup kernels in the background, which would eat into the first
    measurements (on a pinned core, all of them)."""
    deadline = time.monotonic() + timeout
    before = server_cpu(port)
    while time.monotonic() < deadline:
        time.sleep(1.0)
        now = server_cpu(port)
        if now - before < busy:
            return
        before = now


@contextmanager
def running_server(env: dict[str, str], port: int, cpus: set[int] | None = None) -> Iterator[str]:
    """Start the server (pinned to ``cpus`` if given), wait until it answers and has settled,
    yield its URL, stop it with SIGTERM."""
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
        wait_until_idle(port)
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)
