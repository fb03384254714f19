"""The JSON API: thin FastAPI routers over ``takedown.services``."""

from takedown.api import accounts, audit, health, keys

routers = [health.router, accounts.router, keys.router, audit.router]

__all__ = ["routers"]
