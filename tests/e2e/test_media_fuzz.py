"""A media fuzz corpus made here (truncated, flipped and random bytes of every accepted
format, a decompression bomb, SVG, video FFmpeg has no decoder for) sent through ``/v1/scan``
on a real server process and through ``takedown hash``: never a 5xx or a traceback, never a
wait past the decode deadline, and the server's memory back to its level after each pass.
``TAKEDOWN_FUZZ_EXAMPLES`` scales the corpus (``make fuzz`` sends many more)."""

from __future__ import annotations

import json
import os
import subprocess
import time

import httpx
import numpy as np
import pytest

from takedown.config import Settings
from takedown.identity import Scope
from takedown.server.container import Container
from takedown.services import keys
from takedown.store import Database, migrate
from tests.conftest import OPERATOR, free_port
from tests.e2e.test_server_process import TAKEDOWN, start, stop, wait_healthy
from tests.media_support import at_megapixels, encode, photo, video
from tests.unit.test_media_decoding import BROKEN, png_bomb

FLIPS = max(2, int(os.environ.get("TAKEDOWN_FUZZ_EXAMPLES", "4")))
DEADLINE = 30.0  # seconds: the image decode limit (10 s) with room for a slow machine


def corpus() -> list[tuple[str, bytes]]:
    rng = np.random.default_rng(17)
    source = at_megapixels(photo("coffee.png"), 0.3)
    whole = {fmt: encode(source, fmt) for fmt in ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")}
    whole["MP4"] = video(seconds=2, size=(320, 180))
    items = [(f"{name}", data) for name, (data, _) in BROKEN.items()]
    items.append(("png bomb", png_bomb()))
    for fmt, data in whole.items():
        for keep in (0.999, 0.9, 0.5, 0.1, 0.01):
            items.append((f"{fmt} cut to {keep:.1%}", data[: max(1, int(len(data) * keep))]))
        for n in range(FLIPS):
            flipped = bytearray(data)
            for at in rng.integers(0, len(data), size=1 + n):
                flipped[at] ^= 1 << int(rng.integers(0, 8))
            items.append((f"{fmt} with {1 + n} bits flipped", bytes(flipped)))
        noise = rng.integers(0, 256, size=len(data) // 2, dtype=np.uint8).tobytes()
        items.append((f"{fmt} header then noise", data[:64] + noise))
    return items


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("media-fuzz")
    settings = Settings(data_dir=data)
    db = Database(settings.effective_database_url)
    migrate.upgrade(db)
    key = keys.create_api_key(
        uow=Container(settings=settings, db=db).uow(), actor=OPERATOR, name="p", scopes=[Scope.scan]
    ).secret
    db.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    env.update({"TAKEDOWN_DATA_DIR": str(data), "TAKEDOWN_HASH_THREADS": "2"})
    port = free_port()
    proc, log = start(["serve", "--port", str(port)], env, data)
    url = f"http://127.0.0.1:{port}"
    wait_healthy(url, proc, log)
    yield url, {"Authorization": f"Bearer {key}"}, proc
    stop(proc, log)


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _scan_all(client, headers, items) -> None:
    for n, (name, data) in enumerate(items):
        started = time.monotonic()
        r = client.post(
            "/v1/scan",
            headers=headers,
            data={"content_id": f"fuzz-{n}", "account_id": "fuzzer"},
            files={"media": ("upload", data, "application/octet-stream")},
        )
        assert time.monotonic() - started < DEADLINE, name
        assert r.status_code < 500, (name, r.status_code, r.text)
        body = r.json()
        if r.status_code == 200:
            assert body["verdict"] in ("allow", "review", "block"), name
        else:
            assert body["error"]["code"] not in ("internal_error", "error"), (name, body)


def test_the_corpus_gets_answers_never_errors_and_memory_comes_back(server):
    url, headers, proc = server
    items = corpus()
    with httpx.Client(base_url=url, timeout=DEADLINE + 5) as client:
        _scan_all(client, headers, items)  # the first pass warms caches and pools
        settled = _rss(proc.pid)
        _scan_all(client, headers, items)
        again = _rss(proc.pid)
        assert client.get("/healthz").status_code == 200
    # A leak would grow with every pass; allocator slack is not a leak.
    assert again - settled < 64 * 1024 * 1024, (settled, again)


def test_takedown_hash_gives_a_line_for_every_file_and_no_traceback(tmp_path):
    items = corpus()
    paths = []
    for n, (_, data) in enumerate(items):
        path = tmp_path / f"{n}.bin"
        path.write_bytes(data)
        paths.append(str(path))
    run = subprocess.run(
        [str(TAKEDOWN), "hash", "--jobs", "2", *paths],
        capture_output=True,
        text=True,
        timeout=600,
        env={k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")},
    )
    assert "Traceback" not in run.stderr, run.stderr
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    assert [line["path"] for line in lines] == paths
    for line, (name, _) in zip(lines, items, strict=True):
        assert "pdq" in line or "frames" in line or line.get("code"), (name, line)
