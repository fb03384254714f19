"""Persistence: SQLAlchemy tables, repositories, the unit of work and migrations."""

from takedown.store import migrate
from takedown.store.db import Database
from takedown.store.uow import SqlAlchemyUnitOfWork, event_payload

__all__ = ["Database", "SqlAlchemyUnitOfWork", "event_payload", "migrate"]
