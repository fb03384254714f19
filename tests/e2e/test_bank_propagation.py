"""A bank change reaches every web process's scans within a second (PostgreSQL): two ``serve``
processes on one database; an entry added, then disabled, through one is matched, then not,
by uploads to the other within a second of the answer, and the other catches up by the
entries that changed, not by reading every entry again."""

from __future__ import annotations

import os
import time

import httpx
import pytest

from takedown.identity import Principal
from takedown.media import hash_image
from takedown.store import Database
from tests.cluster_support import Part, platform_and_lead
from tests.conftest import free_port
from tests.e2e.test_server_process import wait_healthy
from tests.media_support import PHOTOS, encode, photo

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
OPERATOR = Principal.system("tests")


def _verdict(client: httpx.Client, key: str, data: bytes, n: int) -> str:
    answer = client.post(
        "/v1/scan",
        headers={"Authorization": f"Bearer {key}"},
        data={"content_id": f"item-{n}", "account_id": "u"},
        files={"media": ("a.jpg", data, "image/jpeg")},
    )
    answer.raise_for_status()
    return str(answer.json()["verdict"])


def _until(client, key, data, want: str, counter: list[int], timeout: float = 10.0) -> float:
    """Seconds until an upload to ``client``'s process gets ``want``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        counter[0] += 1
        if _verdict(client, key, data, counter[0]) == want:
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"no {want!r} within {timeout} s")


def test_a_bank_change_through_one_web_process_reaches_the_others_scans_within_a_second(
    postgres_url, tmp_path
):
    db = Database(postgres_url)
    platform, lead = platform_and_lead(db)
    data = encode(photo(PHOTOS[1]).convert("RGB").resize((400, 300)), "JPEG")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    env.update(
        TAKEDOWN_DATABASE_URL=postgres_url,
        TAKEDOWN_DATA_DIR=str(tmp_path / "data"),
        TAKEDOWN_LOG_LEVEL="WARNING",
    )
    ports = [free_port(), free_port()]
    parts = [Part(f"web{p}", ["serve", "--port", str(p)], env, tmp_path) for p in ports]
    try:
        for port, part in zip(ports, parts, strict=True):
            wait_healthy(f"http://127.0.0.1:{port}", part.proc, part.log)
        one, other = (httpx.Client(base_url=f"http://127.0.0.1:{p}", timeout=30) for p in ports)
        auth = {"Authorization": f"Bearer {lead}"}
        one.post(
            "/v1/banks", headers=auth, json={"name": "k", "policy": "block"}
        ).raise_for_status()
        n = [0]
        assert _until(other, platform, data, "allow", n) < 10  # its indexes loaded
        added = one.post(
            "/v1/banks/k/entries",
            headers=auth,
            json={"entries": [{"signal_type": "md5", "value": hash_image(data).md5}]},
        )
        added.raise_for_status()
        assert _verdict(one, platform, data, 10_000) == "block"  # applied where it was made
        assert _until(other, platform, data, "block", n) < 1.0
        entry = one.get("/v1/banks/k/entries", headers=auth).json()[0]["id"]
        one.post(f"/v1/banks/k/entries/{entry}/disable", headers=auth, json={}).raise_for_status()
        assert _until(other, platform, data, "allow", n) < 1.0
        one.close()
        other.close()
    finally:
        for part in parts:
            part.stop()
    db.dispose()
