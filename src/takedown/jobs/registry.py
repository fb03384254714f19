"""Which handler runs for which event type."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter

from takedown.store.uow import SqlAlchemyUnitOfWork

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
    uow: SqlAlchemyUnitOfWork

    @property
    def idempotency_key(self) -> str:
        return f"takedown-event-{self.event_id}"


Handler = Callable[[E, HandlerContext], None]


@dataclass(frozen=True)
class _Entry(Generic[E]):
    event_cls: type[E]
    adapter: TypeAdapter[E]
    handlers: list[Handler[E]]


class HandlerRegistry:
    """Maps ``event_type`` names to the event class and its handlers.

    Example::

        registry = HandlerRegistry()

        @registry.handler(AccountLockedOut)
        def notify_admins(event: AccountLockedOut, ctx: HandlerContext) -> None: ...
    """

    def __init__(self) -> None:
        self._entries: dict[str, _Entry[Any]] = {}

    def register(self, event_cls: type[E], handler: Handler[E] | None = None) -> None:
        name: str = event_cls.event_type  # type: ignore[attr-defined]
        entry = self._entries.get(name)
        if entry is None:
            entry = _Entry(event_cls, TypeAdapter(event_cls), [])
            self._entries[name] = entry
        elif entry.event_cls is not event_cls:
            raise ValueError(f"event type {name!r} is already bound to {entry.event_cls}")
        if handler is not None and handler not in entry.handlers:
            entry.handlers.append(handler)

    def handler(self, event_cls: type[E]) -> Callable[[Handler[E]], Handler[E]]:
        def decorate(fn: Handler[E]) -> Handler[E]:
            self.register(event_cls, fn)
            return fn

        return decorate

    def has_handlers(self, event_type: str) -> bool:
        entry = self._entries.get(event_type)
        return entry is not None and bool(entry.handlers)

    def without_handlers(self) -> frozenset[str]:
        """The registered event types no handler wants (they are the record)."""
        return frozenset(name for name, entry in self._entries.items() if not entry.handlers)

    def decode(self, event_type: str, payload: dict[str, Any]) -> tuple[Any, list[Handler[Any]]]:
        """The event object and its handlers; ``(None, [])`` for a type nobody handles."""
        entry = self._entries.get(event_type)
        if entry is None:
            return None, []
        return entry.adapter.validate_python(payload), list(entry.handlers)
