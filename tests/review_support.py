"""For review tests: a platform's media server, as a strict one would be, and helpers that
file reports and act as staff over real HTTP.

``PlatformMedia`` speaks the documented contract: ``GET`` on the media URL with
``{content_id}`` replaced, signed with ``Takedown-Signature`` over its method and path; it answers
401 to a request whose signature is missing, wrong or stale, 404 for an item it does not
have, and 200 with the bytes otherwise. It serves public sample photos (scikit-image's). It
answers the resolve call too (``GET /resolve?url=<link>``, signed the same way): 200 with the
content id and account of a link it knows (``links``), 404 for any other."""

from __future__ import annotations

import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx

from takedown.identity import SIGNATURE_HEADER, signature_valid, signed_payload
from tests.media_support import PHOTOS, encode, photo

SECRET = "platform-shared-secret-for-tests"


@dataclass
class PlatformMedia:
    url: str
    items: dict[str, bytes]
    requests: list[tuple[str, bool]] = field(default_factory=list)  # (content id, signed ok)
    links: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # link: (id, account)
    resolved: list[tuple[str, bool]] = field(default_factory=list)  # (link asked, signed ok)

    @property
    def template(self) -> str:
        return f"{self.url}/media/{{content_id}}"

    @property
    def resolve_url(self) -> str:
        return f"{self.url}/resolve"

    def add(self, content_id: str, n: int = 0) -> bytes:
        """Serve sample photo ``n`` as ``content_id``; returns its bytes."""
        data = encode(photo(PHOTOS[n % len(PHOTOS)]).resize((640, 480)), "JPEG", quality=90)
        self.items[content_id] = data
        return data


@contextmanager
def platform_media() -> Iterator[PlatformMedia]:
    state = PlatformMedia(url="", items={})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.startswith("/resolve?"):
                self._resolve()
                return
            prefix = "/media/"
            content_id = urllib.parse.unquote(self.path[len(prefix) :])
            # Signed over its method and path as sent (no body): a signature made for one
            # item fetches no other.
            payload = signed_payload("GET", self.path, b"")
            ok = signature_valid(
                self.headers.get(SIGNATURE_HEADER), SECRET, payload, now=time.time()
            )
            state.requests.append((content_id, ok))
            if not self.path.startswith(prefix) or not ok:
                self.send_response(401)
                self.end_headers()
                return
            data = state.items.get(content_id)
            if data is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "image/jpeg")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _resolve(self) -> None:
            link = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("url", [""])
            ok = signature_valid(
                self.headers.get(SIGNATURE_HEADER),
                SECRET,
                signed_payload("GET", self.path, b""),
                now=time.time(),
            )
            state.resolved.append((link[0], ok))
            found = state.links.get(link[0]) if ok else None
            if not ok or found is None:
                self.send_response(401 if not ok else 404)
                self.end_headers()
                return
            body = json.dumps({"content_id": found[0], "account_id": found[1]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def file_report(client: httpx.Client, key: str, content_id: str | None, **fields: object) -> dict:
    """File a report through ``POST /v1/reports``; returns the receipt."""
    body = {"content_id": content_id, "category": "policy", "reporter_role": "user"} | fields
    answer = client.post("/v1/reports", json=body, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 201, answer.text
    return answer.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
