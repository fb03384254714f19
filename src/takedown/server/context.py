"""Per-request context shared with logging, and what a request says about where it was sent."""

from __future__ import annotations

from contextvars import ContextVar

from starlette.requests import Request

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)


def base_url(request: Request) -> str:
    """``str(request.base_url)``, remembered per scheme, host, server and root path, which is
    all it depends on: Starlette builds and parses a URL each time, which the report route
    paid on every report."""
    scope = request.scope
    host = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = value
            break
    key = (
        scope["scheme"],
        host,
        scope.get("server"),
        scope.get("root_path", ""),
        scope.get("app_root_path"),
    )
    found = _BASE_URLS.get(key)
    if found is None:
        if len(_BASE_URLS) >= 64:  # hosts are client input: keep only a few
            _BASE_URLS.clear()
        found = _BASE_URLS[key] = str(request.base_url)
    return found


_BASE_URLS: dict[tuple[object, ...], str] = {}
