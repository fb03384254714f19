"""The connection's read limits when they differ (``server.protocol``): a limit is checked
against the phase a request is in now, whatever timer an earlier phase left, and a body that
keeps coming is never cut."""

from __future__ import annotations

import json
import socket
import time

import pytest

from takedown.identity import Scope
from tests.conftest import add_key, make_settings

pytestmark = pytest.mark.sqlite_only  # The connection's handling does not depend on the database

HEADERS = 0.6  # seconds
BODY = 4.0


@pytest.fixture
def settings(database_url, tmp_path):
    return make_settings(
        database_url,
        tmp_path,
        http_header_timeout_seconds=HEADERS,
        http_body_timeout_seconds=BODY,
    )


@pytest.fixture
def server(live_server, container):
    _, live_server.report_key = add_key(container, "platform", Scope.report)
    return live_server


def _connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def _answer(conn: socket.socket) -> tuple[bytes, bytes]:
    """One answer's head and body (its Content-Length) from a kept-alive connection."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += conn.recv(65536)
    return head, body


def _report(key: str, content_id: str) -> tuple[bytes, bytes]:
    body = json.dumps(
        {"content_id": content_id, "category": "policy", "reporter_role": "user"}
    ).encode()
    head = (
        f"POST /v1/reports HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head, body


def test_stalled_headers_after_an_answer_are_cut_by_the_header_limit(server):
    """The first request's body comes after the header limit, so the connection's timer
    is then set for the body limit, four seconds out; the next request's headers must still
    be cut after the header limit."""
    conn = _connect(server.url)
    head, body = _report(server.report_key, "timing-1")
    conn.sendall(head)
    time.sleep(HEADERS * 1.5)
    conn.sendall(body)
    assert _answer(conn)[0].startswith(b"HTTP/1.1 201 ")
    conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # the blank line never comes
    started = time.monotonic()
    conn.settimeout(BODY + 5)
    rest = b""
    while chunk := conn.recv(65536):
        rest += chunk
    conn.close()
    assert rest.startswith(b"HTTP/1.1 408 "), rest
    assert HEADERS * 0.8 < time.monotonic() - started < BODY * 0.75


def test_a_body_that_keeps_coming_is_not_cut_and_answers_come_whole(server):
    """Each part of the body comes within the body limit, the whole body after more than
    it; then a second request on the same connection is answered too, head and body."""
    conn = _connect(server.url)
    head, body = _report(server.report_key, "timing-2")
    conn.sendall(head)
    parts = [body[i : i + 8] for i in range(0, len(body), 8)]
    pause = BODY * 1.5 / len(parts)
    for part in parts:
        time.sleep(pause)
        conn.sendall(part)
    first_head, first_body = _answer(conn)
    assert first_head.startswith(b"HTTP/1.1 201 "), first_head
    assert json.loads(first_body)["case_status"] == "open"
    head, body = _report(server.report_key, "timing-3")
    conn.sendall(head + body)
    second_head, second_body = _answer(conn)
    conn.close()
    assert second_head.startswith(b"HTTP/1.1 201 ")
    assert json.loads(second_body)["report_id"] != json.loads(first_body)["report_id"]
