"""FastAPI dependencies the routers share.

They are ``async`` although they do no I/O: FastAPI runs a plain ``def`` dependency in the
thread pool, and a thread hop per dependency is a real cost on the upload and report paths."""

from __future__ import annotations

from fastapi import Request

from takedown.server.container import Container
from takedown.store import SqlAlchemyUnitOfWork


async def container(request: Request) -> Container:
    c = request.app.state.container
    assert isinstance(c, Container)
    return c


async def uow(request: Request) -> SqlAlchemyUnitOfWork:
    return (await container(request)).uow()


async def read_uow(request: Request) -> SqlAlchemyUnitOfWork:
    return (await container(request)).uow(readonly=True)


def base_url(request: Request) -> str:
    """``str(request.base_url)``, remembered per scheme, host, server and root path, which is
    all it depends on: Starlette builds and parses a URL each time, which the report route
    paid on every report."""
    scope = request.scope
    host = None
    for name, value in scope["headers"]:
        if name == b"host":
            host = value
            break
    key = (
        scope["scheme"],
        host,
        scope.get("server"),
        scope.get("root_path", ""),
        scope.get("app_root_path"),
    )
    found = _BASE_URLS.get(key)
    if found is None:
        if len(_BASE_URLS) >= 64:  # hosts are client input: keep only a few
            _BASE_URLS.clear()
        found = _BASE_URLS[key] = str(request.base_url)
    return found


_BASE_URLS: dict[tuple[object, ...], str] = {}
