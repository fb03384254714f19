"""The review console: the queue, the case page and its actions, media renditions and
reveals, the lead's page and quality samples.

Media: pages carry only ``/console/cases/{id}/items/{n}/blurred/{k}.jpg`` renditions, made on
the server (``services.review_media``). The original of one item is sent only to the session
that revealed it, at ``/console/revealed/{token}``, for a short while; nothing else here
sends a platform's bytes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from html import escape
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from takedown.cases import CaseStatus, Category, Outcome, Priority
from takedown.cases.records import CaseSearch, QueueFilter
from takedown.identity import Permission, Principal
from takedown.media import MediaError
from takedown.server.container import Container, container_of
from takedown.server.security import Access, principal_of
from takedown.services import (
    accounts,
    bulk,
    case_links,
    evidence,
    exchanges,
    review,
    review_media,
    transparency,
)
from takedown.services.errors import Busy, Conflict, InvalidInput, NotFound, ServiceError
from takedown.web.pages import exposure_today, render

router = APIRouter(include_in_schema=False)
READ = [Depends(Access(Permission.cases_read, html=True))]
REVIEW = [Depends(Access(Permission.cases_review, html=True))]
LEAD = [Depends(Access(Permission.cases_lead, html=True))]
CaseId = Annotated[int, Path(ge=1, le=2**62)]
ItemNo = Annotated[int, Path(ge=0, le=10_000)]
NO_STORE = {"Cache-Control": "no-store, private", "X-Content-Type-Options": "nosniff"}


def time_left(deadline: datetime, now: datetime) -> str:
    """A deadline for a person: "in 2 h 5 min", "overdue by 12 min"."""
    seconds = int((deadline - now).total_seconds())
    words = _span(abs(seconds))
    return f"in {words}" if seconds > 0 else f"overdue by {words}"


def _span(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = max(1, rest // 60) if not (days or hours) else rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


def _context(request: Request, c: Container, **values: Any) -> dict[str, Any]:
    """What every review page shows: the reviewer's exposure today and its cap."""
    actor = principal_of(request)
    now = c.clock.now()
    return {
        "now": now,
        "time_left": time_left,
        "exposure_today": exposure_today(request, actor.subject_id) if actor.subject_id else None,
        "exposure_cap": c.settings.review_daily_reveal_cap,
        "Outcome": Outcome,
        "Category": Category,
        "Priority": Priority,
        **values,
    }


E = TypeVar("E", bound=StrEnum)
# A filter form's select sends "" for "any": read as no filter, not as a wrong value.
Choice = Annotated[str | None, Query(max_length=32)]


def _choice(kind: type[E], value: str | None, field: str) -> E | None:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise InvalidInput(f"not a {field}: {value[:32]!r}", field=field) from None


def _page_query(**values: str | bool | None) -> dict[str, str]:
    """A filter form's values as the next page's link carries them: the set ones only."""
    return {k: "true" if v is True else str(v) for k, v in values.items() if v}


@router.get("/console/queue", dependencies=READ)
def queue_page(
    request: Request,
    category: Choice = None,
    priority: Choice = None,
    state: Annotated[str | None, Query(pattern="^(open|pending_second_review|appealed)?$")] = None,
    overdue: bool = False,
    escalated: bool = False,
    after: Annotated[str | None, Query(max_length=80)] = None,
) -> HTMLResponse:
    return _queue_page(request, category, priority, state, overdue, escalated, after)


def _queue_page(
    request: Request,
    category: str | None = None,
    priority: str | None = None,
    state: str | None = None,
    overdue: bool = False,
    escalated: bool = False,
    after: str | None = None,
    *,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    c = container_of(request)
    filters = QueueFilter(
        category=_choice(Category, category, "category"),
        priority=_choice(Priority, priority, "priority"),
        status=CaseStatus(state) if state else None,
        overdue=overdue,
        escalated=escalated,
    )
    page = review.queue(
        uow=c.uow(readonly=True),
        actor=principal_of(request),
        filters=filters,
        now=c.clock.now(),
        after=after,
    )
    query = _page_query(
        category=category, priority=priority, state=state, overdue=overdue, escalated=escalated
    )
    return render(
        request,
        "queue.html",
        _context(
            request,
            c,
            page=page,
            filters=filters,
            query=query,
            lead=principal_of(request).can(Permission.cases_lead),
            notice=notice,
        ),
        status=status,
    )


@router.post("/console/queue/bulk", dependencies=LEAD)
def bulk_action(
    request: Request,
    action: Annotated[bulk.BulkAction, Form()],
    case: Annotated[list[int], Form(max_length=bulk.MAX_CASES)] = [],  # noqa: B006 - FastAPI reads it
    to: Annotated[str, Form(max_length=64)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> HTMLResponse:
    """Assign the chosen cases to one reviewer, or put them on hold (``services.bulk``); the
    queue again, saying what was done and what was refused, and why."""
    c = container_of(request)
    try:
        result = bulk.run(
            uow=c.uow,
            actor=principal_of(request),
            case_ids=case,
            action=action,
            to_user=to,
            reason=reason,
            now=c.clock.now(),
            settings=c.review_settings,
        )
    except InvalidInput as exc:
        return _queue_page(request, notice=str(exc), status=422)
    return _queue_page(request, notice=result.summary(action))


@router.get("/console/search", dependencies=READ)
def search_page(
    request: Request,
    q: Annotated[str | None, Query(max_length=review.MAX_SEARCH)] = None,
    state: Choice = None,
    category: Choice = None,
    priority: Choice = None,
    decided_by: Annotated[str | None, Query(max_length=256)] = None,
    overdue: bool = False,
    after: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    """Every case, open or closed, that a search finds (``review.search``: the API's)."""
    c = container_of(request)
    search = CaseSearch(
        text=q,
        category=_choice(Category, category, "category"),
        priority=_choice(Priority, priority, "priority"),
        status=_choice(CaseStatus, state, "state"),
        decided_by=decided_by or None,
        overdue=overdue,
    )
    page = review.search(
        uow=c.uow(readonly=True),
        actor=principal_of(request),
        query=search,
        now=c.clock.now(),
        after=after,
    )
    query = _page_query(
        q=q,
        state=state,
        category=category,
        priority=priority,
        decided_by=decided_by,
        overdue=overdue,
    )
    return render(
        request,
        "search.html",
        _context(request, c, page=page, search=search, query=query, CaseStatus=CaseStatus),
    )


def _case_page(
    request: Request,
    case_id: int,
    *,
    error: str | None = None,
    status: int = 200,
    reveal: str | None = None,
) -> HTMLResponse:
    c = container_of(request)
    actor = principal_of(request)
    now = c.clock.now()
    view = review.case_view(uow=c.uow(readonly=True), actor=actor, case_id=case_id, now=now)
    revealed = _revealed(c, actor, reveal, view) if reveal else {}
    with c.uow(readonly=True) as uow:
        user = uow.users.get(actor.subject_id) if actor.subject_id else None
    warn = review_media.view_for(c.media_settings, view.case.category, user).warning
    proceed = request.query_params.get("proceed") == "1" or error is not None or bool(revealed)
    if warn and not proceed:
        return render(request, "case_warning.html", _context(request, c, view=view))
    next_case = None
    queued = review.queue(
        uow=c.uow(readonly=True),
        actor=actor,
        filters=QueueFilter(),
        now=now,
        limit=2,
        with_counts=False,
    )
    for entry in queued.entries:
        if entry.case_id != case_id:
            next_case = entry.case_id
            break
    return render(
        request,
        "case.html",
        _context(
            request,
            c,
            view=view,
            error=error,
            revealed=revealed,
            next_case=next_case,
            templates={str(o): review.STATEMENTS[o] for o in Outcome},
            sources=exchanges.match_sources(
                c.uow(readonly=True),
                indexes=c.bank_indexes(),
                content_ids=[item.content_id for item in view.items],
            ),
            lead=actor.can(Permission.cases_lead),
            reviewer=actor.can(Permission.cases_review),
        ),
        status=status,
    )


@router.get("/console/cases/{case_id}", dependencies=READ)
def case_page(
    request: Request, case_id: CaseId, reveal: Annotated[str | None, Query(max_length=400)] = None
) -> HTMLResponse:
    return _case_page(request, case_id, reveal=reveal)


def _revealed(c: Container, actor: Principal, token: str, view: review.CaseView) -> dict[int, str]:
    """Item number → the reveal token that opens it, when ``token`` is this session's for an
    item of this case (an invalid or expired one reveals nothing)."""
    try:
        opened, content_id = review_media.open_token(c.reveal_key, actor, token, now=c.clock.time())
    except NotFound:
        return {}
    if opened != view.case.id:
        return {}
    return {n: token for n, item in enumerate(view.items) if item.content_id == content_id}


def _act(request: Request, case_id: int, action: Any, **kwargs: Any) -> Response:
    """Run a case action; on a refusal show the case page with the reason."""
    c = container_of(request)
    try:
        action(
            uow=c.uow(), actor=principal_of(request), case_id=case_id, now=c.clock.now(), **kwargs
        )
    except (Conflict, InvalidInput) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return _case_page(request, case_id, error=str(exc), status=status)
    return RedirectResponse(f"/console/cases/{case_id}?proceed=1", status_code=303)


@router.post("/console/cases/{case_id}/claim", dependencies=REVIEW)
def claim_case(request: Request, case_id: CaseId) -> Response:
    c = container_of(request)
    if request.headers.get("x-renew") == "1":  # the case page renewing its claim
        try:
            review.claim(
                uow=c.uow(),
                actor=principal_of(request),
                case_id=case_id,
                now=c.clock.now(),
                settings=c.review_settings,
            )
        except Conflict as exc:
            return Response(str(exc), status_code=409, headers=NO_STORE)
        return Response(status_code=204)
    return _act(request, case_id, review.claim, settings=c.review_settings)


@router.post("/console/cases/{case_id}/release", dependencies=REVIEW)
def release_case(request: Request, case_id: CaseId) -> Response:
    return _act(request, case_id, review.release)


@router.post("/console/cases/{case_id}/decide", dependencies=REVIEW)
def decide_case(
    request: Request,
    case_id: CaseId,
    outcome: Annotated[Outcome, Form()],
    reason: Annotated[str, Form(max_length=2000)] = "",
    category: Annotated[str, Form(max_length=32)] = "",
    statement: Annotated[str, Form(max_length=10000)] = "",
    escalate_to: Annotated[str, Form(max_length=32)] = "",
    classification: Annotated[str, Form(max_length=2)] = "",
) -> Response:
    c = container_of(request)
    chosen = Category(category) if category in Category.__members__ else None
    return _act(
        request,
        case_id,
        review.decide,
        decision_in=review.DecisionIn(
            outcome=outcome,
            reason=reason,
            category=chosen,
            statement=statement or None,
            escalate_to=escalate_to or None,
            classification=(classification or None) if chosen is Category.csam else None,
        ),
        settings=c.review_settings,
    )


@router.post("/console/cases/{case_id}/message", dependencies=REVIEW)
def message_case(
    request: Request, case_id: CaseId, body: Annotated[str, Form(max_length=5000)] = ""
) -> Response:
    return _act(request, case_id, review.message_reporters, body=body)


@router.post("/console/cases/{case_id}/hold", dependencies=LEAD)
def hold_case(
    request: Request, case_id: CaseId, reason: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    return _act(request, case_id, review.hold, reason=reason)


@router.post("/console/cases/{case_id}/resume", dependencies=LEAD)
def resume_case(request: Request, case_id: CaseId) -> Response:
    return _act(request, case_id, review.resume)


@router.post("/console/cases/{case_id}/assign", dependencies=LEAD)
def assign_case(
    request: Request, case_id: CaseId, to: Annotated[str, Form(max_length=64)] = ""
) -> Response:
    c = container_of(request)
    return _act(request, case_id, review.assign, to_user=to.strip(), settings=c.review_settings)


@router.post("/console/cases/{case_id}/link", dependencies=REVIEW)
def link_case(
    request: Request,
    case_id: CaseId,
    case: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    return _act(request, case_id, case_links.link, other=case.strip(), note=note)


@router.post("/console/cases/{case_id}/merge", dependencies=REVIEW)
def merge_case(
    request: Request,
    case_id: CaseId,
    into: Annotated[str, Form(max_length=32)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Merge this case into another; the page that follows is the kept case's."""
    c = container_of(request)
    try:
        kept = case_links.merge(
            uow=c.uow(),
            actor=principal_of(request),
            case_id=case_id,
            into=into.strip(),
            note=note,
            now=c.clock.now(),
            policy=c.triage_policy,
        )
    except (Conflict, InvalidInput) as exc:
        status = 409 if isinstance(exc, Conflict) else 422
        return _case_page(request, case_id, error=str(exc), status=status)
    return RedirectResponse(f"/console/cases/{kept.id}?proceed=1", status_code=303)


def _item(
    c: Container, request: Request, case_id: int, item_no: int
) -> tuple[str, review_media.ItemAccess]:
    with c.uow(readonly=True) as uow:
        review_media.visible_case(uow, principal_of(request), case_id)
        items = uow.cases.items(case_id)
        if item_no >= len(items):
            raise NotFound("no such item on this case")
        content_id = items[item_no].content_id
        access = review_media.check_item(
            uow, principal_of(request), case_id, content_id, c.media_settings
        )
    return content_id, access


@router.get("/console/cases/{case_id}/items/{item_no}/blurred/{frame}.jpg", dependencies=READ)
def blurred_media(request: Request, case_id: CaseId, item_no: ItemNo, frame: ItemNo) -> Response:
    """A blurred, grayscale rendition of one item (a video: its ``frame``-th key frame)."""
    c = container_of(request)
    content_id, access = _item(c, request, case_id, item_no)
    try:
        shown = c.renditions.get(c.media_settings, content_id, access, now=c.clock.time())
    except (MediaError, ServiceError) as exc:
        return Response(
            _placeholder(str(exc)), media_type="image/svg+xml", status_code=200, headers=NO_STORE
        )
    # A short video has fewer key frames than the page asks for: the last one stands in.
    return Response(shown[min(frame, len(shown) - 1)], media_type="image/jpeg", headers=NO_STORE)


def _placeholder(text: str) -> bytes:
    """An image saying why there is no rendition (the platform no longer has it, …)."""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="512" height="320">'
        '<rect width="100%" height="100%" fill="#e9ecef"/>'
        '<text x="50%" y="50%" text-anchor="middle" font-family="sans-serif" font-size="15">'
        f"{escape(text[:90])}</text></svg>"
    ).encode()


@router.post("/console/cases/{case_id}/items/{item_no}/reveal", dependencies=READ)
def reveal_media(request: Request, case_id: CaseId, item_no: ItemNo) -> Response:
    c = container_of(request)
    content_id, _ = _item(c, request, case_id, item_no)
    try:
        token = review_media.reveal(
            uow=c.uow(),
            actor=principal_of(request),
            case_id=case_id,
            content_id=content_id,
            now=c.clock.now(),
            settings=c.media_settings,
            key=c.reveal_key,
        )
    except review_media.CapReached as exc:
        return _case_page(request, case_id, error=str(exc), status=409)
    return RedirectResponse(
        f"/console/cases/{case_id}?reveal={token}#item-{item_no}", status_code=303
    )


@router.get("/console/revealed/{token}", dependencies=READ)
def revealed_media(request: Request, token: Annotated[str, Path(max_length=400)]) -> Response:
    """The original of one revealed item, for the session that revealed it, for a short
    while; sandboxed, never cached."""
    c = container_of(request)
    actor = principal_of(request)
    case_id, content_id = review_media.open_token(c.reveal_key, actor, token, now=c.clock.time())
    with c.uow(readonly=True) as uow:
        kind = review_media.check_item(uow, actor, case_id, content_id, c.media_settings).media_kind
    try:
        data, _ = review_media.fetch(c.media_settings, content_id, now=c.clock.time())
    except Busy as exc:
        return Response(str(exc), status_code=503, headers=NO_STORE)
    mime = review_media.original_type(data, kind)
    headers = {**NO_STORE, "Content-Security-Policy": "sandbox", "Content-Disposition": "inline"}
    return Response(data, media_type=mime, headers=headers)


# A reviewer's own view of media.


@router.get("/console/me/view", dependencies=READ)
def my_view_page(request: Request, saved: bool = False) -> HTMLResponse:
    return _my_view(request, saved=saved)


def _my_view(
    request: Request, *, error: str | None = None, saved: bool = False, status: int = 200
) -> HTMLResponse:
    c = container_of(request)
    actor = principal_of(request)
    with c.uow(readonly=True) as uow:
        user = uow.users.get(actor.subject_id) if actor.subject_id else None
    settings = c.media_settings
    views = {category: review_media.view_for(settings, category, user) for category in Category}
    return render(
        request,
        "my_view.html",
        _context(request, c, user=user, views=views, error=error, saved=saved),
        status=status,
    )


@router.post("/console/me/view", dependencies=READ)
def my_view_save(
    request: Request,
    blur_radius: Annotated[str, Form(max_length=4)] = "",
    always_grayscale: Annotated[str, Form(max_length=5)] = "",
    always_warn: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    c = container_of(request)
    radius = blur_radius.strip()
    try:
        accounts.set_review_view(
            uow=c.uow(),
            actor=principal_of(request),
            blur_radius=int(radius) if radius.isdigit() else None,
            always_grayscale=always_grayscale == "1",
            always_warn=always_warn == "1",
        )
    except InvalidInput as exc:
        return _my_view(request, error=exc.message, status=422)
    return RedirectResponse("/console/me/view?saved=true", status_code=303)


# The lead's page.


@router.get("/console/lead", dependencies=LEAD)
def lead_page(request: Request) -> HTMLResponse:
    return _lead_page(request)


def _lead_page(request: Request, *, error: str | None = None, status: int = 200) -> HTMLResponse:
    c = container_of(request)
    actor = principal_of(request)
    now = c.clock.now()
    overview = review.lead_overview(uow=c.uow(readonly=True), actor=actor, now=now)
    with c.uow(readonly=True) as uow:
        team = [u for u in uow.users.list() if u.active]
    # The clocks of the last day and week, for a lead who may read figures.
    clocks = {}
    if actor.can(Permission.transparency_read):
        for name, days in (("the last day", 1), ("the last week", 7)):
            clocks[name] = transparency.report(
                uow=c.uow(readonly=True), actor=actor, start=now - timedelta(days=days), end=now
            )
    return render(
        request,
        "lead.html",
        _context(request, c, overview=overview, team=team, error=error, clocks=clocks),
        status=status,
    )


@router.post("/console/lead/users/{user_id}/child-safety", dependencies=LEAD)
def lead_child_safety(
    request: Request, user_id: CaseId, granted: Annotated[str, Form(max_length=5)] = ""
) -> Response:
    c = container_of(request)
    accounts.set_child_safety(
        uow=c.uow(), actor=principal_of(request), user_id=user_id, granted=granted == "1"
    )
    return RedirectResponse("/console/lead#team", status_code=303)


@router.post("/console/lead/users/{user_id}/cap", dependencies=LEAD)
def lead_reveal_cap(
    request: Request, user_id: CaseId, cap: Annotated[str, Form(max_length=6)] = ""
) -> Response:
    c = container_of(request)
    value = int(cap) if cap.strip().isdigit() else None
    try:
        accounts.set_reveal_cap(
            uow=c.uow(), actor=principal_of(request), user_id=user_id, cap=value
        )
    except InvalidInput as exc:
        return _lead_page(request, error=exc.message, status=422)
    return RedirectResponse("/console/lead#team", status_code=303)


# Quality samples.


@router.get("/console/qa", dependencies=REVIEW)
def qa_page(request: Request) -> HTMLResponse:
    c = container_of(request)
    samples = review.open_samples(uow=c.uow(readonly=True), actor=principal_of(request))
    return render(request, "qa.html", _context(request, c, samples=samples))


@router.post("/console/qa/{sample_id}", dependencies=REVIEW)
def qa_record(
    request: Request,
    sample_id: CaseId,
    agrees: Annotated[str, Form(max_length=5)],
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    c = container_of(request)
    review.record_sample(
        uow=c.uow(),
        actor=principal_of(request),
        sample_id=sample_id,
        agrees=agrees == "1",
        note=note,
        now=c.clock.now(),
    )
    return RedirectResponse("/console/qa", status_code=303)


# A case's preserved evidence (compliance and child-safety leads).

EVIDENCE = [Depends(Access(Permission.evidence_read, html=True))]


@router.get("/console/cases/{case_id}/evidence", dependencies=EVIDENCE)
def evidence_page(request: Request, case_id: CaseId) -> HTMLResponse:
    c = container_of(request)
    items = evidence.list_items(
        uow=c.uow(readonly=True), actor=principal_of(request), case_id=case_id
    )
    return render(
        request,
        "evidence.html",
        _context(request, c, case_id=case_id, items=items, vault=c.vault is not None),
    )


@router.post("/console/cases/{case_id}/evidence/{item_id}", dependencies=EVIDENCE)
def evidence_item(
    request: Request,
    case_id: CaseId,
    item_id: CaseId,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """One item's bytes, for the reason given (audited); refused without one. A POST with the
    session's CSRF token: a link on another site cannot open evidence under a compliance
    officer's name, and the reason stays out of the browser's history and the access log."""
    c = container_of(request)
    if not reason.strip() or c.vault is None:
        return render(
            request,
            "error.html",
            {
                "status": 400,
                "title": "Say why you open this evidence",
                "message": "Opening preserved evidence needs a reason, which is kept in the "
                "audit log."
                if c.vault
                else "No evidence key is set.",
                "back_url": f"/console/cases/{case_id}/evidence",
                "back_text": "Back to the evidence",
            },
            status=400,
        )
    record, data = evidence.open_item(
        uow=c.uow(),
        actor=principal_of(request),
        case_id=case_id,
        item_id=item_id,
        reason=reason,
        vault=c.vault,
        now=c.clock.now(),
    )
    headers = {**NO_STORE, "Content-Security-Policy": "sandbox"}
    return Response(data, media_type=record.media_type, headers=headers)
