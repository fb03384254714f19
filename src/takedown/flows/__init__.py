"""The path after a decision (and after a report): what follows each event, declared in one
table (``reactions.REACTIONS``), with the reactions that run after commit
(``handlers``) and ``wire``, which registers them with a process's handler registry."""

from takedown.flows.handlers import FlowDeps
from takedown.flows.reactions import (
    DELIVERY,
    EVENTS,
    EXCHANGES,
    FILING,
    MAINTENANCE,
    REACTIONS,
    SYSTEM_EVENTS,
    TRANSPARENCY,
    Reactions,
    lanes,
    outbox_lanes,
    wire,
)

__all__ = [
    "DELIVERY",
    "EVENTS",
    "EXCHANGES",
    "FILING",
    "MAINTENANCE",
    "REACTIONS",
    "SYSTEM_EVENTS",
    "TRANSPARENCY",
    "FlowDeps",
    "Reactions",
    "lanes",
    "outbox_lanes",
    "wire",
]
