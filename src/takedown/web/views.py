"""Console pages: log in and out, the home page, and API key and account management for
admins.

Every form carries the session's CSRF token; the login form, which comes before a session,
uses a double-submit cookie instead.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from pydantic import Field as PydanticField
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from takedown.identity import NotAuthenticated, Permission, Principal, Role, Scope
from takedown.server.container import Container, container_of
from takedown.server.hot_routes import direct
from takedown.server.security import SESSION_COOKIE, Access, checks_access, principal_of
from takedown.services import accounts, actions, keys, notify, parked, review
from takedown.services.errors import Busy, RateLimited, ServiceError
from takedown.store.types import utcnow
from takedown.web.pages import in_minutes, render
from takedown.web.review import time_left

router = APIRouter(include_in_schema=False)
LOGIN_CSRF_COOKIE = "takedown_login_csrf"
DEVICE_COOKIE = "takedown_device"
"""Marks a browser that has logged in to an account: the account-wide lock-out lets it in."""
DEVICE_COOKIE_AGE = int(accounts.DEVICE_TRUST.total_seconds())
CONSOLE = [Depends(Access(Permission.console_view, html=True))]
KEYS = [Depends(Access(Permission.keys_manage, html=True))]
USERS = [Depends(Access(Permission.users_manage, html=True))]
Pk = Annotated[int, Path(ge=1, le=2**62)]  # an id the database can hold


def _safe_next(url: str | None) -> str:
    """Only same-site paths, so the login form cannot be used to redirect elsewhere."""
    if url and url.startswith("/") and not url.startswith("//") and "\\" not in url:
        return url
    return "/console"


# Where a cached login form takes each answer's own token (``login_form``).
_TOKEN_SLOT = "login-csrf-token-slot"


def login_form(
    request: Request, *, next_url: str | None, error: str | None, status: int = 200
) -> HTMLResponse:
    """The login form with a fresh CSRF token (in the form and in a cookie). For someone not
    logged in, going on to the console, it is rendered once per app and message and then
    only given its token: a flood of failed logins shares the core that report intake
    needs (docs/security.md)."""
    token = secrets.token_urlsafe(32)
    target = _safe_next(next_url)
    if getattr(request.state, "principal", None) is None and target == "/console":
        pages: dict[str | None, str] | None = getattr(request.app.state, "login_pages", None)
        if pages is None:
            pages = request.app.state.login_pages = {}
        page = pages.get(error)
        if page is None:
            context = {"login_csrf": _TOKEN_SLOT, "next": target, "error": error}
            page = pages[error] = bytes(render(request, "login.html", context).body).decode()
        response: HTMLResponse = HTMLResponse(
            page.replace(_TOKEN_SLOT, token, 1), status_code=status
        )
    else:
        response = render(
            request, "login.html", {"login_csrf": token, "next": target, "error": error},
            status=status,
        )  # fmt: skip
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=container_of(request).settings.cookie_secure,
        path="/login",
    )
    return response


@router.get("/", dependencies=[Depends(Access.public(html=True))])
def home(request: Request) -> HTMLResponse:
    """The front door: the public comes to report something; staff go on to log in."""
    return render(request, "home.html")


class LoginForm(BaseModel):
    """The login form's fields, with the limits a browser's form has."""

    name: str = PydanticField(max_length=64)
    password: str = PydanticField(max_length=1024)
    csrf_token: str = PydanticField(max_length=128)
    next: str = PydanticField("/console", max_length=2048)


# Both login routes are on the direct lane (``server.hot_routes``): anyone can send them, and
# a flood of failed logins shares the core that report intake needs, so they skip the
# framework's layers as report intake does (docs/security.md).


@router.get("/login")
@direct
@checks_access(Access.public(html=True))
async def login_page(request: Request) -> Response:
    return login_form(request, next_url=request.query_params.get("next"), error=None)


@router.post("/login")
@direct
@checks_access(Access.public(html=True))
async def login_submit(request: Request) -> Response:
    container = container_of(request)
    policy = container.login_policy
    if policy.busy is not None and policy.busy() and DEVICE_COOKIE not in request.cookies:
        # Refused before the form is read: nothing is checked, counted or changed. A browser
        # with a device cookie goes on: if the account trusts it, its check goes first.
        return _busy_page(request, None, retry_after=2)
    fields = _form_fields(await request.form())
    try:
        form = LoginForm.model_validate(fields)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        ) from None
    name, password, csrf_token, next = form.name, form.password, form.csrf_token, form.next
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return login_form(
            request, next_url=next, error="The form expired. Please try again.", status=403
        )
    client = request.client.host if request.client else None
    try:
        result = await run_in_threadpool(
            accounts.login,
            uow=container.uow(),
            name=name.strip(),
            password=password,
            policy=policy,
            client=client,
            device=request.cookies.get(DEVICE_COOKIE),
            now=container.clock.now(),
        )
    except RateLimited as exc:
        refused = login_form(
            request,
            next_url=next,
            error="Too many failed logins have come from your connection. Please try again "
            f"in {in_minutes(exc.retry_after)}.",
            status=429,
        )
        refused.headers["Retry-After"] = str(exc.retry_after)
        return refused
    except Busy as exc:
        return _busy_page(request, next, retry_after=exc.retry_after)
    except NotAuthenticated:
        return login_form(
            request,
            next_url=next,
            error="That name and password did not work, or the account is locked for a while "
            "after too many attempts.",
            status=401,
        )
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        result.session_secret,
        max_age=container.settings.session_ttl_seconds,
        httponly=True,
        samesite="lax",
        secure=container.settings.cookie_secure,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    response.set_cookie(
        DEVICE_COOKIE,
        result.device_secret,
        max_age=DEVICE_COOKIE_AGE,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=container.settings.cookie_secure,
    )
    return response


def _busy_page(request: Request, next_url: str | None, *, retry_after: int) -> Response:
    busy = login_form(
        request,
        next_url=next_url,
        error="The server is busy checking other logins. Please try again in a moment.",
        status=503,
    )
    busy.headers["Retry-After"] = str(retry_after)
    return busy


def _form_fields(form: FormData) -> dict[str, str]:
    """A form's text fields, each name's first value (as FastAPI's ``Form`` reads them)."""
    fields: dict[str, str] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            fields.setdefault(key, value)
    return fields


@router.post("/logout", dependencies=CONSOLE)
def logout(request: Request) -> RedirectResponse:
    accounts.logout(uow=container_of(request).uow(), actor=principal_of(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/console", dependencies=CONSOLE)
def console(request: Request) -> HTMLResponse:
    """The first page: the work in front of this person, not a list of permissions. The
    cases they hold and what comes next (cases:read), the team's day (cases:lead), what is
    wrong with the set-up (actions:manage)."""
    c = container_of(request)
    actor = principal_of(request)
    now = c.clock.now()
    day = None
    if actor.can(Permission.cases_read):
        day = review.my_day(uow=c.uow(readonly=True), actor=actor, now=now)
    problems = _setup_problems(c, actor) if actor.can(Permission.actions_manage) else None
    return render(
        request,
        "console.html",
        {"Permission": Permission, "day": day, "problems": problems, "now": now,
         "time_left": time_left},
    )  # fmt: skip


def _setup_problems(c: Container, actor: Principal) -> list[tuple[str, str]]:
    """(what is wrong, where to look) for an admin."""
    s = c.settings
    found = []
    if not s.platform_webhook_url:
        found.append(("No platform webhook: actions wait until the platform pulls them "
                      "(GET /v1/actions).", "/docs"))  # fmt: skip
    if not s.ncmec_url:
        found.append(
            ("No NCMEC account: confirmed CSAM is not reported to NCMEC.", "/console/ncmec")
        )
    if not s.evidence_key:
        found.append(("No evidence key: media is not preserved for authorities.", "/docs"))
    failed = actions.counts(uow=c.uow(readonly=True), actor=actor).get("failed", 0)
    if failed:
        found.append((f"{failed} actions failed delivery to the platform.", "/console/operations"))
    parked_events = parked.parked_events(uow=c.uow(readonly=True), actor=actor)
    if parked_events:
        found.append((f"{len(parked_events)} pieces of deferred work were parked after their "
                      "last attempt.", "/console/operations"))  # fmt: skip
    return found


def _keys_page(
    request: Request,
    *,
    issued: accounts.IssuedCredential | None = None,
    error: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    listing = keys.list_api_keys(
        uow=container_of(request).uow(readonly=True), actor=principal_of(request)
    )
    return render(
        request,
        "keys.html",
        {"keys": listing, "scopes": list(Scope), "issued": issued, "error": error},
        status=status,
    )


@router.get("/console/keys", dependencies=KEYS)
def keys_page(request: Request) -> HTMLResponse:
    return _keys_page(request)


@router.post("/console/keys", dependencies=KEYS)
def keys_create(
    request: Request,
    name: Annotated[str, Form(max_length=128)],
    scopes: Annotated[list[Scope] | None, Form()] = None,
) -> HTMLResponse:
    try:
        issued = keys.create_api_key(
            uow=container_of(request).uow(),
            actor=principal_of(request),
            name=name,
            scopes=scopes or [],
        )
    except ServiceError as exc:
        return _keys_page(request, error=exc.message, status=422)
    return _keys_page(request, issued=issued, status=201)


@router.post("/console/keys/{key_pk}/revoke", dependencies=KEYS)
def keys_revoke(request: Request, key_pk: Pk) -> RedirectResponse:
    accounts.revoke_credential(
        uow=container_of(request).uow(), actor=principal_of(request), key_pk=key_pk
    )
    return RedirectResponse("/console/keys", status_code=303)


def _users_page(
    request: Request,
    *,
    error: str | None = None,
    status: int = 200,
    issued: tuple[str, str] | None = None,
) -> HTMLResponse:
    """``issued``: (name, password) of an account just made or a password just reset, shown
    this once (never stored in clear, never logged)."""
    listing = accounts.list_users(
        uow=container_of(request).uow(readonly=True), actor=principal_of(request)
    )
    values = {"users": listing, "error": error, "now": utcnow(), "issued": issued, "Role": Role}
    response = render(request, "users.html", values, status=status)
    if issued is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


def _temporary_password() -> str:
    """A password to hand over once; its owner sets their own with it."""
    return secrets.token_urlsafe(18)


@router.post("/console/users", dependencies=USERS)
def users_create(
    request: Request,
    name: Annotated[str, Form(max_length=64)],
    role: Annotated[Role, Form()],
    child_safety: Annotated[str, Form(max_length=5)] = "",
) -> Response:
    password = _temporary_password()
    try:
        accounts.create_user(
            uow=container_of(request).uow(),
            actor=principal_of(request),
            name=name.strip(),
            role=role,
            password=password,
            child_safety=child_safety == "1",
        )
    except ServiceError as exc:
        return _users_page(
            request, error=exc.message, status=409 if exc.code == "conflict" else 422
        )
    return _users_page(request, issued=(name.strip(), password), status=201)


@router.post("/console/users/{user_id}/role", dependencies=USERS)
def users_role(request: Request, user_id: Pk, role: Annotated[Role, Form()]) -> Response:
    c = container_of(request)
    try:
        accounts.set_role(uow=c.uow(), actor=principal_of(request), user_id=user_id, role=role)
    except ServiceError as exc:
        return _users_page(
            request, error=exc.message, status=409 if exc.code == "conflict" else 404
        )
    return RedirectResponse("/console/users", status_code=303)


@router.post("/console/users/{user_id}/password", dependencies=USERS)
def users_password(request: Request, user_id: Pk) -> Response:
    """A new temporary password, shown once; the old one, the account's sessions and its
    personal tokens end with it (``accounts.set_password``)."""
    c = container_of(request)
    actor = principal_of(request)
    users = {u.id: u for u in accounts.list_users(uow=c.uow(readonly=True), actor=actor)}
    if user_id not in users:
        return _users_page(request, error=f"no account {user_id}", status=404)
    password = _temporary_password()
    accounts.set_password(uow=c.uow(), actor=actor, name=users[user_id].name, password=password)
    return _users_page(request, issued=(users[user_id].name, password))


@router.get("/console/users", dependencies=USERS)
def users_page(request: Request) -> HTMLResponse:
    return _users_page(request)


def _user_action(request: Request, action: Callable[..., object], user_id: int) -> Response:
    c = container_of(request)
    try:
        action(uow=c.uow(), actor=principal_of(request), user_id=user_id)
    except ServiceError as exc:
        status = 409 if exc.code == "conflict" else 404
        return _users_page(request, error=exc.message, status=status)
    return RedirectResponse("/console/users", status_code=303)


@router.post("/console/users/{user_id}/disable", dependencies=USERS)
def users_disable(request: Request, user_id: Pk) -> Response:
    return _user_action(request, accounts.disable_user, user_id)


@router.post("/console/users/{user_id}/enable", dependencies=USERS)
def users_enable(request: Request, user_id: Pk) -> Response:
    return _user_action(request, accounts.enable_user, user_id)


@router.post("/console/users/{user_id}/unlock", dependencies=USERS)
def users_unlock(request: Request, user_id: Pk) -> Response:
    return _user_action(request, accounts.unlock_user, user_id)


@router.post("/console/users/{user_id}/child-safety", dependencies=USERS)
def users_child_safety(
    request: Request, user_id: Pk, granted: Annotated[str, Form(max_length=5)] = ""
) -> Response:
    c = container_of(request)
    try:
        accounts.set_child_safety(
            uow=c.uow(), actor=principal_of(request), user_id=user_id, granted=granted == "1"
        )
    except ServiceError as exc:
        return _users_page(request, error=exc.message, status=404)
    return RedirectResponse("/console/users", status_code=303)


@router.get("/console/mailbox", dependencies=USERS)
def mailbox_page(request: Request) -> HTMLResponse:
    """Development only: the e-mails takedown would have sent to reporters."""
    folder = container_of(request).settings.mailbox_dir
    messages = notify.read_mailbox(folder) if folder is not None else []
    return render(request, "mailbox.html", {"messages": messages, "enabled": folder is not None})
