"""Hash exchanges: ``/v1/exchanges``. Credentials go in and never come out."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from pydantic import BaseModel, Field, StrictInt

from takedown.api.banks import MANAGE, READ, C, ReadUoW, UoW
from takedown.api.schemas import ReadModel, StrictModel
from takedown.matching.exchanges import Exchange, ExchangeKind
from takedown.server.errors import ERROR_RESPONSES
from takedown.server.security import principal_of
from takedown.services import exchanges

router = APIRouter(prefix="/v1/exchanges", tags=["exchanges"], responses=ERROR_RESPONSES)
Name = Annotated[str, Path(min_length=1, max_length=64)]


class ExchangeCreate(StrictModel):
    name: str = Field(min_length=1, max_length=64, examples=["stopncii"])
    kind: ExchangeKind
    bank: str = Field(min_length=1, max_length=64)
    url: str = Field(min_length=1, max_length=2000, examples=["https://api.stopncii.org/v1"])
    credentials: dict[str, str | dict[str, str]] | None = Field(
        None,
        max_length=16,
        description="StopNCII: subscription_key, functions_key; NCMEC: username, password. "
        "Stored sealed with the evidence key; never returned.",
    )
    interval_seconds: StrictInt = Field(
        exchanges.DEFAULT_INTERVAL, ge=exchanges.MIN_INTERVAL, le=7 * 86400
    )


class ProblemRead(BaseModel):
    at: str
    error: str


class ExchangeRead(ReadModel):
    name: str
    kind: ExchangeKind
    bank: str
    url: str
    enabled: bool
    interval_seconds: int
    has_credentials: bool
    created_at: datetime
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    next_run_at: datetime | None
    checkpoint: dict[str, Any]
    fetched: int
    added: int
    withdrawn: int
    errors: list[ProblemRead]


class ExchangeStatus(ExchangeRead):
    entries: int = Field(description="The exchange's hashes that match now (not withdrawn).")


class SyncRead(BaseModel):
    exchange: str
    pages: int
    fetched: int
    added: int
    withdrawn: int
    restored: int
    skipped: list[str]
    failed: str | None


def _status(exchange: Exchange, entries: int) -> ExchangeStatus:
    return ExchangeStatus.model_validate(
        {**ExchangeRead.of(exchange).model_dump(), "entries": entries}
    )


@router.get("", dependencies=READ)
def list_exchanges(request: Request, uow: ReadUoW) -> list[ExchangeRead]:
    return [
        ExchangeRead.of(e) for e in exchanges.list_exchanges(uow=uow, actor=principal_of(request))
    ]


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=MANAGE)
def add_exchange(request: Request, body: ExchangeCreate, uow: UoW, c: C) -> ExchangeRead:
    """Keep a bank in step with an exchange; its first sync is due at once."""
    return ExchangeRead.of(
        exchanges.add_exchange(
            uow=uow,
            actor=principal_of(request),
            vault=c.vault,
            name=body.name,
            kind=body.kind,
            bank=body.bank,
            url=body.url,
            credentials=body.credentials,
            interval_seconds=body.interval_seconds,
            now=c.now(),
        )
    )


@router.get("/{name}", dependencies=READ)
def get_exchange(request: Request, name: Name, uow: ReadUoW) -> ExchangeStatus:
    """The exchange's sync status: last fetch, checkpoint, entries, errors (newest first)."""
    exchange, entries = exchanges.get_exchange(uow=uow, actor=principal_of(request), name=name)
    return _status(exchange, entries)


@router.post("/{name}/sync", dependencies=MANAGE)
def sync_exchange(request: Request, name: Name, c: C) -> SyncRead:
    """One pass now, from the checkpoint; answers what it did. A pass that fails is 200
    with ``failed`` set (the exchange's error, also in its status); 409 while another process
    runs this exchange's pass."""
    result = exchanges.sync_exchange(c.exchange_sync(), name=name, actor=principal_of(request))
    return SyncRead(
        exchange=result.exchange,
        pages=result.pages,
        fetched=result.fetched,
        added=result.added,
        withdrawn=result.withdrawn,
        restored=result.restored,
        skipped=result.problems[:50],
        failed=result.error,
    )


class CheckRead(BaseModel):
    ok: bool
    detail: str = Field(description="What the exchange said of us, or what went wrong.")


@router.post("/{name}/check", dependencies=MANAGE)
def check_exchange(request: Request, name: Name, c: C) -> CheckRead:
    """Try the exchange's address and credentials with one cheap request (NCMEC's status, a
    one-record fetch); changes nothing."""
    ok, detail = exchanges.check_exchange(c.exchange_sync(), name=name, actor=principal_of(request))
    return CheckRead(ok=ok, detail=detail)
