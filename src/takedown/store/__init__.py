"""Persistence: SQLAlchemy tables, repositories, the unit of work and migrations."""

from takedown.store import migrate
from takedown.store.db import Database
from takedown.store.uow import SqlAlchemyUnitOfWork, UnitOfWork, event_payload, reading

__all__ = ["Database", "SqlAlchemyUnitOfWork", "UnitOfWork", "event_payload", "migrate", "reading"]
