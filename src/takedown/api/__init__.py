"""The JSON API: thin FastAPI routers over ``takedown.services``."""

from takedown.api import (
    accounts,
    actions,
    audit,
    banks,
    case_links,
    evidence,
    exchanges,
    filing,
    health,
    keys,
    reports,
    review,
    scanning,
    transparency,
)

# The hot paths first: routes are matched in this order, one after another.
routers = [
    scanning.router,
    reports.router,
    health.router,
    accounts.router,
    keys.router,
    audit.router,
    banks.router,
    exchanges.router,
    review.router,
    case_links.router,
    actions.router,
    evidence.router,
    filing.router,
    transparency.router,
]

__all__ = ["routers"]
