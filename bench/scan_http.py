"""``/v1/scan`` over real HTTP against a running ``takedown serve``: images per second, and
the share of in-process hashing speed it keeps (goal: at least 80%). Also the raw-body upload,
``/v1/content/{id}/scan``, which skips multipart encoding and parsing.

The server is a separate process on SQLite with a bank of 10,000 PDQ hashes. It is measured
two ways:

- like for like: the server pinned to core 0 and the load generator to core 1, against
  ``hash_image`` in process on one core (the hashing benchmark's measure);
- the whole machine: server and client sharing both cores, against ``hash_image`` in two
  threads. Here the client's own work (building multipart bodies, reading replies) takes
  cores the in-process run has to itself, so this share is a floor, not the service's cost.

Four uploads are in flight at a time (``BENCH_SCAN_CONCURRENCY``), so the server always has
the next one waiting while the client reads a reply and encodes the next upload; with two,
the pinned server sat idle between uploads.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image
from rich.console import Console
from rich.table import Table

from bench._server import running_server
from bench.hashing import DATA, PHOTOS
from takedown.media import hash_image

OUT = Path(__file__).resolve().parent / "results"
console = Console(stderr=True)
MEGAPIXELS = [0.3, 1, 2, 5, 12]
CONCURRENCY = int(os.environ.get("BENCH_SCAN_CONCURRENCY", "4"))


def uploads() -> list[bytes]:
    items = []
    for name in PHOTOS:
        src = Image.open(os.path.join(DATA, name)).convert("RGB")
        for mp in MEGAPIXELS:
            f = (mp * 1e6 / (src.width * src.height)) ** 0.5
            out = io.BytesIO()
            src.resize((round(src.width * f), round(src.height * f))).save(out, "JPEG", quality=90)
            items.append(out.getvalue())
    return items


def rate(fn, items: list[bytes], rounds: int, width: int = CONCURRENCY) -> float:
    work = items * rounds
    start = time.perf_counter()
    with ThreadPoolExecutor(width) as pool:
        list(pool.map(fn, work))
    return len(work) / (time.perf_counter() - start)


def measure_http(
    env: dict[str, str],
    key: str,
    items: list[bytes],
    rounds: int,
    *,
    server_cpus: set[int] | None,
    client_cpus: set[int] | None,
) -> tuple[float, float, float]:
    """Images per second through ``POST /v1/scan`` (multipart) and ``POST
    /v1/content/{id}/scan`` (the body is the image), server and client on the given cores,
    and of ``hash_image`` in this process on the server's cores while the server waits.

    The three are measured in alternating rounds, and each figure is the median of its
    rounds: on this machine a single timing varies by a quarter or more from minute to minute,
    so a ratio of figures taken minutes apart measures the machine, not the service."""
    everything = os.sched_getaffinity(0)
    with running_server(env, 18766, cpus=server_cpus) as url:
        if client_cpus:
            os.sched_setaffinity(0, client_cpus)
        clients = [
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60)
            for _ in range(CONCURRENCY)
        ]
        counter = iter(range(10**9))

        def scan(data: bytes, raw: bool = False) -> None:
            n = next(counter)
            if raw:
                r = clients[n % CONCURRENCY].post(
                    f"/v1/content/c{n}-{id(clients)}/scan",
                    params={"account_id": "a"},
                    headers={"Content-Type": "image/jpeg"},
                    content=data,
                )
            else:
                r = clients[n % CONCURRENCY].post(
                    "/v1/scan",
                    data={"content_id": f"c{n}-{id(clients)}", "account_id": "a"},
                    files={"media": ("x.jpg", data, "image/jpeg")},
                )
            assert r.status_code == 200, r.text

        def scan_raw(data: bytes) -> None:
            scan(data, raw=True)

        try:
            rate(scan, items, 1)  # warm the server as the in-process run was warmed
            rate(scan_raw, items, 1)
            multipart, raw, local = [], [], []
            for _ in range(rounds):
                multipart.append(rate(scan, items, 1))
                raw.append(rate(scan_raw, items, 1))
                os.sched_setaffinity(0, server_cpus or everything)
                local.append(rate(hash_image, items, 1, width=len(server_cpus or everything)))
                os.sched_setaffinity(0, client_cpus or everything)
            return statistics.median(multipart), statistics.median(raw), statistics.median(local)
        finally:
            os.sched_setaffinity(0, everything)


def main() -> None:
    rounds = int(os.environ.get("BENCH_SCAN_ROUNDS", "5"))
    items = uploads()
    for data in items:  # warm: each size's PDQ weights are computed once, then cached
        hash_image(data)

    takedown = str(Path(sys.executable).parent / "takedown")
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "TAKEDOWN_DATA_DIR": tmp,
            "TAKEDOWN_LOG_LEVEL": "WARNING",
            "TAKEDOWN_WEB_PROCESSES": os.environ.get("TAKEDOWN_WEB_PROCESSES", "1"),
        }
        env.pop("TAKEDOWN_DATABASE_URL", None)

        def run(*a):
            return subprocess.run(
                [takedown, *a],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()

        run("db", "upgrade")
        run("bank", "create", "bench", "--policy", "review")
        bank = Path(tmp) / "bank.csv"
        rng = np.random.default_rng(1)
        bank.write_text(
            "".join(
                f"pdq,{bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex()}\n"
                for _ in range(10_000)
            )
        )
        run("bank", "import", "bench", str(bank))
        key = run("keys", "create", "--name", "bench", "--scope", "scan")
        pinned, pinned_raw, one_core = measure_http(
            env, key, items, rounds, server_cpus={0}, client_cpus={1}
        )
        over_http, _, in_process = measure_http(
            env, key, items, rounds, server_cpus=None, client_cpus=None
        )
    table = Table(
        title=f"/v1/scan over HTTP (JPEG 0.3–12 MP, SQLite, {CONCURRENCY} uploads in flight)"
    )
    for col in ("measure", "images/s", "share"):
        table.add_column(col, justify="right")
    table.add_row("hash_image in process, one core", f"{one_core:.1f}", "")
    table.add_row(
        "POST /v1/scan, server on one core, client on the other",
        f"{pinned:.1f}",
        f"{pinned / one_core:.0%} of one core in process",
    )
    table.add_row(
        "POST /v1/content/{id}/scan (raw body), server on one core, client on the other",
        f"{pinned_raw:.1f}",
        f"{pinned_raw / one_core:.0%} of one core in process",
    )
    table.add_row(
        f"hash_image in process, {len(os.sched_getaffinity(0))} threads", f"{in_process:.1f}", ""
    )
    table.add_row(
        "POST /v1/scan, server and client sharing both cores",
        f"{over_http:.1f}",
        f"{over_http / in_process:.0%} of all cores in process",
    )
    Console().print(table)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "scan_http.json").write_text(
        json.dumps(
            {
                "in_process_one_core_ips": one_core,
                "http_one_core_ips": pinned,
                "share_one_core": pinned / one_core,
                "http_raw_one_core_ips": pinned_raw,
                "share_raw_one_core": pinned_raw / one_core,
                "in_process_two_threads_ips": in_process,
                "http_shared_cores_ips": over_http,
                "share_shared_cores": over_http / in_process,
            },
            indent=2,
        )
    )
