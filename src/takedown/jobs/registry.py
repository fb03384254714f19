"""Which handlers this process runs, for which of the catalogue's event types."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from takedown.jobs.catalogue import EventCatalogue, event_type_of
from takedown.store.uow import UnitOfWork

E = TypeVar("E")


@dataclass(frozen=True)
class HandlerContext:
    """What a handler gets besides the event.

    ``uow`` is open, and commits together with marking the event done: a handler's database
    effects happen exactly once. For effects outside the database (a webhook, a filing) use
    ``idempotency_key``, stable across retries of the same event, so the receiver can drop
    a repeat.
    """

    event_id: int
    attempt: int
    uow: UnitOfWork

    @property
    def idempotency_key(self) -> str:
        return f"takedown-event-{self.event_id}"


Handler = Callable[[E, HandlerContext], None]


class HandlerRegistry:
    """This process's handlers, by event type, for the types its ``catalogue`` declares
    handled. Which types are handled at all is the catalogue's, the same in every process;
    a registry only says which of them run here.

    Example::

        registry = HandlerRegistry(flows.SYSTEM_EVENTS)

        @registry.handler(ReporterEmailQueued)
        def send(event: ReporterEmailQueued, ctx: HandlerContext) -> None: ...
    """

    def __init__(self, catalogue: EventCatalogue) -> None:
        self.catalogue = catalogue
        self._handlers: dict[str, list[Handler[Any]]] = {}

    def register(self, event_cls: type[E], handler: Handler[E]) -> None:
        """Run ``handler`` for ``event_cls`` here. Raises ``ValueError`` unless the
        catalogue declares the type handled: other processes would store it done unseen."""
        name = event_type_of(event_cls)
        if name not in self.catalogue.handled:
            raise ValueError(
                f"event type {name!r} is not declared handled in the catalogue "
                "(flows/reactions.py): give it an after-commit reaction there, so every process "
                "leaves it for a handler"
            )
        handlers = self._handlers.setdefault(name, [])
        if handler not in handlers:
            handlers.append(handler)

    def handler(self, event_cls: type[E]) -> Callable[[Handler[E]], Handler[E]]:
        def decorate(fn: Handler[E]) -> Handler[E]:
            self.register(event_cls, fn)
            return fn

        return decorate

    def has_handlers(self, event_type: str) -> bool:
        return bool(self._handlers.get(event_type))

    @property
    def runs_here(self) -> frozenset[str]:
        """The event types this process has handlers for."""
        return frozenset(name for name, handlers in self._handlers.items() if handlers)

    def decode(self, event_type: str, payload: dict[str, Any]) -> tuple[Any, list[Handler[Any]]]:
        """The event object and this process's handlers for it."""
        return self.catalogue.decode(event_type, payload), list(self._handlers.get(event_type, []))
