"""The JSON API: thin FastAPI routers over ``takedown.services``."""

from takedown.api import accounts, audit, banks, health, keys, scanning

routers = [
    health.router,
    accounts.router,
    keys.router,
    audit.router,
    scanning.router,
    banks.router,
]

__all__ = ["routers"]
