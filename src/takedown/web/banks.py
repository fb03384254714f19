"""The banks page: hash banks with their entry counts, created and configured; hash lists
imported from a file (with an upload progress bar); the exchanges that keep banks in step,
their sync status and errors, added and synced on request; entries the flood guard
quarantined, enabled again. Whoever may read banks sees it; changes need ``banks:manage``."""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from takedown.flows import EXCHANGES
from takedown.identity import Permission
from takedown.matching import BankPolicy
from takedown.matching.exchanges import ExchangeKind
from takedown.matching.hash_files import parse_hash_list
from takedown.server.container import container_of
from takedown.server.security import Access, principal_of, request_state
from takedown.services import banks, exchanges
from takedown.services.errors import Conflict, NotFound, ServiceError
from takedown.web.pages import render

router = APIRouter(include_in_schema=False)
READ = [Depends(Access(Permission.banks_read, html=True))]
MANAGE = [Depends(Access(Permission.banks_manage, html=True))]
Name = Annotated[str, Path(min_length=1, max_length=64)]
MAX_IMPORT_BYTES = 256 << 20
IMPORT_CHUNK = 10_000


def _page(request: Request, *, notice: str = "", error: str = "", status: int = 200) -> Response:
    c = container_of(request)
    actor = principal_of(request)
    return render(
        request,
        "banks.html",
        {
            "banks": banks.overview(uow=c.uow(readonly=True), actor=actor),
            "exchanges": exchanges.list_exchanges(uow=c.uow(readonly=True), actor=actor),
            "quarantined": banks.quarantined_entries(uow=c.uow(readonly=True), actor=actor),
            "recent": banks.recent_matches(uow=c.uow(readonly=True), actor=actor),
            "policies": list(BankPolicy),
            "kinds": list(ExchangeKind),
            "manage": actor.can(Permission.banks_manage),
            "notice": notice or _carried_notice(request),
            "error": error,
        },
        status=status,
    )


def _signature(request: Request, notice: str) -> str:
    """A MAC of ``notice`` under the session's CSRF token: only this session's own redirect
    makes one, so a link from elsewhere cannot put its words on the page ("call this number",
    "your bank was emptied") in the console's voice. Empty without a session."""
    token = request_state(request).get("csrf_token")
    if not token:
        return ""
    return hmac.new(token.encode(), notice.encode(), "sha256").hexdigest()


def _carried_notice(request: Request) -> str:
    """The notice a change's redirect carried, when its signature is this session's."""
    notice = request.query_params.get("notice", "")
    expected = _signature(request, notice)
    given = request.query_params.get("signature", "")
    return notice[:300] if notice and expected and hmac.compare_digest(expected, given) else ""


def _done(request: Request, notice: str) -> Response:
    query = urlencode({"notice": notice, "signature": _signature(request, notice)})
    return RedirectResponse(f"/console/banks?{query}", status_code=303)


def _refused(request: Request, exc: ServiceError) -> Response:
    status = 404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 422
    return _page(request, error=str(exc), status=status)


def _act(request: Request, use_case: Callable[..., object], notice: str, **kwargs: Any) -> Response:
    """Run ``use_case`` as the person logged in; on a refusal, the page with the reason."""
    try:
        use_case(uow=container_of(request).uow(), actor=principal_of(request), **kwargs)
    except ServiceError as exc:
        return _refused(request, exc)
    return _done(request, notice)


@router.get("/console/banks", dependencies=READ)
def banks_page(request: Request) -> Response:
    return _page(request)


@router.post("/console/banks", dependencies=MANAGE)
def create_bank(
    request: Request,
    name: Annotated[str, Form(max_length=64)],
    policy: Annotated[BankPolicy, Form()],
    threshold: Annotated[int, Form(ge=0, le=banks.MAX_PDQ_THRESHOLD)] = 31,
    description: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _act(
        request,
        banks.create_bank,
        f"Bank {name.strip()} created.",
        matcher=container_of(request).matcher,
        name=name.strip(),
        policy=policy,
        pdq_threshold=threshold,
        description=description,
    )


@router.post("/console/banks/{name}", dependencies=MANAGE)
def update_bank(
    request: Request,
    name: Name,
    policy: Annotated[BankPolicy, Form()],
    threshold: Annotated[int, Form(ge=0, le=banks.MAX_PDQ_THRESHOLD)],
    enabled: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    return _act(
        request,
        banks.update_bank,
        f"Bank {name} saved.",
        matcher=container_of(request).matcher,
        name=name,
        policy=policy,
        pdq_threshold=threshold,
        enabled=enabled == "on",
    )


@router.post("/console/banks/{name}/import", dependencies=MANAGE)
def import_file(request: Request, name: Name, file: UploadFile) -> Response:
    """A hash list (CSV, python-threatexchange's exports, a vPDQ file) into the bank, in
    chunks; the page then says how many were added, were there already, or were not hashes."""
    c = container_of(request)
    data = file.file.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        return _page(request, error="The file is over 256 MB: import it with the CLI.", status=413)
    listed = parse_hash_list(data.decode("utf-8", errors="replace"))
    totals = {"added": 0, "duplicate": 0, "invalid": 0}
    source = (file.filename or "upload")[:128]
    actor = principal_of(request)
    for start in range(0, len(listed), IMPORT_CHUNK):
        part = listed[start : start + IMPORT_CHUNK]
        try:
            result = banks.add_entries(
                uow=c.uow(),
                matcher=c.matcher,
                actor=actor,
                bank_name=name,
                items=[banks.EntryIn(s.signal_type, s.value, source, s.note) for s in part],
            )
        except ServiceError as exc:
            return _refused(request, exc)
        totals["added"] += result.added
        totals["duplicate"] += result.duplicates
        totals["invalid"] += len(result.invalid)
    return _done(
        request,
        f"{source} into {name}: {totals['added']} added, {totals['duplicate']} there already, "
        f"{totals['invalid']} not hashes.",
    )


@router.post("/console/banks/{name}/entries/{entry_id}/enable", dependencies=MANAGE)
def enable_entry(request: Request, name: Name, entry_id: Annotated[int, Path(ge=1)]) -> Response:
    return _act(
        request,
        banks.set_entry_disabled,
        f"Entry {entry_id} of {name} acts again.",
        matcher=container_of(request).matcher,
        bank_name=name,
        entry_id=entry_id,
        disabled=False,
    )


@router.post("/console/exchanges", dependencies=MANAGE)
def add_exchange(
    request: Request,
    name: Annotated[str, Form(max_length=64)],
    kind: Annotated[ExchangeKind, Form()],
    bank: Annotated[str, Form(max_length=64)],
    url: Annotated[str, Form(max_length=2000)],
    credentials: Annotated[str, Form(max_length=20_000)] = "",
    interval: Annotated[int, Form(ge=exchanges.MIN_INTERVAL, le=7 * 86400)] = (
        exchanges.DEFAULT_INTERVAL
    ),
) -> Response:
    c = container_of(request)
    given: dict[str, Any] | None = None
    if credentials.strip():
        try:
            given = json.loads(credentials)
        except ValueError:
            return _page(request, error="The credentials are not JSON.", status=422)
        if not isinstance(given, dict):
            return _page(request, error="The credentials are a JSON object.", status=422)
    answer = _act(
        request,
        exchanges.add_exchange,
        f"Exchange {name.strip()} added; its first sync starts now.",
        vault=c.vault,
        name=name.strip(),
        kind=kind,
        bank=bank,
        url=url,
        credentials=given,
        interval_seconds=interval,
        now=c.clock.now(),
    )
    c.runtime.wake(EXCHANGES)
    return answer


@router.post("/console/exchanges/{name}/sync", dependencies=MANAGE)
def sync_exchange(request: Request, name: Name) -> Response:
    c = container_of(request)
    answer = _act(
        request,
        exchanges.request_sync,
        f"A sync of {name} starts now.",
        name=name,
        now=c.clock.now(),
    )
    c.runtime.wake(EXCHANGES)
    return answer
