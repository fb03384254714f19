"""One error shape for every JSON response, and the mapping of our errors onto HTTP.

Shape::

    {"error": {"code": "validation_error", "message": "…",
               "details": [{"field": "body.name", "problem": "Field required"}]},
     "request_id": "…"}
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from takedown.cases import RoleNotAllowed
from takedown.evidence import VaultError
from takedown.identity import IdentityError, NotAuthenticated, WeakPassword
from takedown.media import MediaError, TooLarge
from takedown.server.context import request_id_var
from takedown.services.errors import (
    Busy,
    Conflict,
    InvalidInput,
    NotFound,
    RateLimited,
    ServiceError,
)
from takedown.store.group_commit import WriterStopped

log = logging.getLogger("takedown.http")


CLIENT_GONE = 499
"""The status recorded for a request whose client went away before it was read."""


class ErrorDetail(BaseModel):
    field: str | None = None
    problem: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail] = []


class ErrorResponse(BaseModel):
    error: ErrorInfo
    request_id: str | None = None


class BodyTooLarge(StarletteHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is larger than the limit of {limit} bytes")
        self.limit = limit


_STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[ErrorDetail] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(
        error=ErrorInfo(code=code, message=message, details=details or []),
        request_id=request_id_var.get(),
    )
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> tuple[str, str, list[ErrorDetail]]:
    details = []
    malformed = False
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        if err.get("type") == "json_invalid":
            malformed = True
            ctx = err.get("ctx") or {}
            problem = f"malformed JSON: {ctx.get('error', err.get('msg'))}"
        else:
            problem = str(err.get("msg"))
        details.append(ErrorDetail(field=loc or None, problem=problem))
    if malformed:
        return "malformed_json", "the request body is not valid JSON", details
    fields = ", ".join(d.field for d in details if d.field)
    return "validation_error", f"invalid request: {fields or 'see details'}", details


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route answers on this request's path."""
    from takedown.server.security import iter_routes

    path = request.scope["path"]
    methods: set[str] = set()
    for route in iter_routes(request.app):
        regex = getattr(route, "path_regex", None)
        if regex is not None and regex.match(path):
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


async def _access_refusal(request: Request) -> Response | None:
    """The answer to a caller the route would refuse, for errors found before the route's
    access check ran (a body FastAPI could not read): who may call comes before what they
    sent, so a stranger learns nothing about a route's input."""
    from takedown.server.security import HTMLAuthError, declared_access

    route = request.scope.get("route")
    access = declared_access(route) if route is not None else None
    if access is None or access.permission is None:
        return None
    try:
        await access(request)
    except IdentityError as exc:
        return identity_response(exc)
    except HTMLAuthError as exc:
        handler = request.app.exception_handlers.get(HTMLAuthError)
        if handler is not None:
            answer: Response = await handler(request, exc)
            return answer
        return identity_response(exc.error)
    return None


def identity_response(exc: IdentityError) -> JSONResponse:
    """The JSON answer to an identity error: 401, 403 or 422 (a weak password)."""
    if isinstance(exc, NotAuthenticated):
        return error_response(
            401, "not_authenticated", str(exc), headers={"WWW-Authenticate": "Bearer"}
        )
    if isinstance(exc, WeakPassword):
        return error_response(
            422, "weak_password", str(exc), [ErrorDetail(field="password", problem=str(exc))]
        )
    return error_response(403, "forbidden", str(exc))


def _is_page(request: Request) -> bool:
    """Whether the matched route is a console page (its refusals and errors are HTML)."""
    from takedown.server.security import declared_access

    route = request.scope.get("route")
    access = declared_access(route) if route is not None else None
    return access is not None and access.html


def _browser(request: Request) -> bool:
    """A person's browser opened an API address: its first choice is HTML, which no API
    client asks for first. Its errors answer as a page, not as JSON."""
    accept = request.headers.get("accept", "")
    return accept.split(",", 1)[0].strip().lower().startswith("text/html")


class ErrorPages(Protocol):
    """How errors look on the pages people read (``web.pages`` is one): the app factory
    passes it in, so this plumbing never imports the pages themselves."""

    def is_page_path(self, path: str) -> bool: ...

    def http_error_page(self, request: Request, status: int, message: str) -> Response: ...

    def form_error_page(self, request: Request, status: int, problems: list[str]) -> Response: ...


def install_error_handlers(app: FastAPI, pages: ErrorPages | None = None) -> None:
    """The app's error handlers: the one JSON error shape, or ``pages`` for requests under
    the pages people read."""

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        refusal = await _access_refusal(request)
        if refusal is not None:
            return refusal
        code, message, details = _validation_details(exc)
        status = 400 if code == "malformed_json" else 422
        if pages is not None and (_is_page(request) or _browser(request)):
            problems = [f"{d.field}: {d.problem}" if d.field else d.problem for d in details]
            return pages.form_error_page(request, status, problems)
        return error_response(status, code, message, details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = _STATUS_CODES.get(exc.status_code, "error")
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405:
            # Starlette names only the first route on the path; several routes share one.
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        if pages is not None and (pages.is_page_path(request.url.path) or _browser(request)):
            page = pages.http_error_page(request, exc.status_code, str(exc.detail))
            page.headers.update(headers or {})
            return page
        return error_response(exc.status_code, code, str(exc.detail), headers=headers)

    def answer(
        request: Request,
        status: int,
        code: str,
        message: str,
        details: list[ErrorDetail] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Response:
        """The JSON error, or, on a page people read in a browser, an error page: no one
        opening the console should ever see raw JSON."""
        if pages is not None and (
            _is_page(request) or pages.is_page_path(request.url.path) or _browser(request)
        ):
            page = pages.http_error_page(request, status, message)
            page.headers.update(headers or {})
            return page
        return error_response(status, code, message, details, headers=headers)

    @app.exception_handler(IdentityError)
    async def _identity(request: Request, exc: IdentityError) -> Response:
        answer_ = identity_response(exc)
        if pages is not None and _browser(request):
            page = pages.http_error_page(request, answer_.status_code, str(exc))
            if "WWW-Authenticate" in answer_.headers:
                page.headers["WWW-Authenticate"] = answer_.headers["WWW-Authenticate"]
            return page
        return answer_

    @app.exception_handler(ServiceError)
    async def _service(request: Request, exc: ServiceError) -> Response:
        if isinstance(exc, Busy | RateLimited):
            return answer(
                request,
                503 if isinstance(exc, Busy) else 429,
                exc.code,
                exc.message,
                headers={"Retry-After": str(exc.retry_after)},
            )
        status = next((code for kind, code in _SERVICE_STATUSES if isinstance(exc, kind)), 400)
        details = [ErrorDetail(field=exc.field, problem=exc.message)] if exc.field else []
        return answer(request, status, exc.code, exc.message, details)

    @app.exception_handler(RoleNotAllowed)
    async def _role(request: Request, exc: RoleNotAllowed) -> Response:
        return answer(
            request,
            403,
            "role_not_allowed",
            str(exc),
            [ErrorDetail(field="reporter_role", problem=str(exc))],
        )

    @app.exception_handler(WriterStopped)
    async def _writer(request: Request, exc: WriterStopped) -> Response:
        return answer(request, 503, "unavailable", "the server is shutting down; try again")

    @app.exception_handler(OperationalError)
    async def _database_away(request: Request, exc: OperationalError) -> Response:
        # The database restarting, failing over or out of connections: nothing was stored,
        # and the client may send it again shortly (a report's idempotency key makes that
        # safe). Not an error of ours to page anyone with a 500 for.
        log.warning(
            "the database did not answer",
            extra={"error": type(exc.orig).__name__ if exc.orig is not None else "unknown"},
        )
        return answer(
            request,
            503,
            "unavailable",
            "the database is not answering; nothing was stored, try again shortly",
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(VaultError)
    async def _vault(request: Request, exc: VaultError) -> Response:
        # Loud on purpose: preserved evidence that the configured keys cannot open.
        log.error("the evidence vault refused", extra={"error": str(exc)})
        return answer(request, 500, "evidence_key", str(exc))

    @app.exception_handler(MediaError)
    async def _media(request: Request, exc: MediaError) -> Response:
        status = 413 if isinstance(exc, TooLarge) else 422
        return answer(
            request,
            status,
            exc.code,
            exc.message,
            [ErrorDetail(field="media", problem=exc.message)],
        )

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client hung up (or stalled, ``server.protocol``) before its body was read:
        # nothing failed here, so no error is logged and no 5xx counted. The answer is never
        # sent; its status (nginx's 499) is what the metrics and the access log show.
        log.info("the client went away before its request was read")
        return Response(status_code=CLIENT_GONE)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return answer(request, 500, "internal_error", "internal error; see the server log")


_SERVICE_STATUSES = ((NotFound, 404), (Conflict, 409), (InvalidInput, 422))

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "No valid credential"},
    403: {"model": ErrorResponse, "description": "Credential lacks the permission"},
    422: {"model": ErrorResponse, "description": "Invalid input"},
}
