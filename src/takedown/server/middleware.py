"""ASGI middleware: request id, access log, metrics, security headers, body-size limits.

Written as plain ASGI (not ``BaseHTTPMiddleware``) so bodies stream through untouched and
the limits hold for chunked uploads with no ``Content-Length``.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from typing import Any

from prometheus_client import Counter, Histogram
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from takedown.server.context import request_id_var
from takedown.server.errors import BodyTooLarge, ErrorPages, error_response

log = logging.getLogger("takedown.http")

REQUESTS = Counter("takedown_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "takedown_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

_ID_PREFIX = secrets.token_hex(6)
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A request id unique across processes and restarts: a random per-process prefix and a
    counter. Cheaper than ``uuid4``, whose ``getrandom`` call per request shows up in profiles
    of the upload and report paths."""
    return f"{_ID_PREFIX}{next(_ID_COUNTER):010x}"


_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MEDIA_ROUTE = {"x-takedown-body-limit": "media"}
"""Pass as ``openapi_extra`` on a route that accepts media: its body limit is the media one."""

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
        b"script-src 'self'; object-src 'none'; frame-ancestors 'none'; "
        b"base-uri 'none'; form-action 'self'",
    ),
]
"""On every answer that does not set its own. No page runs an inline script: an injected
one would not run. The API docs page, whose Swagger UI starts from one, sets
``DOCS_PAGE_CSP``."""

DOCS_PAGE_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


_SECRET_PATH = re.compile(r"^(/status/)([^/]*)")


def loggable_path(path: str) -> str:
    """``path`` as it may be written to a log: a status link's token is the reporter's only
    credential (it reads their case and posts as them), so only its first 14 characters (the
    time it was made, which the page itself shows) are kept."""
    if not path.startswith("/status/"):
        return path
    return _SECRET_PATH.sub(lambda m: f"{m.group(1)}{m.group(2)[:14]}…", path, count=1)


class Observer:
    """What every HTTP request gets, for ``ObservabilityMiddleware`` and the direct lane
    (``server.hot_routes``): its request id, the security headers on its answer, its metrics
    and its access-log line."""

    def __init__(self, *, hsts: bool = False) -> None:
        self.headers = list(SECURITY_HEADERS)
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))
        self._names = frozenset(name for name, _ in self.headers) | {b"x-request-id"}
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    @staticmethod
    def request_id(scope: Scope) -> str:
        """The caller's ``X-Request-ID`` when it is a sane one, else a new id."""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                return incoming if _REQUEST_ID_RE.match(incoming) else new_request_id()
        return new_request_id()

    def response_headers(self, headers: Any, request_id: str) -> list[tuple[bytes, bytes]]:
        """An answer's headers with the security headers it does not set itself, and the
        request id (replacing any the app set)."""
        out = []
        present: set[bytes] = set()
        for name, value in headers:
            lower = name.lower()
            if lower in self._names:
                if lower == b"x-request-id":
                    continue
                present.add(lower)
            out.append((name, value))
        out.extend(
            self.headers if not present else (h for h in self.headers if h[0] not in present)
        )
        out.append((b"x-request-id", request_id.encode()))
        return out

    def record(self, scope: Scope, status: int, elapsed: float) -> None:
        """Count the request in the metrics and write its access-log line."""
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        key = (scope["method"], template, status)
        series = self._series.get(key)
        if series is None:
            # Finite: methods × route templates × statuses.
            series = self._series[key] = (
                REQUESTS.labels(scope["method"], template, str(status)),
                LATENCY.labels(scope["method"], template),
            )
        series[0].inc()
        series[1].observe(elapsed)
        if log.isEnabledFor(logging.INFO):
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": loggable_path(scope["path"]),
                    "route": template,
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "client": (scope.get("client") or ("", 0))[0],
                },
            )


class ObservedSend:
    """``send`` for an observed request: the answer gets ``Observer.response_headers``, and
    ``status`` is its status once it has started (0 before)."""

    __slots__ = ("_observer", "_request_id", "_send", "status")

    def __init__(self, send: Send, observer: Observer, request_id: str) -> None:
        self._send = send
        self._observer = observer
        self._request_id = request_id
        self.status = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            message["headers"] = self._observer.response_headers(
                message.get("headers", ()), self._request_id
            )
        await self._send(message)


class ObservabilityMiddleware:
    """Request id (``X-Request-ID`` in and out), JSON access log, metrics, security headers
    (``Observer``)."""

    def __init__(
        self, app: ASGIApp, *, hsts: bool = False, observer: Observer | None = None
    ) -> None:
        self.app = app
        self.observer = observer or Observer(hsts=hsts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        observer = self.observer
        request_id = observer.request_id(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        observed = ObservedSend(send, observer, request_id)
        try:
            await self.app(scope, receive, observed)
        except Exception:
            if observed.status:  # an answer had begun: only the server can end it
                raise
            # Answered here, inside the request's context, so the 500 carries its request id;
            # and not raised on, since the server would then close a keep-alive connection
            # the client may still use.
            log.exception("unhandled error")
            await error_response(500, "internal_error", "internal error; see the server log")(
                scope, receive, observed
            )
        finally:
            observer.record(scope, observed.status or 500, time.perf_counter() - started)
            request_id_var.reset(token)


def declared_length_refusal(scope: Scope, limit: int) -> Response | bool:
    """The answer to a request whose ``Content-Length`` is invalid (400) or over ``limit``
    (413); else whether it declared its length (the server then never hands the app more
    than that)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = -1
            if declared < 0:
                return error_response(400, "bad_request", "invalid Content-Length")
            if declared > limit:
                return error_response(413, "body_too_large", str(BodyTooLarge(limit).detail))
            return True
    return False


def limited(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises ``BodyTooLarge`` once the body passes ``limit`` bytes (for a
    body streamed without a ``Content-Length``)."""
    received = 0

    async def limited_receive() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
        return message

    return limited_receive


def is_media_route(route: Any) -> bool:
    """Whether ``route`` accepts media (``MEDIA_ROUTE``): its body limit is the media one."""
    return (getattr(route, "openapi_extra", None) or {}).get("x-takedown-body-limit") == "media"


def _too_large(scope: Scope, detail: str, pages: ErrorPages | None) -> Response:
    """413: a page on the pages people read (the report form), else the JSON error."""
    if pages is not None and pages.is_page_path(scope["path"]):
        from starlette.requests import Request

        return pages.http_error_page(Request(scope), 413, detail)
    return error_response(413, "body_too_large", detail)


class BodyLimitMiddleware:
    """Refuse bodies over the limit with 413: at once from ``Content-Length``, else while
    streaming. Routes marked with ``MEDIA_ROUTE`` get ``media_limit``, all others ``limit``."""

    def __init__(
        self, app: ASGIApp, *, limit: int, media_limit: int, pages: ErrorPages | None = None
    ) -> None:
        self.app = app
        self.limit = limit
        self.media_limit = media_limit
        self.pages = pages
        self._media_routes: list[Any] | None = None

    def _limit_for(self, scope: Scope) -> int:
        if self._media_routes is None:
            from takedown.server.security import iter_routes

            self._media_routes = [r for r in iter_routes(scope["app"]) if is_media_route(r)]
        for route in self._media_routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return self.media_limit
        return self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit_for(scope)
        refusal = declared_length_refusal(scope, limit)
        if isinstance(refusal, Response):
            if refusal.status_code == 413:
                refusal = _too_large(scope, str(BodyTooLarge(limit).detail), self.pages)
            await refusal(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited(receive, limit), tracking_send)
        except BodyTooLarge as exc:
            if started:
                raise
            await _too_large(scope, str(exc.detail), self.pages)(scope, receive, send)
