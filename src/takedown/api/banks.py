"""Hash banks and their entries: ``/v1/banks``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import BaseModel, Field, StrictBool, StrictInt

from takedown.api.deps import container, read_uow, uow
from takedown.api.schemas import ReadModel, StrictModel
from takedown.identity import Permission
from takedown.matching import BankPolicy, vpdq
from takedown.server.container import Container
from takedown.server.errors import ERROR_RESPONSES
from takedown.server.security import Access, principal_of
from takedown.services import banks
from takedown.store import UnitOfWork

router = APIRouter(prefix="/v1/banks", tags=["banks"], responses=ERROR_RESPONSES)
READ = [Depends(Access(Permission.banks_read))]
MANAGE = [Depends(Access(Permission.banks_manage))]
UoW = Annotated[UnitOfWork, Depends(uow)]
ReadUoW = Annotated[UnitOfWork, Depends(read_uow)]
C = Annotated[Container, Depends(container)]
BankName = Annotated[str, Path(min_length=1, max_length=64)]
EntryId = Annotated[int, Path(ge=1, le=2**62)]
MAX_ENTRIES_PER_REQUEST = 10_000


class BankRead(ReadModel):
    id: int
    name: str
    description: str
    policy: BankPolicy
    pdq_threshold: int
    enabled: bool
    created_at: datetime


class BankCreate(StrictModel):
    name: str = Field(min_length=1, max_length=64, examples=["ncmec-hashes"])
    policy: BankPolicy
    description: str = Field("", max_length=2000)
    pdq_threshold: StrictInt = Field(31, ge=0, le=banks.MAX_PDQ_THRESHOLD)
    enabled: StrictBool = True


class BankUpdate(StrictModel):
    policy: BankPolicy | None = None
    description: str | None = Field(None, max_length=2000)
    pdq_threshold: StrictInt | None = Field(None, ge=0, le=banks.MAX_PDQ_THRESHOLD)
    enabled: StrictBool | None = None


class EntryCreate(StrictModel):
    signal_type: str = Field(max_length=16, examples=["pdq"])
    value: str = Field(
        max_length=vpdq.MAX_FRAMES * 96,
        description="The hash in hex; for vpdq, the video's frames in Meta's vPDQ file format "
        "(frame,quality,pdq_hex,seconds a line).",
    )
    source: str = Field("", max_length=128)
    note: str = Field("", max_length=2000)


class EntriesCreate(StrictModel):
    entries: list[EntryCreate] = Field(min_length=1, max_length=MAX_ENTRIES_PER_REQUEST)


class InvalidLine(BaseModel):
    position: int
    problem: str


class EntriesAdded(BaseModel):
    added: int
    duplicates: int
    invalid: list[InvalidLine]
    entry_ids: list[int]


class EntryRead(ReadModel):
    id: int
    signal_type: str
    value: str
    source: str
    note: str
    added_at: datetime
    disabled_until: datetime | None
    quarantined_at: datetime | None = Field(
        None,
        description="Set when the entry matched more uploads in an hour than the flood limit: "
        "its matches ask a person instead of acting until it is enabled again.",
    )


class DisableIn(StrictModel):
    until: datetime | None = Field(None, description="Empty: until enabled again.")


@router.get("", dependencies=READ)
def list_banks(request: Request, uow: ReadUoW) -> list[BankRead]:
    return [BankRead.of(b) for b in banks.list_banks(uow=uow, actor=principal_of(request))]


@router.post("", status_code=status.HTTP_201_CREATED, dependencies=MANAGE)
def create_bank(request: Request, bank_in: BankCreate, uow: UoW, c: C) -> BankRead:
    return BankRead.of(
        banks.create_bank(
            uow=uow,
            matcher=c.matcher,
            actor=principal_of(request),
            name=bank_in.name,
            policy=bank_in.policy,
            description=bank_in.description,
            pdq_threshold=bank_in.pdq_threshold,
            enabled=bank_in.enabled,
        )
    )


@router.get("/{name}", dependencies=READ)
def get_bank(request: Request, name: BankName, uow: ReadUoW) -> BankRead:
    return BankRead.of(banks.get_bank(uow=uow, actor=principal_of(request), name=name))


@router.patch("/{name}", dependencies=MANAGE)
def update_bank(request: Request, name: BankName, bank_in: BankUpdate, uow: UoW, c: C) -> BankRead:
    return BankRead.of(
        banks.update_bank(
            uow=uow,
            matcher=c.matcher,
            actor=principal_of(request),
            name=name,
            policy=bank_in.policy,
            description=bank_in.description,
            pdq_threshold=bank_in.pdq_threshold,
            enabled=bank_in.enabled,
        )
    )


@router.get("/{name}/entries", dependencies=READ)
def list_entries(
    request: Request,
    name: BankName,
    uow: ReadUoW,
    after_id: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[EntryRead]:
    """Oldest first. Page with ``after_id`` set to the last ``id`` you got."""
    entries = banks.list_entries(
        uow=uow, actor=principal_of(request), bank_name=name, after_id=after_id, limit=limit
    )
    return [EntryRead.of(e) for e in entries]


@router.post("/{name}/entries", dependencies=MANAGE)
def add_entries(
    request: Request, name: BankName, entries_in: EntriesCreate, uow: UoW, c: C
) -> EntriesAdded:
    """Add up to 10,000 hashes. They count at the next scan. Bad lines are listed by position
    and skipped; hashes the bank holds already count as duplicates."""
    result = banks.add_entries(
        uow=uow,
        matcher=c.matcher,
        actor=principal_of(request),
        bank_name=name,
        items=[banks.EntryIn(e.signal_type, e.value, e.source, e.note) for e in entries_in.entries],
    )
    return EntriesAdded(
        added=result.added,
        duplicates=result.duplicates,
        invalid=[InvalidLine(position=p, problem=r) for p, r in result.invalid],
        entry_ids=[e.id for e in result.entries],
    )


@router.post("/{name}/entries/{entry_id}/disable", dependencies=MANAGE)
def disable_entry(
    request: Request, name: BankName, entry_id: EntryId, disable_in: DisableIn, uow: UoW, c: C
) -> EntryRead:
    return EntryRead.of(
        banks.set_entry_disabled(
            uow=uow,
            matcher=c.matcher,
            actor=principal_of(request),
            bank_name=name,
            entry_id=entry_id,
            disabled=True,
            until=disable_in.until,
        )
    )


@router.post("/{name}/entries/{entry_id}/enable", dependencies=MANAGE)
def enable_entry(request: Request, name: BankName, entry_id: EntryId, uow: UoW, c: C) -> EntryRead:
    return EntryRead.of(
        banks.set_entry_disabled(
            uow=uow,
            matcher=c.matcher,
            actor=principal_of(request),
            bank_name=name,
            entry_id=entry_id,
            disabled=False,
        )
    )


@router.delete(
    "/{name}/entries/{entry_id}", status_code=status.HTTP_204_NO_CONTENT, dependencies=MANAGE
)
def delete_entry(request: Request, name: BankName, entry_id: EntryId, uow: UoW, c: C) -> None:
    banks.delete_entry(
        uow=uow, matcher=c.matcher, actor=principal_of(request), bank_name=name, entry_id=entry_id
    )
