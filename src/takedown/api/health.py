"""Probes and metrics: ``/healthz``, ``/readyz``, ``/metrics``, and the offline API docs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest
from prometheus_client.core import GaugeHistogramMetricFamily

from takedown import __version__
from takedown.api.deps import read_uow
from takedown.identity import Permission
from takedown.server.container import container_of
from takedown.server.middleware import DOCS_PAGE_CSP
from takedown.server.security import Access, principal_of
from takedown.services import system, transparency
from takedown.store import UnitOfWork

router = APIRouter(tags=["operations"])
ReadUoW = Annotated[UnitOfWork, Depends(read_uow)]

OUTBOX = Gauge("takedown_outbox_events", "Outbox events by status", ["status"])
EXCHANGE_ENTRIES = Gauge(
    "takedown_exchange_entries", "An exchange's hashes that match now", ["exchange", "kind"]
)
EXCHANGE_SUCCESS = Gauge(
    "takedown_exchange_last_success_timestamp_seconds",
    "When an exchange's last pass read it to its end (0: never)",
    ["exchange", "kind"],
)
EXCHANGE_FAILING = Gauge(
    "takedown_exchange_failing", "1 while an exchange's last pass failed", ["exchange", "kind"]
)
INDEX_AGE = Gauge(
    "takedown_bank_index_age_seconds",
    "Since this process's bank indexes were last checked against the store (-1: not loaded)",
)
PARTS = Gauge("takedown_parts_alive", "Relays and workers seen in the last 30 s", ["kind"])
RELAY_LAG = Gauge(
    "takedown_relay_lag_seconds",
    "How long the oldest due event has waited for a relay, as the latest relay saw (-1: none)",
)
QUEUE_DEPTH = Gauge(
    "takedown_lane_queue_depth", "Messages waiting in a lane's queue at the broker", ["lane"]
)
UNSERVED = Gauge("takedown_lane_without_worker", "1 while no live worker takes a lane", ["lane"])
OVERDUE = Gauge(
    "takedown_cases_overdue", "Cases waiting for a person past their deadline", ["priority"]
)
LAG = Gauge(
    "takedown_oldest_pending_seconds",
    "How long the oldest work waiting for the platform (delivery) or the DSA Transparency "
    "Database (transparency) has waited",
    ["lane"],
)
_CLOCKS = {
    "first_look": "from a case's first report to a person's first look",
    "decision": "from a case's first report to its first decision",
    "removal": "from a case's first report to the platform acknowledging its last removal",
    "filing": "from a case's first report to its CyberTipline report filed with NCMEC",
}


class _Clocks:
    """The clocks of the cases opened in the last day, as gauge histograms (a distribution
    read from the database at each scrape, the same whichever process answers)."""

    def __init__(self, live: transparency.LiveClocks) -> None:
        self.live = live

    def collect(self) -> list[GaugeHistogramMetricFamily]:
        families = []
        for name, rows in self.live.durations.items():
            family = GaugeHistogramMetricFamily(
                f"takedown_clock_{name}_seconds",
                f"Seconds {_CLOCKS[name]}, for the cases opened in the last day",
                labels=["priority"],
            )
            for priority in ("P0", "P1", "P2"):
                counts = [(s, n) for p, s, n in rows if p == priority]
                buckets = [
                    (f"{bound:g}", float(sum(n for s, n in counts if s <= bound)))
                    for bound in transparency.CLOCK_BUCKETS
                ] + [("+Inf", float(sum(n for _, n in counts)))]
                family.add_metric([priority], buckets, gsum_value=sum(s * n for s, n in counts))
            families.append(family)
        return families


DOCS_ASSETS = "/docs-assets"


@router.get("/healthz", dependencies=[Depends(Access.public())])
def healthz() -> dict[str, str]:
    """Liveness: the process answers. Touches nothing else."""
    return {"status": "ok", "version": __version__}


@router.get(
    "/readyz",
    dependencies=[Depends(Access.public())],
    responses={503: {"description": "Not ready: database unreachable or schema behind"}},
)
def readyz(request: Request) -> JSONResponse:
    """Readiness: the database answers and its schema is at this version's head."""
    container = container_of(request)
    r = system.readiness(uow=container.uow(readonly=True))
    body: dict[str, object] = {
        "status": "ready" if r.ready else "not_ready",
        "database": r.database,
        "schema": {"current": r.schema_revision, "expected": r.expected_revision},
        "bank_index_age_seconds": container.matcher.age_seconds(),
    }
    if r.ready and container.settings.broker_url:
        # The distributed mode's other parts: reported, not counted against this process
        # (a load balancer must not take web processes out because a worker is down).
        p = system.parts(uow=container.uow(readonly=True), now=container.now(),
                         lanes=container.lanes)  # fmt: skip
        body["parts"] = {
            "relays": p.relays,
            "workers": p.workers,
            "lanes_without_worker": p.unserved,
            "relay_lag_seconds": p.relay_lag_seconds,
            "queue_depths": p.depths,
        }
    return JSONResponse(body, status_code=200 if r.ready else 503)


@router.get(
    "/metrics",
    dependencies=[Depends(Access(Permission.metrics_read))],
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition",
            "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
        }
    },
)
def metrics(request: Request, uow: ReadUoW) -> Response:
    """Prometheus exposition. Scrape with an API key of scope ``metrics``."""
    for status, n in system.outbox_counts(uow=uow).items():
        OUTBOX.labels(status).set(n)
    container = container_of(request)
    age = container.matcher.age_seconds()
    INDEX_AGE.set(age if age is not None else -1)
    if container.settings.broker_url:
        p = system.parts(uow=container.uow(readonly=True), now=container.now(),
                         lanes=container.lanes)  # fmt: skip
        PARTS.labels("relay").set(len(p.relays))
        PARTS.labels("worker").set(len(p.workers))
        RELAY_LAG.set(p.relay_lag_seconds if p.relay_lag_seconds is not None else -1)
        for lane in container.lanes:
            QUEUE_DEPTH.labels(lane).set(p.depths.get(lane, 0))
            UNSERVED.labels(lane).set(1 if lane in p.unserved else 0)
    for e in system.exchange_readings(uow=uow):
        EXCHANGE_ENTRIES.labels(e.name, e.kind).set(e.entries)
        success = e.last_success_at.timestamp() if e.last_success_at else 0
        EXCHANGE_SUCCESS.labels(e.name, e.kind).set(success)
        EXCHANGE_FAILING.labels(e.name, e.kind).set(1 if e.failing else 0)
    live = transparency.live_clocks(
        uow=container.uow(readonly=True), actor=principal_of(request), now=container.now()
    )
    for priority in ("P0", "P1", "P2"):
        OVERDUE.labels(priority).set(live.overdue.get(priority, 0))
    LAG.labels("delivery").set(live.delivery_lag_s)
    LAG.labels("transparency").set(live.transparency_lag_s)
    clocks = CollectorRegistry()
    clocks.register(_Clocks(live))
    return Response(generate_latest() + generate_latest(clocks), media_type=CONTENT_TYPE_LATEST)


@router.get("/docs", include_in_schema=False, dependencies=[Depends(Access.public())])
def docs(request: Request) -> HTMLResponse:
    """Swagger UI served from this installation (no CDN: works offline and under our CSP). It
    is the one page with an inline script, so the one that allows them."""
    page = get_swagger_ui_html(
        openapi_url=str(request.app.openapi_url),
        title="takedown API",
        swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
        swagger_ui_parameters={"persistAuthorization": True},
    )
    page.headers["Content-Security-Policy"] = DOCS_PAGE_CSP
    return page
