"""A direct lane for the busiest routes: ``POST /v1/reports`` answers thousands of reports a
second, and most of a report's CPU went to generic layers it does not use.

A route marked ``@direct`` is still an ordinary FastAPI route (it is in the OpenAPI document,
declares its access, and is what the router serves when the lane is not taken), but
``HotRoutes``, the innermost of our middleware, sends a request for exactly its method and
path straight to its endpoint: past Starlette's exception middleware, FastAPI's exit stack,
the router's walk over every route, and FastAPI's request handling and dependency solving.
What the request does pass through is the same as on any route: our observability and body
limit middleware (request id, access log, metrics, security headers, size limits) outside,
the route's own access check first thing in the endpoint (``checks_access``), and the app's
own exception handlers for anything it raises; an error without a handler goes on to
Starlette's server-error middleware, as on any route. A direct endpoint takes only the
``Request`` and returns a ``Response``.

Driven in process under the intake load, in interleaved rounds, a report took 0.56 ms of CPU
(minimum; median 0.69) with the lane against 0.66 ms (median 0.85) without it
(``docs/architecture.md``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Response]])
Handler = Callable[[Request, Exception], Awaitable[Response]]


def direct(endpoint: Endpoint) -> Endpoint:
    """Mark an endpoint for the direct lane. Put it above ``@checks_access``: the lane skips
    FastAPI's dependencies, so the endpoint must check its own access."""
    if getattr(endpoint, "takedown_access", None) is None:
        raise TypeError(f"{endpoint.__name__}: a direct route must check its access itself")
    endpoint.takedown_direct = True  # type: ignore[attr-defined]
    return endpoint


def direct_routes(app: FastAPI) -> dict[tuple[str, str], APIRoute]:
    """(method, path) → route, for the app's routes marked ``@direct``."""
    from takedown.server.security import iter_routes

    table: dict[tuple[str, str], APIRoute] = {}
    for route in iter_routes(app):
        if isinstance(route, APIRoute) and getattr(route.endpoint, "takedown_direct", False):
            if route.param_convertors:
                raise TypeError(f"{route.path}: a direct route has no path parameters")
            for method in route.methods or ():
                table[(method, route.path)] = route
    return table


def _handler_for(handlers: dict[Any, Handler], exc: Exception) -> Handler | None:
    """The app's handler for ``exc``, as Starlette's exception middleware finds it; None for
    the catch-all ``Exception`` handler, which the server-error middleware runs (and then
    re-raises, so the error is logged by the server too)."""
    if isinstance(exc, HTTPException) and exc.status_code in handlers:
        return handlers[exc.status_code]
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None


class HotRoutes:
    """ASGI middleware: the direct lane (see the module). Add it first, so it is innermost."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._routes: dict[tuple[str, str], APIRoute] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            routes = self._routes
            if routes is None:
                routes = self._routes = direct_routes(scope["app"])
            route = routes.get((scope["method"], scope["path"]))
            if route is not None:
                scope["route"] = route
                await self._serve(route, scope, receive, send)
                return
        await self.app(scope, receive, send)

    @staticmethod
    async def _serve(route: APIRoute, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, send)
        try:
            response: Response = await route.endpoint(request=request)
        except Exception as exc:
            handler = _handler_for(scope["app"].exception_handlers, exc)
            if handler is None:
                raise
            response = await handler(request, exc)
        await response(scope, receive, send)
