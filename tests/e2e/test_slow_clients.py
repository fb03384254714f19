"""Clients that hang up mid-body or read slowly: no 5xx and no error logged for what a client
did, and no connection held past the read limits (``server.protocol``)."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from takedown.identity import Scope
from tests.conftest import add_key, make_settings

pytestmark = pytest.mark.sqlite_only  # The connection's handling does not depend on the database

LIMIT = 0.6  # seconds: the header and body read limits of this test's server


@pytest.fixture
def settings(database_url, tmp_path):
    return make_settings(
        database_url,
        tmp_path,
        http_header_timeout_seconds=LIMIT,
        http_body_timeout_seconds=LIMIT,
    )


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    conn = socket.create_connection((host, int(port)), timeout=10)
    return conn


def _read_all(conn: socket.socket) -> bytes:
    """What the server sent until it closed the connection; fails if it does not close it
    within the socket's timeout."""
    chunks = []
    while True:
        try:
            chunk = conn.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _statuses(live_server, route: str) -> dict[str, float]:
    with live_server.client() as client:
        metrics = client.get(
            "/metrics", headers={"Authorization": f"Bearer {live_server.metrics_key}"}
        )
    found = {}
    for line in metrics.text.splitlines():
        if line.startswith("takedown_http_requests_total{") and f'route="{route}"' in line:
            status = line.split('status="')[1].split('"')[0]
            found[status] = float(line.rsplit(" ", 1)[1])
    return found


@pytest.fixture
def server(live_server, container):
    _, live_server.report_key = add_key(container, "platform", Scope.report, Scope.scan)
    _, live_server.metrics_key = add_key(container, "prometheus", Scope.metrics)
    return live_server


@pytest.mark.parametrize(
    ("path", "content_type", "start"),
    [
        ("/v1/reports", "application/json", b'{"content_id": "'),
        (
            "/v1/scan",
            "multipart/form-data; boundary=xyz",
            b'--xyz\r\nContent-Disposition: form-data; name="content_id"\r\n\r\npost-1\r\n'
            b'--xyz\r\nContent-Disposition: form-data; name="media"; filename="a.jpg"\r\n\r\n'
            b"\xff\xd8\xff",
        ),
        ("/v1/content/post-2/scan?account_id=u1", "image/jpeg", b"\xff\xd8\xff\xe0"),
    ],
)
def test_a_client_that_hangs_up_mid_body_is_no_server_error(
    server, caplog, path, content_type, start
):
    caplog.set_level(logging.INFO)
    conn = _connect(server.url)
    conn.sendall(
        f"POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.report_key}\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: 50000\r\n\r\n".encode()
        + start
    )
    path = path.split("?")[0].replace("post-2", "{content_id}")
    time.sleep(0.1)
    conn.close()
    deadline = time.monotonic() + 5
    while "499" not in _statuses(server, path) and time.monotonic() < deadline:
        time.sleep(0.05)
    statuses = _statuses(server, path)
    assert statuses.get("499") == 1 and "500" not in statuses, statuses
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert any("went away" in r.getMessage() for r in caplog.records)


def test_headers_that_come_too_slowly_get_408_and_the_connection_closes(server):
    conn = _connect(server.url)
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the blank line never comes
    started = time.monotonic()
    answer = _read_all(conn)
    conn.close()
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"request_timeout" in answer
    assert LIMIT * 0.8 < time.monotonic() - started < LIMIT + 5


def test_a_body_that_stalls_gets_408_and_nothing_is_stored(server, container):
    conn = _connect(server.url)
    conn.sendall(
        f"POST /v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.report_key}\r\n"
        "Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n".encode()
        + b'{"content_id": "stalled-1", '
    )
    answer = _read_all(conn)
    conn.close()
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    with container.uow(readonly=True) as uow:
        assert uow.cases.case_ids_for_content("stalled-1") == []
    assert "500" not in _statuses(server, "/v1/reports")


def test_silent_connections_are_closed_and_the_server_still_answers(server):
    held = [_connect(server.url) for _ in range(300)]  # connect, send nothing
    time.sleep(LIMIT + 1.0)
    for conn in held:
        conn.settimeout(5)
        assert _read_all(conn).startswith(b"HTTP/1.1 408 ")  # answered, then closed
        conn.close()
    with server.client() as client:
        assert client.get("/healthz").status_code == 200


def test_a_keep_alive_connection_serves_one_request_after_another(server):
    """The header limit runs from the previous answer only once the next request starts:
    a client reusing a connection promptly is never cut."""
    with server.client() as client:
        for _ in range(5):
            assert client.get("/healthz").status_code == 200
            time.sleep(LIMIT / 3)
