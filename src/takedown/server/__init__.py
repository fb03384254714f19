"""HTTP plumbing shared by the ``api`` and ``web`` routers: the app factory, who is calling,
error shape, body limits, request ids, logs, metrics and security headers."""

from takedown.server.app import create_app

__all__ = ["create_app"]
