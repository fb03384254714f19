"""The ASGI entry point for server processes started by uvicorn (``takedown serve`` with
``TAKEDOWN_WEB_PROCESSES`` above 1 starts several; each builds its own app)."""

from __future__ import annotations

from fastapi import FastAPI

from takedown.server import protocol
from takedown.server.app import create_app
from takedown.server.container import build_container
from takedown.server.logs import configure_logging
from takedown.server.process import tune_server_process


def app_factory() -> FastAPI:
    container = build_container()
    settings = container.settings
    configure_logging(settings.log_level, settings.log_format)
    # uvicorn gave this process ``TimedHttpProtocol`` by name: its limits are set here.
    protocol.configure(
        header_timeout=settings.http_header_timeout_seconds,
        body_timeout=settings.http_body_timeout_seconds,
    )
    app = create_app(container)
    tune_server_process(container.settings)
    return app
