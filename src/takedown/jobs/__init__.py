"""Follow-up work: events from the outbox, run by handlers, at least once.

A service records an event with ``uow.publish(event)`` in the same transaction as the change.
``Worker`` (in-process, the embedded default) claims due events and calls ``run_event``;
a Celery relay at scale calls the same ``run_event`` from a task, so handlers never change.
"""

from takedown.jobs.registry import HandlerContext, HandlerRegistry
from takedown.jobs.worker import RetryPolicy, Worker, run_event

__all__ = ["HandlerContext", "HandlerRegistry", "RetryPolicy", "Worker", "run_event"]
