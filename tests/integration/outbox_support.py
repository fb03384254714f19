"""A test event and handler whose effect (an audit entry) can be counted."""

from dataclasses import dataclass
from typing import ClassVar

from sqlalchemy import func, select

from takedown.identity import Principal
from takedown.jobs import EventCatalogue, HandlerContext, HandlerRegistry
from takedown.services import audit
from takedown.store.models import AuditEntryRow


@dataclass(frozen=True)
class Pinged:
    event_type: ClassVar[str] = "test.pinged"
    label: str


def record_effect(event: Pinged, ctx: HandlerContext) -> None:
    audit.record(
        ctx.uow,
        actor=Principal.system("worker"),
        action="test.effect",
        target_type="event",
        target_id=ctx.event_id,
        details={"label": event.label},
    )


HANDLED = EventCatalogue(handled=[Pinged])
RECORD_ONLY = EventCatalogue(record_only=[Pinged])


def registry_with(*handlers) -> HandlerRegistry:
    """A registry running ``handlers`` for ``Pinged``, declared handled; with none, a
    process that has no handler for it."""
    registry = HandlerRegistry(HANDLED)
    for handler in handlers:
        registry.register(Pinged, handler)
    return registry


def effects(db, event_id: int | None = None) -> int:
    with db.session(readonly=True) as s:
        q = (
            select(func.count())
            .select_from(AuditEntryRow)
            .where(AuditEntryRow.action == "test.effect")
        )
        if event_id is not None:
            q = q.where(AuditEntryRow.target_id == str(event_id))
        return int(s.scalar(q))
