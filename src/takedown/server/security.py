"""Who is calling, and may they? Every route declares an ``Access``; the default is deny.

A route states its need as a dependency::

    @router.get("/v1/keys", dependencies=[Depends(Access(Permission.keys_manage))])

``check_routes_declared`` runs when the app is built and refuses to start if any route lacks
an ``Access`` (public routes say so with ``Access.public()``), so a route added later without a
declaration cannot be served by accident.

Credentials: ``Authorization: Bearer <secret>`` (API keys and staff personal tokens), or the
``takedown_session`` cookie set by the console's login. Requests that change state with the
cookie must carry the session's CSRF token in ``X-CSRF-Token`` or a ``csrf_token`` form field.
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import fastapi.routing
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Mount, Route

from takedown.identity import (
    Forbidden,
    IdentityError,
    NotAuthenticated,
    Permission,
    Principal,
    PrincipalKind,
    SecretKind,
    parse_secret,
    require,
)
from takedown.server.container import container_of
from takedown.services import accounts

SESSION_COOKIE = "takedown_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Routes FastAPI itself adds; public by nature (the API's description, not its data).
FRAMEWORK_PUBLIC_PATHS = frozenset({"/openapi.json"})
PUBLIC_MOUNTS = frozenset({"/static", "/docs-assets"})


Endpoint = TypeVar("Endpoint", bound=Callable[..., Awaitable[Any]])


class HTMLAuthError(Exception):
    """An identity error on a console page: shown as a page, not JSON."""

    def __init__(self, status: int, error: IdentityError) -> None:
        super().__init__(str(error))
        self.status = status
        self.error = error


class Access:
    """A route's declared requirement, used as a FastAPI dependency.

    ``permission`` None means public. ``html`` makes refusals render as pages (a login form
    with status 401, or a 403 page) instead of JSON.
    """

    def __init__(self, permission: Permission | None, *, html: bool = False) -> None:
        self.permission = permission
        self.html = html

    @classmethod
    def public(cls, *, html: bool = False) -> Access:
        return cls(None, html=html)

    def __repr__(self) -> str:
        return f"Access({self.permission!r}, html={self.html})"

    async def __call__(self, request: Request) -> Principal | None:
        if self.permission is None:
            return None
        try:
            principal = await authenticate_request(request)
            return require(principal, self.permission)
        except IdentityError as exc:
            if self.html:
                status = 403 if isinstance(exc, Forbidden) else 401
                raise HTMLAuthError(status, exc) from exc
            raise


def _credential(request: Request) -> tuple[str, bool] | None:
    """(secret, from_cookie), or None when the request carries none."""
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise NotAuthenticated("use 'Authorization: Bearer <key>'")
        return value.strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return cookie, True
    return None


def request_state(request: Request) -> dict[str, Any]:
    """The dict that ``request.state`` reads and writes, used directly: each read through
    ``request.state`` first fails an ordinary attribute lookup (an exception built and
    dropped), which the report route paid several times per report."""
    state: dict[str, Any] = request.scope.setdefault("state", {})
    return state


async def authenticate_request(request: Request) -> Principal:
    """Resolve the caller, once per request; raises ``NotAuthenticated`` or ``Forbidden``."""
    state = request_state(request)
    cached = state.get("principal")
    if cached is not None:
        assert isinstance(cached, Principal)
        return cached
    found = _credential(request)
    if found is None:
        raise NotAuthenticated("authentication required")
    secret, from_cookie = found
    parsed = parse_secret(secret)
    if parsed is None or (parsed[0] is SecretKind.session) != from_cookie:
        raise NotAuthenticated("malformed or misplaced credential")
    container = container_of(request)
    if not from_cookie:
        principal: Principal = await container.auth_cache.principal(
            secret, lambda: _bearer_principal(container, secret)
        )
        state["principal"] = principal
        state["csrf_token"] = None
        return principal
    auth = await _authenticate(container, secret)
    if request.method not in SAFE_METHODS:
        await _check_csrf(request, auth.csrf_token)
    state["principal"] = auth.principal
    state["csrf_token"] = auth.csrf_token
    return auth.principal


async def _authenticate(container: Any, secret: str) -> accounts.Authenticated:
    """Check a credential against the store, on a thread."""
    return await run_in_threadpool(
        accounts.authenticate, uow=container.uow(readonly=True), secret=secret
    )


async def _bearer_principal(container: Any, secret: str) -> Principal:
    return (await _authenticate(container, secret)).principal


def require_csrf_on_read(request: Request) -> None:
    """For a GET that acts (opening evidence is audited under the caller's name): a caller
    who came with the session cookie must also send its CSRF token in ``X-CSRF-Token``, which
    a link or an image on another site cannot. Bearer callers need nothing more. Call after
    the route's ``Access`` has authenticated the request."""
    state = request_state(request)
    principal = state.get("principal")
    if not isinstance(principal, Principal) or principal.kind is not PrincipalKind.staff_session:
        return
    expected = state.get("csrf_token")
    presented = request.headers.get(CSRF_HEADER)
    if not expected or not presented or not hmac.compare_digest(presented, expected):
        raise Forbidden(
            "with the session cookie, this read needs the session's token in X-CSRF-Token"
        )


async def _check_csrf(request: Request, expected: str | None) -> None:
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            presented = value if isinstance(value, str) else None
    if not expected or not presented or not hmac.compare_digest(presented, expected):
        raise Forbidden("CSRF token missing or wrong: send the session's token in X-CSRF-Token")


def iter_routes(app: FastAPI) -> Iterator[BaseRoute]:
    """Every route the app serves, with routers included via ``include_router`` flattened.

    FastAPI 0.165 keeps included routers as nodes in ``app.routes``; older versions copy
    their routes in. Routers here carry their prefix themselves (``APIRouter(prefix=…)``) and
    are included without one, so each route's own ``path`` is the full path.
    """
    flatten = getattr(fastapi.routing, "iter_route_contexts", None)
    if flatten is None:  # FastAPI before 0.165
        yield from app.routes
        return
    for context in flatten(app.routes):
        yield context.original_route


def checks_access(access: Access) -> Callable[[Endpoint], Endpoint]:
    """Declare a route's ``Access`` by checking it first thing in the endpoint, instead of as
    a dependency. For the busiest routes only (``POST /v1/reports``): FastAPI's dependency
    solving cost about 5% of a report's CPU. The route counts as declared, for the start-up
    check, the OpenAPI document and the authorization tests, exactly as with ``Depends``::

        @router.post("/v1/reports")
        @checks_access(Access(Permission.reports_submit))
        async def submit_report(request: Request) -> Response: ...
    """

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def checked(*args: Any, **kwargs: Any) -> Any:
            await access(kwargs["request"])
            return await endpoint(*args, **kwargs)

        checked.takedown_access = access  # type: ignore[attr-defined]
        return checked  # type: ignore[return-value]

    return decorate


def declared_access(route: BaseRoute) -> Access | None:
    """The ``Access`` a route declares (as a dependency, or with ``checks_access``), or None."""
    if not isinstance(route, APIRoute):
        return None
    found = [d.call for d in route.dependant.dependencies if isinstance(d.call, Access)]
    own = getattr(route.endpoint, "takedown_access", None)
    if isinstance(own, Access):
        found.append(own)
    return found[0] if len(found) == 1 else None


def check_routes_declared(app: FastAPI) -> None:
    """Refuse to build an app with a route that declares no access (or more than one)."""
    missing: list[str] = []
    for route in iter_routes(app):
        if isinstance(route, APIRoute):
            if declared_access(route) is None:
                missing.append(f"{sorted(route.methods or [])} {route.path}")
        elif isinstance(route, Mount):
            if route.path not in PUBLIC_MOUNTS:
                missing.append(f"mount {route.path}")
        elif isinstance(route, Route):
            if route.path not in FRAMEWORK_PUBLIC_PATHS:
                missing.append(f"{sorted(route.methods or [])} {route.path}")
        else:
            missing.append(repr(route))
    if missing:
        raise RuntimeError(
            "routes without a declared Access (add Depends(Access(...)) or Access.public()): "
            + "; ".join(missing)
        )


def principal_of(request: Request) -> Principal:
    """The principal that ``Access`` resolved for this request (routes that require one)."""
    principal: Any = request_state(request).get("principal")
    if not isinstance(principal, Principal):
        raise NotAuthenticated("authentication required")
    return principal
