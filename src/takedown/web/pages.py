"""Template rendering shared by the console's views."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from takedown.config import support_links
from takedown.identity import Permission, Principal
from takedown.server.container import container_of
from takedown.services import review_media

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    principal = getattr(request.state, "principal", None)
    settings = container_of(request).settings
    ctx = {
        "principal": principal,
        "csrf_token": getattr(request.state, "csrf_token", None),
        # The platform's own name and help, and where a reporter finds support (settings).
        "platform_name": settings.platform_name,
        "platform_help_url": settings.platform_help_url,
        "support": support_links(settings.support_resources),
        **(context or {}),
    }
    if (
        "exposure_today" not in ctx
        and isinstance(principal, Principal)
        and principal.is_staff
        and principal.subject_id
        and principal.can(Permission.cases_read)
    ):
        ctx["exposure_today"] = exposure_today(request, principal.subject_id)
    return templates.TemplateResponse(request, template, ctx, status_code=status)


def exposure_today(request: Request, user_id: int) -> int:
    """How many originals the staff member revealed today (on every console page)."""
    container = container_of(request)
    with container.uow(readonly=True) as uow:
        return review_media.reveals_today(uow, user_id, container.clock.now())


def in_minutes(seconds: int) -> str:
    """A wait, for a person: "about 1 minute", "about 12 minutes"."""
    minutes = max(1, round(seconds / 60))
    return f"about {minutes} minute{'s' if minutes != 1 else ''}"


def auth_error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """401 shows the login form (with a link back here); 403 explains the refusal."""
    if status == 401:
        from takedown.web.views import login_form

        return login_form(request, next_url=request.url.path, error=None, status=401)
    return render(
        request,
        "error.html",
        {"status": status, "title": "Not allowed", "message": message},
        status=status,
    )


def form_error_page(request: Request, status: int, problems: list[str]) -> HTMLResponse:
    """A form that did not validate: say which fields, and offer the way back."""
    return render(
        request,
        "error.html",
        {
            "status": status,
            "title": "The form could not be used",
            "message": "Please go back and correct it.",
            "problems": problems,
        },
        status=status,
    )


PAGE_PREFIXES = ("/console", "/report", "/status/", "/login", "/logout")
_TITLES = {
    404: ("We could not find this page", "Check the address, or start again from the links below."),
    405: ("This page cannot be used that way", "Go back and try again from the page itself."),
    413: (
        "What you sent is too large",
        "Please shorten what you typed and send it again. Links are better than pasted files.",
    ),
}


def is_page_path(path: str) -> bool:
    """Whether ``path`` is under the pages people read (the console, the public forms),
    whose errors are pages, never JSON."""
    return path == "/" or path.startswith(PAGE_PREFIXES)


def http_error_page(request: Request, status: int, message: str) -> HTMLResponse:
    """An error on a page (404, 405, 413, …) as a page with a way back."""
    title, text = _TITLES.get(status, ("Something went wrong", message))
    public = not request.url.path.startswith(("/console", "/logout"))
    return render(
        request,
        "error.html",
        {
            "status": status,
            "title": title,
            "message": text,
            "back_url": "/report" if public else "/console",
            "back_text": "Make a report" if public else "Back to the console",
        },
        status=status,
    )
