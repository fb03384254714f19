"""The console's transparency page (``transparency:read``): a period's figures
(``services.transparency``) with charts drawn on the server (``web.charts``): time to a
decision by priority, the backlog day by day, the deadlines met by priority; and the period's
figures as CSV."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from takedown.identity import Permission
from takedown.server.container import container_of
from takedown.server.security import Access, principal_of
from takedown.services import transparency
from takedown.services.errors import InvalidInput
from takedown.web import charts
from takedown.web.pages import render

router = APIRouter(include_in_schema=False)
READ = [Depends(Access(Permission.transparency_read, html=True))]
Day = Annotated[str | None, Query(max_length=10)]
HOURS = 3600.0


def _period(request: Request, start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """The days asked for (UTC, the end not included); the last 30 days by default."""
    today = container_of(request).clock.now().date() + timedelta(days=1)

    def day(value: str | None, default: date, field: str) -> datetime:
        try:
            chosen = date.fromisoformat(value) if value else default
        except ValueError:
            raise InvalidInput(f"{field} is a day: YYYY-MM-DD", field=field) from None
        return datetime.combine(chosen, time(), tzinfo=UTC)

    return day(start, today - timedelta(days=30), "from"), day(end, today, "to")


@router.get("/console/transparency", dependencies=READ)
def transparency_page(
    request: Request, start: Annotated[Day, Query(alias="from")] = None,
    end: Annotated[Day, Query(alias="to")] = None,
) -> HTMLResponse:  # fmt: skip
    c = container_of(request)
    begin, until = _period(request, start, end)
    board = transparency.dashboard(uow=c.uow(readonly=True), actor=principal_of(request),
                                   start=begin, end=until, now=c.clock.now())  # fmt: skip
    r = board.report
    by_priority = r.to_decision_by_priority
    longest = max((c.p90_s or 0.0 for c in by_priority.values()), default=0.0)
    unit, per = ("h", HOURS) if longest >= 2 * HOURS else ("min", 60.0)

    def shown(value: float | None) -> float | None:
        return None if value is None else value / per

    speed = charts.bars(
        f"{'Hours' if unit == 'h' else 'Minutes'} from the first report to the decision, "
        "by priority",
        [(p, [shown(c.median_s), shown(c.p90_s)]) for p, c in by_priority.items()],
        unit=unit,
        series=("median", "90th percentile"),
    )
    backlog = charts.line("Cases waiting at the end of each day", board.backlog, unit="cases")
    met = charts.bars(
        "Share of cases looked at or decided by their deadline, by priority",
        [(p, [100.0 * m / n if n else None]) for p, (n, m) in board.deadlines.items()],
        unit="%",
    )
    return render(
        request,
        "transparency.html",
        {"r": r, "board": board, "charts": {"speed": speed, "backlog": backlog, "met": met},
         "notices": sum(sum(by_source.values()) for by_source in r.notices.values()),
         "start": begin.date(), "end": until.date(), "HOURS": HOURS},
    )  # fmt: skip


@router.get("/console/transparency.csv", dependencies=READ)
def transparency_csv(
    request: Request, start: Annotated[Day, Query(alias="from")] = None,
    end: Annotated[Day, Query(alias="to")] = None,
) -> Response:  # fmt: skip
    c = container_of(request)
    begin, until = _period(request, start, end)
    found = transparency.report(uow=c.uow(readonly=True), actor=principal_of(request),
                                start=begin, end=until)  # fmt: skip
    return Response(
        transparency.figures_csv(found),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="takedown-transparency.csv"'},
    )
