"""The platform's upload path: ``/v1/scan``, ``/v1/content``, ``/v1/lookup`` (scope ``scan``)."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, StrictInt, ValidationError
from starlette.datastructures import FormData, UploadFile

from takedown.api.deps import container, uow
from takedown.api.schemas import JSONBytes, StrictModel, model_json
from takedown.identity import Permission
from takedown.matching import Match
from takedown.media import ImageHashes, ImageLimits, NotMedia
from takedown.server.container import Container, container_of
from takedown.server.errors import ERROR_RESPONSES
from takedown.server.hot_routes import direct
from takedown.server.middleware import MEDIA_ROUTE
from takedown.server.security import Access, checks_access, principal_of
from takedown.services import scanning
from takedown.services.errors import InvalidInput
from takedown.store import UnitOfWork

router = APIRouter(prefix="/v1", tags=["scanning"], responses=ERROR_RESPONSES)
SCAN = [Depends(Access(Permission.scan))]
Hex = Annotated[str | None, Field(None, min_length=1, max_length=128)]


class FrameRead(BaseModel):
    t: float = Field(description="Seconds from the start of the video.")
    pdq: str
    quality: int


class HashesRead(BaseModel):
    pdq: str | None = Field(description="Images: the PDQ hash. Videos: none (see frames).")
    pdq_quality: int | None
    md5: str
    sha256: str
    frames: list[FrameRead] | None = Field(
        None, description="Videos: the PDQ of about one frame a second."
    )
    truncated: bool = Field(
        False,
        description="Images: the file ended early; what was there was decoded (the rest "
        "filled in, as a browser shows it), hashed and matched.",
    )


class MatchRead(BaseModel):
    bank: str
    signal_type: str
    entry_id: int
    distance: int

    @classmethod
    def of(cls, m: Match) -> MatchRead:
        return cls(
            bank=m.bank, signal_type=m.signal_type.value, entry_id=m.entry_id, distance=m.distance
        )


class ScanRead(BaseModel):
    content_id: str
    kind: str = Field(description="image or video")
    hashes: HashesRead
    matches: list[MatchRead]
    verdict: str = Field(description="allow, review or block")
    frames_matched: dict[str, int] | None = Field(
        None, description="Videos: how many sampled frames matched, per bank."
    )


class LookupCreate(StrictModel):
    pdq: Hex = None
    md5: Hex = None
    sha256: Hex = None
    pdq_quality: StrictInt | None = Field(None, ge=0, le=100)


class LookupRead(BaseModel):
    matches: list[MatchRead]
    verdict: str


class ContentCreate(StrictModel):
    content_id: str = Field(min_length=1, max_length=256)
    account_id: str = Field(min_length=1, max_length=256)
    parent_content_id: str | None = Field(None, min_length=1, max_length=256)
    pdq: Hex = None
    md5: Hex = None
    sha256: Hex = None


class ContentRead(BaseModel):
    content_id: str
    account_id: str
    parent_content_id: str | None


class ScanForm(BaseModel):
    """The fields of ``POST /v1/scan``'s multipart form besides ``media`` (other fields are
    ignored, as FastAPI would)."""

    content_id: str = Field(min_length=1, max_length=256)
    account_id: str = Field(min_length=1, max_length=256)
    parent_content_id: str | None = Field(None, max_length=256)


SCAN_FORM_DOC = {
    **MEDIA_ROUTE,
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["media", "content_id", "account_id"],
                    "properties": {
                        "media": {
                            "type": "string",
                            "format": "binary",
                            "description": "The uploaded image or video.",
                        },
                        **ScanForm.model_json_schema()["properties"],
                    },
                }
            }
        },
    },
}


@router.post("/scan", response_model=ScanRead, openapi_extra=SCAN_FORM_DOC)
@direct
@checks_access(Access(Permission.scan))
async def scan(request: Request) -> Response:
    """Hash an upload (image or video), match it against every enabled bank, record it.

    Videos are hashed as one PDQ about every second; a video matches a bank by exact file hash
    or when at least half of its frames match the bank's PDQ entries.

    ``verdict``: ``block`` when a bank with policy ``block`` or ``block_and_report`` matched
    (PDQ matches on weak hashes, quality < 50, only ask for ``review``), ``review`` when a
    ``review`` bank matched, else ``allow``.
    """
    # A direct route (``server.hot_routes``): it reads its form itself, with the errors
    # FastAPI gives (each location under ``body``).
    async with request.form() as form:  # closes the upload's file at the end
        return await _scan_form(request, form)


async def _scan_form(request: Request, form: FormData) -> Response:
    errors: list[Any] = []
    fields = None
    try:
        fields = ScanForm.model_validate({k: v for k, v in form.items() if isinstance(v, str)})
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
    media = form.get("media")
    if not isinstance(media, UploadFile):
        errors.insert(
            0, {"type": "missing", "loc": ("body", "media"), "msg": "Field required", "input": None}
        )
    if fields is None or not isinstance(media, UploadFile):
        raise RequestValidationError(errors)
    c: Container = container_of(request)
    result = await _scan(
        request,
        c,
        await media.read(),
        fields.content_id,
        fields.account_id,
        fields.parent_content_id,
    )
    return JSONBytes(model_json(result))


MEDIA_TYPES = ("image/", "video/", "application/octet-stream")
RAW_UPLOAD = {
    **MEDIA_ROUTE,
    "requestBody": {
        "required": True,
        "content": {
            t: {"schema": {"type": "string", "format": "binary"}}
            for t in ("image/jpeg", "image/png", "video/mp4", "application/octet-stream")
        },
    },
}


@router.post("/content/{content_id}/scan", dependencies=SCAN, openapi_extra=RAW_UPLOAD)
async def scan_raw(
    request: Request,
    c: Annotated[Container, Depends(container)],
    content_id: Annotated[str, Path(min_length=1, max_length=256)],
    account_id: Annotated[str, Query(min_length=1, max_length=256)],
    parent_content_id: Annotated[str | None, Query(max_length=256)] = None,
) -> ScanRead:
    """The same as ``POST /v1/scan``, with the media as the request body itself (any
    ``image/*`` or ``video/*`` type, or ``application/octet-stream``) and the ids in the path
    and query. No multipart body to build: the simpler way for an upload
    pipeline that already holds the bytes."""
    content_type = request.headers.get("content-type", "application/octet-stream")
    if not content_type.startswith(MEDIA_TYPES):
        raise InvalidInput(
            "send the media as the body, with an image/*, video/* or "
            "application/octet-stream Content-Type",
            field="media",
        )
    return await _scan(request, c, await request.body(), content_id, account_id, parent_content_id)


async def _scan(
    request: Request,
    c: Container,
    data: bytes,
    content_id: str,
    account_id: str,
    parent_content_id: str | None,
) -> ScanRead:
    limits = ImageLimits(max_bytes=c.settings.max_media_bytes)
    # Hashing is the work: on the hashing threads (one per core, off the event loop), or, in
    # a process on one core, on the loop itself for uploads up to ``hash_inline_bytes``. The
    # registry row and any match's audit entry and event are committed with other requests'
    # by the writer.
    analyse = partial(
        scanning.analyse_media,
        matcher=c.matcher,
        actor=principal_of(request),
        data=data,
        content_id=content_id,
        account_id=account_id,
        parent_content_id=parent_content_id,
        limits=limits,
    )
    image = partial(analyse, kind="image")
    try:
        if len(data) <= c.hash_inline_bytes:
            analysed = image()
        else:
            analysed = await asyncio.get_running_loop().run_in_executor(c.media_pool, image)
    except NotMedia:
        # Not an image: a video, on threads of its own (an image never waits behind one).
        analysed = await c.hash_video(partial(analyse, kind="video"))
    intake = await c.intake_async() if analysed.result.matches else None
    result = await c.run_work(partial(scanning.record_scan, scan=analysed, intake=intake))
    h = result.hashes
    if isinstance(h, ImageHashes):
        hashes = HashesRead(
            pdq=h.pdq.hex,
            pdq_quality=h.pdq.quality,
            md5=h.md5,
            sha256=h.sha256,
            truncated=h.truncated,
        )
    else:
        frames = [FrameRead(t=f.timestamp, pdq=f.pdq.hex, quality=f.pdq.quality) for f in h.frames]
        hashes = HashesRead(pdq=None, pdq_quality=None, md5=h.md5, sha256=h.sha256, frames=frames)
    return ScanRead(
        content_id=result.content_id,
        kind="image" if isinstance(h, ImageHashes) else "video",
        hashes=hashes,
        matches=[MatchRead.of(m) for m in result.matches],
        verdict=result.verdict.value,
        frames_matched=result.frames_matched,
    )


@router.post("/lookup", dependencies=SCAN)
def lookup(
    request: Request, lookup_in: LookupCreate, c: Annotated[Container, Depends(container)]
) -> LookupRead:
    """Match hashes you computed yourself; nothing is recorded."""
    hashes = scanning.parse_hashes(
        {"pdq": lookup_in.pdq, "md5": lookup_in.md5, "sha256": lookup_in.sha256}
    )
    result = scanning.lookup(
        matcher=c.matcher,
        actor=principal_of(request),
        hashes=hashes,
        pdq_quality=lookup_in.pdq_quality,
    )
    return LookupRead(
        matches=[MatchRead.of(m) for m in result.matches], verdict=result.verdict.value
    )


@router.post("/content", status_code=status.HTTP_201_CREATED, dependencies=SCAN)
def register_content(
    request: Request,
    content_in: ContentCreate,
    uow: Annotated[UnitOfWork, Depends(uow)],
) -> ContentRead:
    """Register an item without media: a repost or quote that carries its parent's media."""
    hashes = scanning.parse_hashes(
        {"pdq": content_in.pdq, "md5": content_in.md5, "sha256": content_in.sha256}
    )
    scanning.register_content(
        uow=uow,
        actor=principal_of(request),
        content_id=content_in.content_id,
        account_id=content_in.account_id,
        parent_content_id=content_in.parent_content_id,
        hashes=hashes,
    )
    return ContentRead(
        content_id=content_in.content_id,
        account_id=content_in.account_id,
        parent_content_id=content_in.parent_content_id,
    )
