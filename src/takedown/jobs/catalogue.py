"""Which event types exist, and whether any process handles them: declared once for the
whole system (``flows.SYSTEM_EVENTS``), not read from one process's handlers.

Every process agrees because the declaration is code, not configuration: a web process
stores a *record-only* event done as it publishes it (no process would ever take it), and
leaves a *handled* one pending even when it has no handler for it itself, for the worker
that has (a separate ``takedown worker``, say, with the mail server's settings). An event
type no catalogue knows (published by a newer release during a rolling upgrade) is left
pending too: never marked done unseen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter


def event_type_of(event_cls: type[Any]) -> str:
    name = getattr(event_cls, "event_type", None)
    if not isinstance(name, str):
        raise TypeError(f"{event_cls.__name__} has no event_type")
    return name


class EventCatalogue:
    """Event types by name, each *handled* (some process runs a handler for it) or
    *record-only* (it is the outbox's record; no handler runs). Example::

        EventCatalogue(handled=[ReporterEmailQueued], record_only=[ReportReceived])
    """

    def __init__(
        self, *, handled: Iterable[type[Any]] = (), record_only: Iterable[type[Any]] = ()
    ) -> None:
        self._classes: dict[str, type[Any]] = {}
        self._adapters: dict[str, TypeAdapter[Any]] = {}
        handled_names = {self._add(cls) for cls in handled}
        record_names = {self._add(cls) for cls in record_only}
        if both := handled_names & record_names:
            raise ValueError(f"declared both handled and record-only: {sorted(both)}")
        self._handled = frozenset(handled_names)
        self._record_only = frozenset(record_names)

    def _add(self, cls: type[Any]) -> str:
        name = event_type_of(cls)
        if self._classes.get(name, cls) is not cls:
            raise ValueError(f"event type {name!r} is already bound to {self._classes[name]}")
        self._classes[name] = cls
        self._adapters[name] = TypeAdapter(cls)
        return name

    @property
    def handled(self) -> frozenset[str]:
        return self._handled

    @property
    def record_only(self) -> frozenset[str]:
        """The types stored done when published (``Database.done_at_publish``)."""
        return self._record_only

    def decode(self, event_type: str, payload: dict[str, Any]) -> Any:
        """The event object of a stored payload. Raises ``KeyError`` for an unknown type."""
        return self._adapters[event_type].validate_python(payload)
