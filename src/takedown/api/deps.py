"""FastAPI dependencies the routers share.

They are ``async`` although they do no I/O: FastAPI runs a plain ``def`` dependency in the
thread pool, and a thread hop per dependency is a real cost on the upload and report paths."""

from __future__ import annotations

from fastapi import Request

from takedown.server.container import Container, container_of
from takedown.store import UnitOfWork


async def container(request: Request) -> Container:
    return container_of(request)


async def uow(request: Request) -> UnitOfWork:
    return (await container(request)).uow()


async def read_uow(request: Request) -> UnitOfWork:
    return (await container(request)).uow(readonly=True)
