"""The real server process, started as ``make demo`` starts it, answers over HTTP."""

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, free_port_pair
from tests.waiting import wait_until

TAKEDOWN = Path(sys.executable).parent / "takedown"


def start(args, env, tmp_path):
    log = open(tmp_path / "server.log", "w+")  # noqa: SIM115
    proc = subprocess.Popen(
        [str(TAKEDOWN), *args],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc, log


def wait_healthy(url, proc, log, timeout=60.0):
    def healthy() -> bool:
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read()}")
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, timeout=timeout, what="the server's health")


def stop(proc, log):
    """SIGTERM, as a service manager stops it; returns the log. uvicorn shuts down gracefully
    and then re-raises the signal, so the exit status is -15."""
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    finally:
        log.seek(0)
        text = log.read()
        log.close()
    assert code in (0, -signal.SIGTERM), text
    assert "takedown stopped" in text, text
    return text


@pytest.fixture
def demo_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAKEDOWN_")}
    env["TAKEDOWN_DATA_DIR"] = str(tmp_path / "data")
    return env


def test_demo_starts_the_server_with_sample_accounts_and_docs(demo_env, tmp_path):
    port = free_port_pair()
    url = f"http://127.0.0.1:{port}"
    proc, log = start(["demo", "--port", str(port)], demo_env, tmp_path)
    try:
        wait_healthy(url, proc, log)
        assert httpx.get(f"{url}/readyz").json()["status"] == "ready"
        docs = httpx.get(f"{url}/docs")
        assert docs.status_code == 200 and "swagger-ui" in docs.text
        assert httpx.get(f"{url}/docs-assets/swagger-ui-bundle.js").status_code == 200
        spec = httpx.get(f"{url}/openapi.json").json()
        assert "/v1/keys" in spec["paths"]
        log.seek(0)
        printed = log.read()
        assert f"{url}/console" in printed and f"{url}/docs" in printed
        password = re.search(r"login admin\s+password (\S+)", printed).group(1)
        key = re.search(r"platform API key \(scan, report\): (tdk_\S+)", printed).group(1)

        with httpx.Client(base_url=url) as client:
            page = client.get("/login")
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            r = client.post(
                "/login",
                data={
                    "name": "admin",
                    "password": password,
                    "csrf_token": csrf,
                    "next": "/console",
                },
            )
            assert r.status_code == 303
            assert "Welcome, admin" in client.get("/console").text
        me = httpx.get(f"{url}/v1/keys", headers={"Authorization": f"Bearer {key}"})
        assert me.status_code == 403  # a platform key may not manage keys
        sample = re.search(r"-F media=@(\S+)", printed).group(1)
        with open(sample, "rb") as f:
            scanned = httpx.post(
                f"{url}/v1/scan",
                headers={"Authorization": f"Bearer {key}"},
                data={"content_id": "demo-1", "account_id": "demo-user"},
                files={"media": ("sample.jpg", f.read(), "image/jpeg")},
            )
        assert scanned.status_code == 200 and scanned.json()["verdict"] == "review"
        assert (tmp_path / "data" / "takedown.db").exists()
    finally:
        stop(proc, log)


def _readyz_access(env, tmp_path, headers):
    """Serve, send one ``/readyz`` with ``headers``, stop; the answer and its access lines."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc, log = start(["serve", "--port", str(port)], env, tmp_path)
    try:
        wait_healthy(url, proc, log)
        answer = httpx.get(f"{url}/readyz", headers=headers)
    finally:
        lines = stop(proc, log).splitlines()
    records = [json.loads(line) for line in lines if line.startswith("{")]
    access = [r for r in records if r.get("msg") == "request" and r.get("path") == "/readyz"]
    return answer, access


def test_serve_upgrades_an_empty_database_and_logs_json_with_request_ids(demo_env, tmp_path):
    headers = {"X-Request-ID": "trace-123", "X-Forwarded-For": "203.0.113.7"}
    r, access = _readyz_access(demo_env, tmp_path, headers)
    assert r.status_code == 200 and r.headers["x-request-id"] == "trace-123"
    assert access and access[0]["request_id"] == "trace-123" and access[0]["status"] == 200
    assert access[0]["client"] == "127.0.0.1"  # no proxy named: the header is not trusted


def test_behind_a_named_proxy_the_client_is_the_visitor(demo_env, tmp_path):
    env = {**demo_env, "TAKEDOWN_FORWARDED_ALLOW_IPS": "127.0.0.1"}
    _, access = _readyz_access(env, tmp_path, {"X-Forwarded-For": "203.0.113.7"})
    assert access and access[-1]["client"] == "203.0.113.7"


def test_production_mode_refuses_demo_data(demo_env, tmp_path):
    env = {**demo_env, "TAKEDOWN_MODE": "production", "TAKEDOWN_PUBLIC_URL": "https://x.example"}
    proc = subprocess.run(
        [str(TAKEDOWN), "demo", "--no-serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1 and "development mode only" in proc.stderr


def test_serve_can_run_several_processes_on_one_port(demo_env, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**demo_env, "TAKEDOWN_WEB_PROCESSES": "2"}
    proc, log = start(["serve", "--port", str(port)], env, tmp_path)
    try:
        wait_healthy(url, proc, log)
        assert all(httpx.get(f"{url}/readyz").status_code == 200 for _ in range(20))
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) in (0, -signal.SIGTERM)
        log.seek(0)
        text = log.read()
        log.close()
    assert text.count("takedown started") == 2, text


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
        return True
    except httpx.HTTPError:
        return False


@pytest.mark.parametrize("how", ["sigterm", "kill"])
def test_a_demo_takes_its_platform_with_it_however_it_ends(demo_env, tmp_path, how):
    """SIGTERM (a service manager) or SIGKILL (nothing of the demo runs after it): the demo
    platform it started stops too."""
    port = free_port_pair()
    platform = f"http://127.0.0.1:{port + 1}/"
    proc, log = start(["demo", "--port", str(port)], demo_env, tmp_path)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, log)
        wait_until(lambda: _answers(platform), timeout=30, what="the demo platform")
    finally:
        if how == "sigterm":
            stop(proc, log)
        else:
            proc.kill()
            proc.wait(10)
            log.close()
    wait_until(lambda: not _answers(platform), timeout=15, what="the demo platform stopping")


@pytest.mark.parametrize("taken", [0, 1], ids=["takedown's port", "the platform's port"])
def test_a_demo_refuses_to_start_on_a_taken_port_and_says_so(demo_env, tmp_path, taken):
    import socket

    port = free_port_pair()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port + taken))
        squatter.listen()
        done = subprocess.run(
            [str(TAKEDOWN), "demo", "--port", str(port)],
            env=demo_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode != 0
    assert f"port {port + taken}" in done.stderr and "taken" in done.stderr, done.stderr
    assert "console" not in done.stderr  # no address printed for someone else's server
