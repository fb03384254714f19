"""Follow-up work: events from the outbox, run by handlers, at least once.

A service records an event with ``uow.publish(event)`` in the same transaction as the change.
``Worker`` (in-process, the embedded default, or ``takedown worker``) claims due events and
calls ``run_event``; a Celery relay at scale calls the same ``run_event`` from a task, so
handlers never change. Which event types are handled at all is declared once, in
``events.SYSTEM_EVENTS`` (``catalogue``); a process's ``HandlerRegistry`` says which of them
it runs.
"""

from takedown.jobs.catalogue import EventCatalogue
from takedown.jobs.events import SYSTEM_EVENTS
from takedown.jobs.registry import HandlerContext, HandlerRegistry
from takedown.jobs.worker import RetryPolicy, Worker, run_event

__all__ = [
    "SYSTEM_EVENTS",
    "EventCatalogue",
    "HandlerContext",
    "HandlerRegistry",
    "RetryPolicy",
    "Worker",
    "run_event",
]
