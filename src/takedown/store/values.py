"""Plain values from ORM rows: rows never leave the store; values do."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

from takedown.store.models import Base

V = TypeVar("V")


def row_value(cls: type[V], row: Base, **converted: Any) -> V:
    """The plain value ``cls`` (a dataclass) of an ORM row: same-named fields are copied,
    ``converted`` ones given. Rows never leave the store; values do."""
    names = [f.name for f in fields(cls) if f.init]  # type: ignore[arg-type]
    values = {n: converted[n] if n in converted else getattr(row, n) for n in names}
    return cls(**values)
