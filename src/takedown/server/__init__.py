"""HTTP plumbing shared by the ``api`` and ``web`` routers: the app factory, who is calling,
error shape, body limits, request ids, logs, metrics and security headers.

``create_app`` is imported on first use: the CLI needs ``server.container`` on every command,
and importing FastAPI and every router up front added more than a second to each of them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from takedown.server.app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from takedown.server.app import create_app

        return create_app
    raise AttributeError(name)
