"""Outgoing HTTP follows no redirect: a webhook, a media server or NCMEC answering 3xx is a
failure, nothing is counted delivered, and neither the platform's signature nor NCMEC's
credentials reach the host the redirect names (local servers on both ends)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from takedown.authorities import ChannelRefused
from takedown.services import review_media
from takedown.services.errors import Busy
from takedown.services.ncmec import NcmecClient, NcmecSettings


class Server:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.url = ""


@contextmanager
def server(status: int, location: str = "") -> Iterator[Server]:
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            state.requests.append((self.command, self.path, dict(self.headers), body))
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{httpd.server_port}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def elsewhere() -> Iterator[Server]:
    """The host a redirect names: it answers 200 to anything, and must hear nothing."""
    with server(200) as other:
        yield other


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_webhook_that_redirects_gets_no_actions_delivered(container, elsewhere, status):
    from takedown.cases.enforcement import ActionType, PlannedAction, action_id
    from takedown.services.delivery import Deliverer, DeliverySettings
    from tests.integration.test_reports import PLATFORM, submit

    case_id = submit(container, PLATFORM, content_id="post-1").case_id
    with container.uow() as uow:
        uow.actions.add(
            [PlannedAction(action_id(case_id, ActionType.remove, "post-1"), ActionType.remove,
                           content_id="post-1")],
            case_id=case_id, category="csam", reason="r", statement="s",
            at=container.clock.now(),
        )  # fmt: skip
        uow.commit()
    with server(status, location=elsewhere.url + "/stolen") as hook:
        deliverer = Deliverer(
            container.db,
            DeliverySettings(url=hook.url + "/hook", secret="s" * 32, timeout_seconds=5),
            clock=container.clock,
        )
        assert deliverer.run_once() == 1
    with container.uow(readonly=True) as uow:
        [action] = uow.actions.for_case(case_id)
    assert action.state == "pending" and action.delivered_at is None
    assert action.last_error is not None and "redirect" in action.last_error
    assert [r[0] for r in hook.requests] == ["POST"]
    assert elsewhere.requests == []


@pytest.mark.parametrize("status", [302, 307])
def test_a_media_server_that_redirects_is_not_followed(elsewhere, status):
    with server(status, location=elsewhere.url + "/other") as media:
        settings = review_media.MediaSettings(
            url_template=media.url + "/media/{content_id}", secret="s" * 32
        )
        with pytest.raises(Busy):
            review_media.fetch(settings, "post-1", now=1_700_000_000)
        [(method, path, headers, _)] = media.requests
    assert (method, path) == ("GET", "/media/post-1")
    assert "Takedown-Signature" in headers
    assert elsewhere.requests == []


@pytest.mark.parametrize("status", [302, 308])
def test_ncmec_answering_a_redirect_is_refused_and_the_credentials_go_nowhere(elsewhere, status):
    with server(status, location=elsewhere.url + "/capture") as ncmec:
        client = NcmecClient(
            NcmecSettings(url=ncmec.url, username="esp", password="secret-pw", timeout_seconds=5)
        )
        with pytest.raises(ChannelRefused, match="redirect") as refused:
            client.submit(b"<report/>")
    assert "secret-pw" not in str(refused.value)
    assert [r[1] for r in ncmec.requests] == ["/submit"]
    assert elsewhere.requests == []
