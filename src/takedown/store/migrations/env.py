"""Alembic environment: runs on the engine handed in by ``takedown.store.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from takedown.store.models import Base

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    if connection.dialect.name == "postgresql":
        # Several API processes may start at once: one migrates, the others wait.
        connection.execute(text("SELECT pg_advisory_lock(742001)"))
        connection.commit()
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    finally:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_unlock(742001)"))
            connection.commit()
