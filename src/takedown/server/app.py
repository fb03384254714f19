"""The FastAPI application: routers from ``api`` and ``web`` on the shared plumbing."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from takedown import __version__
from takedown.api.health import DOCS_ASSETS
from takedown.api.schemas import COMPONENTS_KEY
from takedown.config import Mode
from takedown.server.container import Container, build_container
from takedown.server.errors import install_error_handlers
from takedown.server.hot_routes import DirectLane, TakedownApp
from takedown.server.middleware import BodyLimitMiddleware, ObservabilityMiddleware, Observer
from takedown.server.security import (
    Access,
    HTMLAuthError,
    check_routes_declared,
    declared_access,
    iter_routes,
)

log = logging.getLogger("takedown")

DESCRIPTION = """
takedown's API, for a platform's upload path and report button, for trusted flaggers and
police, and for a trust-and-safety team's own tools.

Authenticate with `Authorization: Bearer <key>`: an API key (`tdk_…`, with scopes) or a staff
member's personal token (`tdp_…`, acting with their role). Every error has one shape:
`{"error": {"code", "message", "details"}, "request_id"}`.
"""


def create_app(container: Container | None = None, *, start_worker: bool | None = None) -> FastAPI:
    """Build the app. The schema must be current (``takedown serve`` upgrades it first).

    ``start_worker`` None follows ``TAKEDOWN_WORKER``, but never in the distributed mode
    (``TAKEDOWN_BROKER_URL``), where the relay and the workers run deferred work.
    """
    container = container or build_container()
    settings = container.settings
    if start_worker is None:
        run_worker = settings.worker and not settings.broker_url
    else:
        run_worker = start_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = container.runtime if run_worker else None
        # SQLite: the writer's statements run on this loop (they are CPU, not waiting), which
        # spares the interpreter lock's hand-offs between a writer thread and the loop.
        # PostgreSQL: a thread, since each statement waits for a round trip.
        container.writer.start(loop=asyncio.get_running_loop() if container.db.is_sqlite else None)
        threading.Thread(target=container.matcher.warm, name="warm-banks", daemon=True).start()
        threading.Thread(
            target=container.case_media.warm, args=(container.db,), name="warm-cases", daemon=True
        ).start()
        threading.Thread(
            target=container.registry_media.warm,
            args=(container.db,),
            name="warm-registry",
            daemon=True,
        ).start()
        if runtime is not None:
            runtime.start()
        log.info("takedown started", extra={"version": __version__, "worker": run_worker})
        try:
            yield
        finally:
            # The runtime first: its lanes commit through the writer.
            if runtime is not None:
                # Off the loop: a lane may be waiting on the writer, which runs on it.
                await asyncio.to_thread(runtime.stop)
            await container.writer.aclose()
            container.close_media_pool()
            log.info("takedown stopped")

    app = TakedownApp(
        title="takedown",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        telemetry=None
        if settings.opentelemetry
        else {"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.container = container

    from takedown.api import routers as api_routers
    from takedown.web import audit as audit_pages
    from takedown.web import banks as banks_pages
    from takedown.web import filing as filing_pages
    from takedown.web import operations as operations_pages
    from takedown.web import pages, reporting, views
    from takedown.web import review as review_pages
    from takedown.web import transparency as transparency_pages

    for router in api_routers:
        app.include_router(router)
    app.include_router(views.router)
    app.include_router(reporting.router)
    app.include_router(review_pages.router)
    app.include_router(operations_pages.router)
    app.include_router(banks_pages.router)
    app.include_router(filing_pages.router)
    app.include_router(audit_pages.router)
    app.include_router(transparency_pages.router)
    app.mount(
        "/static", StaticFiles(directory=Path(pages.__file__).parent / "static"), name="static"
    )
    app.mount(DOCS_ASSETS, StaticFiles(packages=[("fastapi_offline", "static")]), name="docs")

    install_error_handlers(app, pages)

    @app.exception_handler(HTMLAuthError)
    async def _html_auth(request: Request, exc: HTMLAuthError) -> Response:
        return pages.auth_error_page(request, exc.status, str(exc.error))

    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_body_bytes,
        media_limit=settings.max_media_bytes,
        pages=pages,
    )
    observer = Observer(hsts=settings.mode is Mode.production)
    app.add_middleware(ObservabilityMiddleware, observer=observer)
    if not settings.opentelemetry:
        # The busiest routes go straight to their endpoints, in front of every layer
        # (``hot_routes``); with OpenTelemetry on, FastAPI's telemetry sees every request.
        app.direct_lane = DirectLane(
            app,
            observer=observer,
            limit=settings.max_body_bytes,
            media_limit=settings.max_media_bytes,
        )
    check_routes_declared(app)
    _document_access(app)
    return app


_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
_GENERAL_ERRORS = {
    "400": "Malformed JSON, or an invalid `Content-Length`",
    "413": "The body is over the route's limit",
    "503": "Shutting down, or at capacity for this work; retry after `Retry-After`",
}


def _document_errors(operation: dict[str, Any], method: str, path: str, access: Access) -> None:
    """Every status a route can answer, each with the one error shape: the ones any route
    gives (a malformed body, one over the limit, a server shutting down), 404 on routes that
    name a thing in their path, 409 on routes that change something a rule may forbid."""
    responses = operation.setdefault("responses", {})
    wanted = dict(_GENERAL_ERRORS)
    if access.permission is not None:
        wanted["401"] = "No valid credential"
        wanted["403"] = "Credential lacks the permission"
        wanted["422"] = "Invalid input"
        if "{" in path:
            wanted["404"] = "No such thing (or not one you may see)"
        if method.upper() in ("POST", "PATCH", "DELETE"):
            wanted["409"] = "It exists already, or its state forbids the change"
    for code, description in wanted.items():
        responses.setdefault(code, {"description": description, "content": _ERROR_REF})


def _document_access(app: FastAPI) -> None:
    """Show each route's required permission in the OpenAPI document, and declare bearer
    authentication so Swagger UI's *Authorize* button works."""
    from fastapi.openapi.utils import get_openapi
    from fastapi.routing import APIRoute

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key (tdk_…) or a personal token (tdp_…).",
            }
        }
        components = schema["components"].setdefault("schemas", {})
        for route in iter_routes(app):
            access = declared_access(route)
            if not isinstance(route, APIRoute) or access is None:
                continue
            for method in route.methods or ():
                operation = schema["paths"].get(route.path, {}).get(method.lower())
                if operation is None:
                    continue
                # Bodies a route reads itself (``api.schemas.json_body``) bring their models.
                components.update(operation.pop(COMPONENTS_KEY, {}))
                _document_errors(operation, method, route.path, access)
                if access.permission is None:
                    operation["security"] = []
                    continue
                operation["security"] = [{"bearer": []}]
                operation["x-takedown-permission"] = str(access.permission)
                note = f"Needs the `{access.permission}` permission."
                operation["description"] = f"{operation.get('description', '')}\n\n{note}".strip()
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
