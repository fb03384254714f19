"""Template rendering shared by the console's views."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HTMLResponse:
    ctx = {
        "principal": getattr(request.state, "principal", None),
        "csrf_token": getattr(request.state, "csrf_token", None),
        **(context or {}),
    }
    return templates.TemplateResponse(request, template, ctx, status_code=status)


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
