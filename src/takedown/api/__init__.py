"""The JSON API: thin FastAPI routers over ``takedown.services``."""

from takedown.api import accounts, audit, banks, health, keys, reports, scanning

routers = [
    health.router,
    accounts.router,
    keys.router,
    audit.router,
    scanning.router,
    banks.router,
    reports.router,
]

__all__ = ["routers"]
