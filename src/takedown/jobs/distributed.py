"""The distributed mode's engine: Celery, on RabbitMQ (recommended) or Redis.

One durable queue per lane (``<TAKEDOWN_BROKER_PREFIX>.<lane>``), so a slow NCMEC never holds
up removals and each worker takes the lanes it is given. Two tasks, both calling what the
in-process runtime calls, so no handler knows which mode runs it:

- ``takedown.event(id)``: ``jobs.worker.run_event``: claim the outbox event with a lease,
  run its handlers, mark it done in their transaction; a failure is stored with its retry
  time, or parks the event after the last attempt, by the outbox's ``RetryPolicy``. A second
  message for the same event (a relay that died before its commit, a redelivery) finds it
  done or held and does nothing: run once in effect, keyed by the event's id.
- ``takedown.pass(lane)``: one pass of a lane over a table of its own (delivery, filing, the
  exchanges), repeated while the lane says more waits. Those lanes claim their rows with
  leases, so passes running at once on several workers share the work.

Messages are acknowledged late (after the task ran) and one at a time per thread: a worker
killed mid-task leaves its message unacknowledged, and the broker gives it to another. The
relay (``jobs.relay``) publishes with publisher confirms and marks an event relayed only
after the broker confirmed it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from celery import Celery
from kombu.entity import Queue
from sqlalchemy.exc import DBAPIError

from takedown.clock import SYSTEM_CLOCK, Clock
from takedown.jobs.loop import BackgroundLoop
from takedown.jobs.registry import HandlerRegistry
from takedown.jobs.relay import EVENT, PASS, Message
from takedown.jobs.worker import run_event
from takedown.retry import RetryPolicy
from takedown.store.db import Database
from takedown.store.uow import SqlAlchemyUnitOfWork

log = logging.getLogger("takedown.jobs.distributed")

TASKS = {EVENT: "takedown.event", PASS: "takedown.pass"}
PASSES_PER_TASK = 100  # a pass task's passes before it lets other messages in
DB_RETRY_CAP_SECONDS = 30.0  # a task that could not reach the database tries again within


def queue_name(prefix: str, lane: str) -> str:
    return f"{prefix}.{lane}"


@dataclass
class WorkerContext:
    """What a worker process's tasks run with: built once, before the worker starts."""

    db: Database
    registry: HandlerRegistry
    policy: RetryPolicy
    lanes: Mapping[str, BackgroundLoop] = field(default_factory=dict)  # table lanes' loops
    clock: Clock = SYSTEM_CLOCK


def make_app(broker_url: str, lanes: Sequence[str], *, prefix: str = "takedown") -> Celery:
    """The Celery app for ``lanes``' queues (``<prefix>.<lane>``), with the tasks bound to a
    context set later (``serve``). Publisher confirms on AMQP; Redis answers each push
    itself."""
    app = Celery("takedown", broker=broker_url, set_as_current=False)
    app.takedown_prefix = prefix

    def queue(lane: str) -> str:
        return queue_name(prefix, lane)

    amqp = broker_url.split(":", 1)[0] in {"amqp", "amqps", "pyamqp"}
    app.conf.update(
        task_queues=[Queue(queue(lane), routing_key=queue(lane)) for lane in lanes],
        task_default_queue=queue("events"),
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_connection_retry_on_startup=True,
        broker_transport_options={"confirm_publish": True} if amqp else {},
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        worker_send_task_events=False,
        worker_enable_remote_control=False,
        broker_heartbeat=10,
    )
    holder: dict[str, WorkerContext] = {}
    app.takedown_context = holder

    @app.task(name=TASKS[EVENT], bind=True, max_retries=None, shared=False)
    def event(task: Any, event_id: int) -> str:
        ctx = holder["context"]
        try:
            return run_event(
                ctx.db,
                ctx.registry,
                int(event_id),
                worker_id=_worker_id(),
                policy=ctx.policy,
                clock=ctx.clock,
            )
        except DBAPIError as error:  # the database is away: the event is unchanged there
            raise task.retry(countdown=_db_backoff(task.request.retries), exc=error) from error

    @app.task(name=TASKS[PASS], bind=True, max_retries=None, shared=False)
    def lane_pass(task: Any, lane: str) -> int:
        loop = holder["context"].lanes.get(lane)
        if loop is None:  # a lane this worker does not run (its settings are elsewhere)
            return 0
        try:
            return loop.drain(PASSES_PER_TASK)
        except DBAPIError as error:
            raise task.retry(countdown=_db_backoff(task.request.retries), exc=error) from error

    return app


def serve(app: Celery, context: WorkerContext, *, queues: Sequence[str], concurrency: int) -> None:
    """Run a Celery worker on ``queues`` (lanes) with ``concurrency`` threads, until it is
    stopped (SIGTERM: it finishes the tasks in hand; SIGKILL: the broker gives their
    unacknowledged messages to another worker)."""
    app.takedown_context["context"] = context
    stop = threading.Event()
    threading.Thread(
        target=_heartbeat, args=(context, list(queues), concurrency, stop), daemon=True
    ).start()
    try:
        _run_worker(app, queues, concurrency)
    finally:
        stop.set()


HEARTBEAT_SECONDS = 5.0


def _heartbeat(
    context: WorkerContext, queues: list[str], threads: int, stop: threading.Event
) -> None:
    """This worker's sign of life every ``HEARTBEAT_SECONDS``, with its queues, for the web
    processes' ``/readyz`` (which lanes no worker takes) and metrics."""
    name = f"worker:{socket.gethostname()}:{os.getpid()}"
    while not stop.is_set():
        try:
            with SqlAlchemyUnitOfWork(context.db) as uow:
                uow.heartbeats.beat(
                    name,
                    "worker",
                    now=context.clock.now(),
                    details={"queues": queues, "threads": threads},
                )
                uow.commit()
        except DBAPIError as error:  # the database away: the tasks say so louder
            log.debug("no heartbeat: %s", error)
        stop.wait(HEARTBEAT_SECONDS)


def _run_worker(app: Celery, queues: Sequence[str], concurrency: int) -> None:
    app.worker_main(
        [
            "worker",
            "--pool=threads",
            f"--concurrency={concurrency}",
            f"--queues={','.join(queue_name(app.takedown_prefix, q) for q in queues)}",
            f"--hostname=takedown-{os.getpid()}@{socket.gethostname()}",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--loglevel={logging.getLevelName(logging.getLogger().level)}",
        ]
    )


class CeleryPublisher:
    """``jobs.relay.Publisher`` on a Celery app: each message waits for the broker's
    confirmation (AMQP publisher confirms) before the next goes."""

    def __init__(self, app: Celery) -> None:
        self.app = app
        self.prefix: str = app.takedown_prefix
        self._declared = False

    def publish(self, messages: Sequence[Message]) -> None:
        if not messages:
            return
        if not self._declared:
            self.declare()
        with self.app.producer_or_acquire() as producer:
            for message in messages:
                self.app.send_task(
                    TASKS[message.kind],
                    args=[message.arg],
                    queue=queue_name(self.prefix, message.lane),
                    routing_key=queue_name(self.prefix, message.lane),
                    producer=producer,
                    retry=True,
                    retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
                )

    def declare(self) -> None:
        """Declare every lane's queue (durable), so a lane no worker took yet keeps what is
        sent to it and its depth can be read."""
        with self.app.connection_for_write() as connection:
            channel = connection.default_channel
            for queue in self.app.amqp.queues.values():
                queue(channel).declare()
        self._declared = True

    def depths(self, lanes: Sequence[str]) -> dict[str, int]:
        if not self._declared:
            self.declare()
        found = {}
        with self.app.connection_for_read() as connection:
            channel = connection.default_channel
            for lane in lanes:
                declared = channel.queue_declare(queue=queue_name(self.prefix, lane), passive=True)
                found[lane] = int(declared.message_count)
        return found

    def check(self) -> None:
        """Raise where the broker does not answer (``/readyz``, ``takedown relay``'s start)."""
        with self.app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1)


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}:celery"


def _db_backoff(retries: int) -> float:
    return float(min(DB_RETRY_CAP_SECONDS, 2**retries))
