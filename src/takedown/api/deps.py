"""FastAPI dependencies the routers share."""

from __future__ import annotations

from fastapi import Request

from takedown.server.container import Container
from takedown.store import SqlAlchemyUnitOfWork


def container(request: Request) -> Container:
    c = request.app.state.container
    assert isinstance(c, Container)
    return c


def uow(request: Request) -> SqlAlchemyUnitOfWork:
    return container(request).uow()


def read_uow(request: Request) -> SqlAlchemyUnitOfWork:
    return container(request).uow(readonly=True)
