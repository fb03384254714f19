"""A direct lane for the busiest routes, and for those anyone can flood: ``POST /v1/reports``
answers thousands of reports a second, and most of a report's CPU went to generic layers it
does not use; the login form and its answer take the same core under a flood of guesses.

A route marked ``@direct`` is still an ordinary FastAPI route (it is in the OpenAPI document,
declares its access, and is what the router serves when the lane is off), but the app
(``TakedownApp``) sends a request for exactly its method and path straight to its endpoint,
in front of everything else: past Starlette's and FastAPI's middleware (server errors,
telemetry, FastAPI's own body limit), ours, the exception middleware, FastAPI's exit stack,
the router's walk over every route, and FastAPI's request handling and dependency solving.
``DirectLane`` gives the request, in one layer, what those would have given it: the request
id, security headers, metrics and access log (``middleware.Observer``, which our middleware
uses for every other request), the body limit (``Content-Length`` checked at once, a body
without one counted as it streams), the route's own access check first thing in the
endpoint (``checks_access``), the app's exception handlers for anything it raises, and for an
error without a handler the app's 500 answer, with the error then raised on to the server,
which logs it, as Starlette's server-error middleware does. A direct endpoint takes only the
``Request`` and returns a ``Response``. With OpenTelemetry on (``TAKEDOWN_OPENTELEMETRY``) the
lane is off, so FastAPI's telemetry sees every request.

Why it exists: the framework's layers cost more than a report's own work; the measurements
are in ``bench/RECORD.md`` ("The direct lane").
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from takedown.server.context import request_id_var
from takedown.server.middleware import (
    ObservedSend,
    Observer,
    declared_length_refusal,
    is_media_route,
    limited,
)

Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Response]])
Handler = Callable[[Request, Any], Response | Awaitable[Response]]


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


async def _answer(handler: Handler, request: Request, exc: Exception) -> Response:
    result = handler(request, exc)
    return await result if inspect.isawaitable(result) else result


class DirectLane:
    """Serves the app's direct routes (see the module)."""

    def __init__(self, app: FastAPI, *, observer: Observer, limit: int, media_limit: int) -> None:
        self.app = app
        self.observer = observer
        self.limit = limit
        self.media_limit = media_limit
        self._routes: dict[tuple[str, str], tuple[APIRoute, int]] | None = None

    def route_for(self, scope: Scope) -> tuple[APIRoute, int] | None:
        """The direct route for this request, with its body limit; None for any other."""
        routes = self._routes
        if routes is None:
            routes = self._routes = {
                key: (route, self.media_limit if is_media_route(route) else self.limit)
                for key, route in direct_routes(self.app).items()
            }
        if scope.get("root_path"):
            return None
        return routes.get((scope["method"], scope["path"]))

    async def serve(
        self, route: APIRoute, limit: int, scope: Scope, receive: Receive, send: Send
    ) -> None:
        observer = self.observer
        request_id = observer.request_id(scope)
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        scope["route"] = route
        observed_send = ObservedSend(send, observer, request_id)
        try:
            refusal = declared_length_refusal(scope, limit)
            if isinstance(refusal, Response):
                response = refusal
            else:
                if not refusal:  # no Content-Length: count the body as it streams
                    receive = limited(receive, limit)
                request = Request(scope, receive, observed_send)
                try:
                    response = await route.endpoint(request=request)
                except Exception as exc:
                    handler = _handler_for(self.app.exception_handlers, exc)
                    if handler is None:
                        if observed_send.status:  # an answer had begun: only the server
                            raise  # can end it (it closes the connection)
                        # The 500 (the app's handler logs the error). Not raised on: the
                        # server would close a keep-alive connection the client may reuse.
                        response = await self._server_error(request, exc)
                    else:
                        response = await _answer(handler, request, exc)
            await response(scope, receive, observed_send)
        finally:
            observer.record(scope, observed_send.status or 500, time.perf_counter() - started)
            request_id_var.reset(token)

    async def _server_error(self, request: Request, exc: Exception) -> Response:
        """The app's answer to an error without a handler, as Starlette's server-error
        middleware gives it (the handler for 500 or ``Exception``, else plain text)."""
        handlers = self.app.exception_handlers
        handler = handlers.get(500) or handlers.get(Exception)
        if handler is None:
            return PlainTextResponse("Internal Server Error", status_code=500)
        return await _answer(handler, request, exc)


class TakedownApp(FastAPI):
    """FastAPI with the direct lane in front of everything (see the module); without a
    ``direct_lane`` it is plain FastAPI."""

    direct_lane: DirectLane | None = None
    container: Any = None  # the app's ``Container`` (``container.container_of``)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self.direct_lane
        if lane is not None and scope["type"] == "http":
            found = lane.route_for(scope)
            if found is not None:
                scope["app"] = self
                await lane.serve(found[0], found[1], scope, receive, send)
                return
        await super().__call__(scope, receive, send)
