"""The public pages: the report form at ``/report`` (no login, no JavaScript needed) and the
reporter's private status page at ``/status/{token}`` with replies and appeals.

No session exists on these pages, so there is no CSRF token: a forged cross-site post could
only file a report (which the rate limit bounds), and a reply needs the secret status link.
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from takedown.cases import NCII_REQUIREMENTS, Category, ReporterRole, RoleNotAllowed
from takedown.server.container import Container, container_of
from takedown.server.security import Access
from takedown.services import ratelimits, reports
from takedown.services.errors import Conflict, InvalidInput, NotFound
from takedown.services.ratelimits import RateLimit
from takedown.web.pages import in_minutes, render

router = APIRouter(include_in_schema=False)
PUBLIC = [Depends(Access.public(html=True))]
Token = Annotated[str, Path(min_length=1, max_length=64)]

CATEGORIES = [
    (Category.csam.value, "Sexual images or video of a child (child sexual abuse material)"),
    (Category.ncii.value, "An intimate image of someone shared without their consent"),
    (Category.other_illegal.value, "Something else that is against the law"),
    (Category.policy.value, "Something against this platform's rules"),
]
ROLES = [
    (ReporterRole.depicted_person.value, "I am the person shown"),
    (ReporterRole.parent_guardian.value, "I am the parent or guardian of the person shown"),
    (ReporterRole.user.value, "Someone else who saw it"),
]
FIELDS = (
    "content_url",
    "content_id",
    "category",
    "reporter_role",
    "depicted_minor",
    "description",
    "police_agency",
    "police_case_number",
    "contact_name",
    "contact_email",
    "signature",
    "good_faith_statement",
    "idempotency_key",
)
FIELD_NAMES = {
    "content_id": "Where is it",
    "content_url": "Link to the content",
    "contact_email": "Your e-mail address",
    "police_agency": "Police force or agency",
    "police_case_number": "Case or crime reference number",
    "description": "What should we know",
    "signature": "Your full name",
    "category": "What is it",
    "reporter_role": "Who are you",
    "form": "The form",
}


def _container(request: Request) -> Container:
    c = container_of(request)
    assert isinstance(c, Container)
    return c


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def report_form(
    request: Request,
    *,
    form: dict[str, str] | None = None,
    problems: list[dict[str, str]] | None = None,
    status: int = 200,
) -> HTMLResponse:
    form = form or {}
    key = reports.checked_form_key(_container(request).status_key, form.get("idempotency_key"))
    response = render(
        request,
        "report.html",
        {
            "form": form,
            "problems": problems or [],
            "categories": CATEGORIES,
            "roles": ROLES,
            "idempotency_key": key or reports.form_key(_container(request).status_key),
        },
        status=status,
    )
    # The form carries its idempotency key: a shared cache must never hand it to another.
    response.headers["Cache-Control"] = "no-store"
    return response


async def _refused(c: Container, rule: RateLimit, who: str) -> int | None:
    """Seconds to wait when ``who`` is over ``rule``, else None (reads the shared counts)."""
    found = await asyncio.to_thread(
        ratelimits.check, c.uow(readonly=True), rule, who, now=c.clock.time()
    )
    return None if found.allowed else found.retry_after


def _too_many(request: Request, retry_after: int) -> Response:
    response = render(
        request,
        "error.html",
        {
            "status": 429,
            "title": "Please wait a little",
            "message": "We have received many reports from your connection in a short time. "
            f"Please try again in {in_minutes(retry_after)}. "
            "If a child is in danger right now, call your local emergency number.",
            "back_url": "/report",
            "back_text": "Back to the report form",
        },
        status=429,
    )
    response.headers["Retry-After"] = str(retry_after)
    return response


@router.get("/report", dependencies=PUBLIC)
def report_page(request: Request) -> HTMLResponse:
    return report_form(request)


@router.post("/report", dependencies=PUBLIC)
async def report_submit(request: Request) -> Response:
    c = _container(request)
    ctx = await c.intake_async()  # also loads the status-link key the form's keys need
    who = reports.anonymous_reporter(ctx.status_key, _client(request))
    wait = await _refused(c, c.report_page_limit, who)
    if wait is not None:
        return _too_many(request, wait)
    raw = await request.form()
    form = {name: str(raw.get(name) or "")[:6000] for name in FIELDS}
    problems = []
    category = role = None
    try:
        category = Category(form["category"])
    except ValueError:
        problems.append({"field": "category", "text": "Choose what the content is."})
    try:
        role = ReporterRole(form["reporter_role"])
    except ValueError:
        problems.append({"field": "reporter_role", "text": "Choose who you are."})
    if problems or category is None or role is None:
        return report_form(request, form=form, problems=problems, status=422)
    minor = {"yes": True, "no": False}.get(form["depicted_minor"])
    attempt = ratelimits.Attempt(c.report_page_limit, who, c.clock.time())
    try:
        receipt = await reports.file_report(
            c,
            actor=None,
            anonymous_reporter=who,
            report_in=reports.ReportCreate(
                category=category,
                reporter_role=role,
                content_id=form["content_id"] or None,
                content_url=form["content_url"] or None,
                depicted_minor=minor,
                police_agency=form["police_agency"] or None,
                police_case_number=form["police_case_number"] or None,
                contact_name=form["contact_name"] or None,
                contact_email=form["contact_email"] or None,
                signature=form["signature"] or None,
                good_faith_statement=form["good_faith_statement"] == "yes",
                description=form["description"],
                idempotency_key=reports.checked_form_key(ctx.status_key, form["idempotency_key"]),
            ),
            attempt=attempt,
        )
    except (InvalidInput, RoleNotAllowed) as exc:
        field = getattr(exc, "field", None) or "reporter_role"
        if field == "content_id":
            field = "content_url"
        label = FIELD_NAMES.get(field, field)
        problems = [{"field": field, "text": f"{label}: {exc}"}]
        return report_form(request, form=form, problems=problems, status=422)
    response = render(
        request,
        "report_received.html",
        {
            "receipt": receipt,
            "status_url": c.status_url(receipt.status_token),
            "next_step": reports.next_step(
                status=receipt.case_status,
                respond_by=receipt.respond_by,
                remove_by=receipt.remove_by,
            ),
            "missing": [NCII_REQUIREMENTS[m] for m in receipt.missing_for_valid or []],
        },
        status=201,
    )
    # The page holds the private status link: never keep it in a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _status_page(
    request: Request,
    token: str,
    *,
    error: str | None = None,
    status: int = 200,
    draft: str = "",
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    c = _container(request)
    try:
        view = reports.status(uow=c.uow(readonly=True), token=token, now=c.clock.now())
    except NotFound:
        response = render(
            request,
            "error.html",
            {
                "status": 404,
                "title": "We could not find this report",
                "message": "Check that you copied the whole status link.",
                "back_url": "/report",
                "back_text": "Make a new report",
            },
            status=404,
        )
    else:
        response = render(
            request,
            "status.html",
            {
                "view": view,
                "token": token,
                "error": error,
                "draft": draft,
                "categories": dict(CATEGORIES),
            },
            status=status,
        )
    # The link is the reporter's secret: never cached, never sent on as a referrer.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.update(headers or {})
    return response


@router.get("/status/{token}", dependencies=PUBLIC)
def status_page(request: Request, token: Token) -> HTMLResponse:
    return _status_page(request, token)


@router.post("/status/{token}/reply", dependencies=PUBLIC)
async def status_reply(request: Request, token: Token) -> Response:
    """A reply or appeal. Refused ones (over the link's own limit, empty, an appeal before a
    decision) show the page again with the text as typed, so nothing written is lost."""
    c = _container(request)
    raw = await request.form()
    body = str(raw.get("message") or "")[:6000]
    appeal = raw.get("kind") == "appeal"
    who = reports.status_digest(token)
    wait = await _refused(c, c.status_reply_limit, who)
    if wait is not None:
        return await asyncio.to_thread(
            _status_page,
            request,
            token,
            error="You have sent many messages in a short time. Your message is kept below: "
            f"please send it again in {in_minutes(wait)}.",
            status=429,
            draft=body,
            headers={"Retry-After": str(wait)},
        )
    attempt = ratelimits.Attempt(c.status_reply_limit, who, c.clock.time())
    try:
        await c.run_work(
            partial(
                reports.reply,
                token=token,
                body=body,
                appeal=appeal,
                attempt=attempt,
                now=c.clock.now(),
                policy=c.review_settings.policy,
            )
        )
    except NotFound:
        return await asyncio.to_thread(_status_page, request, token)
    except (InvalidInput, Conflict) as exc:
        return await asyncio.to_thread(
            _status_page, request, token, error=str(exc), status=422, draft=body
        )
    return RedirectResponse(f"/status/{token}#messages", status_code=303)
