"""Linking and merging cases (``services.case_links``): two cases that are one thing, such
as the same content under two ids or a report by link and the content it points to."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request, status
from pydantic import BaseModel, Field

from takedown.api.review import READ, REVIEW, CaseId, ReadUoW, UoW
from takedown.api.schemas import StrictModel
from takedown.cases import case_number
from takedown.cases.records import CaseLink
from takedown.server.container import container_of
from takedown.server.errors import ERROR_RESPONSES
from takedown.server.security import principal_of
from takedown.services import case_links

router = APIRouter(prefix="/v1", tags=["review"], responses=ERROR_RESPONSES)


class CaseLinkRead(BaseModel):
    case_number: str
    case_id: int
    kind: Literal["related", "merged_into", "merged_from"] = Field(
        description="`merged_into`: this case was merged into that one; `merged_from`: that "
        "one was merged into this."
    )
    note: str
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, link: CaseLink) -> CaseLinkRead:
        return cls(
            case_number=case_number(link.case_id),
            case_id=link.case_id,
            kind=link.kind,
            note=link.note,
            created_by=link.created_by,
            created_at=link.created_at,
        )


class CaseLinksRead(BaseModel):
    items: list[CaseLinkRead]


class CaseLinkCreate(StrictModel):
    case: str = Field(min_length=1, max_length=32, examples=["TD-0000042"])
    note: str = Field("", max_length=2000)


class CaseMergeCreate(StrictModel):
    into: str = Field(
        min_length=1,
        max_length=32,
        description="The case this one joins (its number or id).",
        examples=["TD-0000042"],
    )
    note: str = Field("", max_length=2000)


class CaseMergeRead(BaseModel):
    case_number: str = Field(description="The kept case: every report of both is on it now.")
    case_id: int
    state: str
    priority: str
    respond_by: datetime
    remove_by: datetime | None


@router.get("/cases/{case_id}/links", dependencies=READ)
def read_links(case_id: CaseId, request: Request, uow: ReadUoW) -> CaseLinksRead:
    """The cases linked to this one, or merged with it. A case about a minor is left out
    without the child-safety permission."""
    found = case_links.links(uow=uow, actor=principal_of(request), case_id=case_id)
    return CaseLinksRead(items=[CaseLinkRead.of(link) for link in found])


@router.post("/cases/{case_id}/links", status_code=status.HTTP_201_CREATED, dependencies=REVIEW)
def link_case(case_id: CaseId, link_in: CaseLinkCreate, request: Request, uow: UoW) -> CaseLinkRead:
    """Link this case with another (a note on both; nothing else changes)."""
    made = case_links.link(
        uow=uow,
        actor=principal_of(request),
        case_id=case_id,
        other=link_in.case,
        note=link_in.note,
        now=container_of(request).clock.now(),
    )
    return CaseLinkRead.of(made)


@router.post("/cases/{case_id}/merge", dependencies=REVIEW)
def merge_case(
    case_id: CaseId, merge_in: CaseMergeCreate, request: Request, uow: UoW
) -> CaseMergeRead:
    """Merge this case into `into`: its reports (and their reporters' status links), items,
    messages and actions move there; the kept case's clocks are the earlier of the two and
    its priority the higher. Only an undecided case is merged away; 409 `not_decidable` says
    why not, `claim_held` while someone else holds it."""
    c = container_of(request)
    kept = case_links.merge(
        uow=uow,
        actor=principal_of(request),
        case_id=case_id,
        into=merge_in.into,
        note=merge_in.note,
        now=c.clock.now(),
        policy=c.triage_policy,
    )
    return CaseMergeRead(
        case_number=kept.number,
        case_id=kept.id,
        state=str(kept.status),
        priority=str(kept.priority),
        respond_by=kept.respond_by,
        remove_by=kept.remove_by,
    )
