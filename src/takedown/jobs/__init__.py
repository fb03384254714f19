"""Follow-up work: events from the outbox, run by handlers, at least once.

A service records an event with ``uow.publish(event)`` in the same transaction as the change.
``Runtime`` runs a process's lanes of deferred work, each on a thread of its own and by one
``RetryPolicy`` rule; a ``Worker`` is the lane that claims due events and calls
``run_event``; a Celery relay at scale calls the same ``run_event`` from a task, so
handlers never change. Which event types are handled at all is declared once, for the whole
system (``flows.SYSTEM_EVENTS``, an ``EventCatalogue`` made from the table of reactions); a
process's ``HandlerRegistry`` says which of them it runs. This package knows no event of its
own: it runs whatever it is given.
"""

from takedown.jobs.catalogue import EventCatalogue
from takedown.jobs.registry import HandlerContext, HandlerRegistry
from takedown.jobs.runtime import Runtime
from takedown.jobs.worker import Worker, run_event
from takedown.retry import RetryPolicy

__all__ = [
    "EventCatalogue",
    "HandlerContext",
    "HandlerRegistry",
    "RetryPolicy",
    "Runtime",
    "Worker",
    "run_event",
]
