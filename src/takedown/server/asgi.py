"""The ASGI entry point for server processes started by uvicorn (``takedown serve`` with
``TAKEDOWN_WEB_PROCESSES`` above 1 starts several; each builds its own app)."""

from __future__ import annotations

from fastapi import FastAPI

from takedown.server.app import create_app
from takedown.server.container import build_container
from takedown.server.logs import configure_logging
from takedown.server.process import tune_server_process


def app_factory() -> FastAPI:
    container = build_container()
    configure_logging(container.settings.log_level, container.settings.log_format)
    app = create_app(container)
    tune_server_process(container.settings)
    return app
