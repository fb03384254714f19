"""Hash exchanges as strict local servers speak them: StopNCII's hash API and NCMEC's hash
sharing API, each in its documented shape, checking credentials on every request.

StopNCII: ``GET /FetchHashes?startTimestamp&pageSize[&nextPageToken]`` answers records whose
``lastModtimestamp`` is at or after the start, in time order, ``pageSize`` at a time, each page
but the last with a fresh opaque ``nextPageToken`` (one the server did not issue is 400) and
``hasMoreRecords``; the last with ``nextSetTimestamp``. ``POST /SubmitFeedback`` records what
it is given. Both need ``Ocp-Apim-Subscription-Key`` and ``x-functions-key`` (401 without).

NCMEC: ``GET /v2/entries?from&to`` answers ``<queryResult>`` (its namespace) with the images
and videos whose timestamp is in the window, ``size`` per page, and a ``<paging><next>`` path
(``&start=&size=&max=``) until the window is read; deleted entries as ``<deletedImage>``.
``PUT /v2/entries/{member}/{id}/{type}/feedback`` and ``GET /v2/feedback/{type}/reasons``.
HTTP Basic on every request.

Faults for the tests: answer 500 to the next N fetches, serve a page with a malformed record
or one that is not JSON/XML at all, and hang on a given page until released (a sync killed
mid-way).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import secrets
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SUBSCRIPTION_KEY = "stopncii-subscription-test"
FUNCTIONS_KEY = "stopncii-functions-test"
NCMEC_USER = "esp-hashes"
NCMEC_PASSWORD = "ncmec-hashes-password"
NAMESPACE = "https://hashsharing.ncmec.org/hashsharing/v2"
REASON_GUID = "01234567-abcd-0123-4567-012345678900"


@dataclass
class Faults:
    fail_next: int = 0  # answer 500 to this many fetches
    malformed_record_on_page: int | None = None  # page number (1-based) with a broken record
    garbage_on_page: int | None = None  # page number whose whole answer is unreadable
    hang_on_page: int | None = None  # page number that waits for ``release``
    release: threading.Event = field(default_factory=threading.Event)
    reached_hang: threading.Event = field(default_factory=threading.Event)


@dataclass
class StopNcii:
    records: list[dict[str, Any]] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    requests: list[dict[str, str]] = field(default_factory=list)  # the fetches' parameters
    feedback: list[dict[str, Any]] = field(default_factory=list)
    tokens: dict[str, tuple[int, int]] = field(default_factory=dict)  # token → (start, offset)
    max_page: int = 1000
    url: str = ""
    _pages_served: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def put(
        self,
        hash_value: str,
        status: str = "Active",
        *,
        at: int,
        kind: str = "ImagePDQ",
        cases: tuple[str, ...] = ("C-1",),
    ) -> None:
        """A record's current state (replacing the hash's earlier one)."""
        self.records = [r for r in self.records if r["hashValue"] != hash_value]
        self.records.append(
            {
                "lastModtimestamp": at,
                "signalType": kind,
                "hashValue": hash_value,
                "hashStatus": status,
                "caseNumbers": {c: status for c in cases},
                "CSPFeedbacks": [],
            }
        )


@dataclass
class NcmecHashes:
    entries: list[dict[str, Any]] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    requests: list[str] = field(default_factory=list)
    feedback: list[tuple[str, bytes]] = field(default_factory=list)
    page_size: int = 1000
    url: str = ""
    _pages_served: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def put(
        self,
        entry_id: str,
        *,
        at: int,
        kind: str = "image",
        member: int = 42,
        md5: str | None = None,
        pdq: str | None = None,
        deleted: bool = False,
    ) -> None:
        self.entries.append(
            {
                "id": entry_id,
                "at": at,
                "kind": kind,
                "member": member,
                "md5": md5,
                "pdq": pdq,
                "deleted": deleted,
            }
        )


def _time(at: int) -> str:
    return datetime.fromtimestamp(at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


class _Base(BaseHTTPRequestHandler):
    state: Any

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)  # the client may be gone (a sync killed mid-way)

    def _page_faults(self) -> tuple[int, bool] | None:
        """The page's number and whether it has a broken record; None: answered already."""
        faults: Faults = self.state.faults
        if faults.fail_next > 0:
            faults.fail_next -= 1
            self._send(500, b"upstream timeout")
            return None
        number = next(self.state._pages_served)
        if faults.hang_on_page == number:
            faults.reached_hang.set()
            faults.release.wait(30)
        if faults.garbage_on_page == number:
            self._send(200, b"<html>maintenance</html>", "text/html")
            return None
        return number, faults.malformed_record_on_page == number


class _StopNciiHandler(_Base):
    def _authorized(self, function_key: str) -> bool:
        if (
            self.headers.get("Ocp-Apim-Subscription-Key") != SUBSCRIPTION_KEY
            or self.headers.get("x-functions-key") != function_key
        ):
            self._send(401, b'{"message": "Access denied due to invalid subscription key"}')
            return False
        return True

    def do_GET(self) -> None:
        s: StopNcii = self.state
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/FetchHashes":
            self._send(404, b"{}")
            return
        if not self._authorized(FUNCTIONS_KEY):
            return
        q = dict(urllib.parse.parse_qsl(url.query))
        s.requests.append(q)
        try:
            start = int(q["startTimestamp"])
            size = min(int(q.get("pageSize", "800")), s.max_page)
        except (KeyError, ValueError):
            self._send(400, b'{"message": "startTimestamp is required"}')
            return
        offset = 0
        if q.get("nextPageToken"):
            held = s.tokens.get(q["nextPageToken"])
            if held is None or held[0] != start:
                self._send(400, b'{"message": "invalid or expired nextPageToken"}')
                return
            offset = held[1]
        page = self._page_faults()
        if page is None:
            return
        _, broken = page
        selected = sorted(
            (r for r in s.records if r["lastModtimestamp"] >= start),
            key=lambda r: (r["lastModtimestamp"], r["hashValue"]),
        )
        records = [dict(r) for r in selected[offset : offset + size]]
        if broken and records:
            records[0] = {"signalType": "ImagePDQ", "hashValue": 12345}  # no status, bad value
        more = offset + size < len(selected)
        body: dict[str, Any] = {
            "count": len(records),
            "hashRecords": records,
            "hasMoreRecords": more,
        }
        if more:
            token = secrets.token_urlsafe(12)
            s.tokens[token] = (start, offset + size)
            body["nextPageToken"] = token
            body["nextSetTimestamp"] = start
        else:
            body["nextPageToken"] = None
            last = max((r["lastModtimestamp"] for r in selected), default=start - 1)
            body["nextSetTimestamp"] = last + 1
        self._send(200, json.dumps(body).encode())

    def do_POST(self) -> None:
        s: StopNcii = self.state
        if self.path != "/SubmitFeedback":
            self._send(404, b"{}")
            return
        if not self._authorized(FUNCTIONS_KEY):
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
        ok = (
            isinstance(body, dict)
            and body.get("count") == len(body.get("hashFeedbacks", []))
            and all(
                f.get("feedbackValue") in ("Blocked", "NotBlocked", "PendingReview")
                and isinstance(f.get("hashValue"), str)
                for f in body["hashFeedbacks"]
            )
        )
        if not ok:
            self._send(400, b'{"message": "invalid feedback"}')
            return
        s.feedback.extend(body["hashFeedbacks"])
        self._send(200, b"{}")


class _NcmecHandler(_Base):
    def _authorized(self) -> bool:
        expected = base64.b64encode(f"{NCMEC_USER}:{NCMEC_PASSWORD}".encode()).decode()
        if self.headers.get("Authorization") != f"Basic {expected}":
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="hashsharing"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return False
        return True

    def do_GET(self) -> None:
        s: NcmecHashes = self.state
        if not self._authorized():
            return
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/v2/status":
            body = (
                f'<?xml version="1.0"?><status xmlns="{NAMESPACE}"><ipAddress>127.0.0.1'
                f"</ipAddress><username>{NCMEC_USER}</username>"
                '<member id="1">Test Platform</member></status>'
            )
            self._send(200, body.encode(), "application/xml")
            return
        if url.path.startswith("/v2/feedback/") and url.path.endswith("/reasons"):
            body = (
                f'<?xml version="1.0"?><availableFeedbackReasons xmlns="{NAMESPACE}">'
                f'<reason guid="{REASON_GUID}" name="Not CSAM" type="MD5"/>'
                "</availableFeedbackReasons>"
            )
            self._send(200, body.encode(), "application/xml")
            return
        if url.path != "/v2/entries":
            self._send(404, b"", "application/xml")
            return
        s.requests.append(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        try:
            start, end = _parse_time(q["from"]), _parse_time(q["to"])
        except (KeyError, ValueError):
            self._send(400, b"<error>from and to</error>", "application/xml")
            return
        page = self._page_faults()
        if page is None:
            return
        _, broken = page
        window = sorted((e for e in s.entries if start <= e["at"] <= end), key=lambda e: e["id"])
        offset = int(q.get("start", "1")) - 1
        chunk = window[offset : offset + s.page_size]
        images = [e for e in chunk if e["kind"] == "image"]
        videos = [e for e in chunk if e["kind"] == "video"]
        parts = [f'<?xml version="1.0" encoding="UTF-8"?><queryResult xmlns="{NAMESPACE}">']
        for group, items in (("images", images), ("videos", videos)):
            top = max((e["at"] for e in items), default=start)
            parts.append(f'<{group} count="{len(items)}" maxTimestamp="{_time(top)}">')
            for n, e in enumerate(items):
                tag = ("deleted" + e["kind"].capitalize()) if e["deleted"] else e["kind"]
                member = "" if broken and n == 0 else f'<member id="{e["member"]}">Member</member>'
                parts.append(
                    f"<{tag}>{member}<timestamp>{_time(e['at'])}</timestamp><id>{e['id']}</id>"
                )
                if not e["deleted"]:
                    parts.append("<classification>A1</classification><fingerprints>")
                    if e["md5"]:
                        parts.append(f"<md5>{e['md5']}</md5>")
                    if e["pdq"]:
                        parts.append(f"<pdq>{e['pdq']}</pdq>")
                    parts.append("<sha1>" + "ab" * 20 + "</sha1></fingerprints>")
                parts.append(f"</{tag}>")
            parts.append(f"</{group}>")
        if offset + s.page_size < len(window):
            nxt = urllib.parse.urlencode(
                {
                    "from": q["from"],
                    "to": q["to"],
                    "start": offset + s.page_size + 1,
                    "size": s.page_size,
                    "max": len(window),
                }
            )
            parts.append(f"<paging><next>/v2/entries?{nxt.replace('&', '&amp;')}</next></paging>")
        parts.append("</queryResult>")
        self._send(200, "".join(parts).encode(), "application/xml")

    def do_PUT(self) -> None:
        s: NcmecHashes = self.state
        if not self._authorized():
            return
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        parts = self.path.strip("/").split("/")
        if (
            len(parts) != 6
            or parts[:2] != ["v2", "entries"]
            or parts[5] != "feedback"
            or b"feedbackSubmission" not in body
            or parts[4] not in ("MD5", "PDQ")
        ):
            self._send(400, b"<error/>", "application/xml")
            return
        if b"<negative" in body and REASON_GUID.encode() not in body:
            self._send(400, b"<error>a negative vote needs a reason id</error>", "application/xml")
            return
        s.feedback.append((self.path, body))
        self._send(200, b"", "application/xml")


@contextmanager
def _serve(handler: type[_Base], state: Any) -> Iterator[Any]:
    handler_cls = type("Handler", (handler,), {"state": state})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        state.faults.release.set()
        server.shutdown()
        server.server_close()


@contextmanager
def stopncii_server(state: StopNcii | None = None) -> Iterator[StopNcii]:
    with _serve(_StopNciiHandler, state or StopNcii()) as s:
        yield s


@contextmanager
def ncmec_hash_server(state: NcmecHashes | None = None) -> Iterator[NcmecHashes]:
    with _serve(_NcmecHandler, state or NcmecHashes()) as s:
        yield s


@dataclass
class ThreatExchange:
    """A privacy group's ``threat_updates`` (the Graph API), ``limit`` updates a page."""

    updates: list[dict[str, Any]] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    requests: list[dict[str, str]] = field(default_factory=list)
    group: str = "1234567890"
    url: str = ""
    _pages_served: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def put(
        self,
        update_id: str,
        indicator: str,
        *,
        at: int,
        kind: str = "HASH_PDQ",
        delete: bool = False,
        tags: tuple[str, ...] = (),
    ) -> None:
        self.updates = [u for u in self.updates if u["id"] != update_id]
        self.updates.append(
            {
                "id": update_id,
                "indicator": indicator,
                "type": kind,
                "last_updated": at,
                "should_delete": delete,
                "tags": list(tags),
            }
        )


class _ThreatExchangeHandler(_Base):
    def do_GET(self) -> None:
        s: ThreatExchange = self.state
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        s.requests.append(q)
        if q.get("access_token") != TE_TOKEN:
            self._send(400, b'{"error": {"message": "Invalid OAuth access token", "code": 190}}')
            return
        if url.path.rstrip("/") == f"/{s.group}":
            self._send(200, json.dumps({"id": s.group, "name": "Test group"}).encode())
            return
        if url.path.rstrip("/") != f"/{s.group}/threat_updates":
            self._send(404, b'{"error": {"message": "Unknown path"}}')
            return
        page = self._page_faults()
        if page is None:
            return
        start = int(q.get("start_time", "0"))
        limit = int(q.get("limit", "1000"))
        offset = int(q.get("after", "0"))
        types = set(q.get("types", "").split(",")) if q.get("types") else None
        chosen = sorted(
            (
                u
                for u in s.updates
                if u["last_updated"] >= start and (types is None or u["type"] in types)
            ),
            key=lambda u: (u["last_updated"], u["id"]),
        )
        body: dict[str, Any] = {"data": chosen[offset : offset + limit]}
        if offset + limit < len(chosen):
            nxt = dict(q, after=str(offset + limit))
            host = self.headers.get("Host")
            body["paging"] = {
                "cursors": {"after": str(offset + limit)},
                "next": f"http://{host}{url.path}?{urllib.parse.urlencode(nxt)}",
            }
        self._send(200, json.dumps(body).encode())


@contextmanager
def threatexchange_server(state: ThreatExchange | None = None) -> Iterator[ThreatExchange]:
    with _serve(_ThreatExchangeHandler, state or ThreatExchange()) as s:
        yield s


TE_TOKEN = "1234|threatexchange-app-secret"
STOPNCII_CREDENTIALS = {"subscription_key": SUBSCRIPTION_KEY, "functions_key": FUNCTIONS_KEY}
NCMEC_CREDENTIALS = {"username": NCMEC_USER, "password": NCMEC_PASSWORD}
