"""The direct lane for the busiest routes (``server.hot_routes``): ``POST /v1/reports`` is
served without the router, yet answers exactly as a routed request would: the same access
check, error shapes, request id, security headers and metrics; an error without a handler
still becomes the one 500 shape."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.routing import APIRoute

from takedown.identity import Scope
from takedown.server.app import create_app
from takedown.server.container import Container
from takedown.server.errors import install_error_handlers
from takedown.server.hot_routes import DirectLane, TakedownApp, direct, direct_routes
from takedown.server.middleware import Observer
from takedown.server.security import Access, checks_access
from tests.conftest import add_key, start_live_server

REPORT = {"content_id": "post-1", "category": "policy", "reporter_role": "user"}


@pytest.fixture
def counted(container):
    """The real app and a count of the requests its router handed to a route."""
    app = create_app(container)
    handled: list[str] = []
    original = APIRoute.handle

    async def handle(self, scope, receive, send):
        handled.append(self.path)
        await original(self, scope, receive, send)

    APIRoute.handle = handle  # type: ignore[method-assign]
    live = start_live_server(container, app=app)
    try:
        yield live, handled
    finally:
        APIRoute.handle = original  # type: ignore[method-assign]
        live.server.should_exit = True
        live.thread.join(15)


def test_reports_skip_the_router_and_answer_as_a_routed_request_would(counted, container):
    live, handled = counted
    key = add_key(container, "platform", Scope.report)[1]
    scan_key = add_key(container, "scanner", Scope.scan)[1]
    metrics_key = add_key(container, "metrics", Scope.metrics)[1]
    auth = {"Authorization": f"Bearer {key}"}
    with live.client() as client:
        ok = client.post("/v1/reports", json=REPORT, headers={**auth, "X-Request-ID": "r-1"})
        assert ok.status_code == 201, ok.text
        assert ok.json()["case_number"].startswith("TD-")
        assert ok.headers["x-request-id"] == "r-1"
        assert ok.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'self'" in ok.headers["content-security-policy"]

        anonymous = client.post("/v1/reports", json=REPORT)
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert anonymous.json()["error"]["code"] == "not_authenticated"
        assert anonymous.json()["request_id"] == anonymous.headers["x-request-id"]

        wrong_scope = client.post(
            "/v1/reports", json=REPORT, headers={"Authorization": f"Bearer {scan_key}"}
        )
        assert wrong_scope.status_code == 403
        assert wrong_scope.json()["error"]["code"] == "forbidden"

        role = client.post(
            "/v1/reports", json={**REPORT, "reporter_role": "law_enforcement"}, headers=auth
        )
        assert role.status_code == 403
        assert role.json()["error"]["code"] == "role_not_allowed"

        invalid = client.post("/v1/reports", json={**REPORT, "category": "spam"}, headers=auth)
        assert invalid.status_code == 422
        assert invalid.json()["error"]["details"][0]["field"] == "body.category"

        malformed = client.post(
            "/v1/reports",
            content=b"{not json",
            headers={**auth, "Content-Type": "application/json"},
        )
        assert malformed.status_code == 400
        assert malformed.json()["error"]["code"] == "malformed_json"

        huge = client.post(
            "/v1/reports",
            content=b"x" * (container.settings.max_body_bytes + 1),
            headers={**auth, "Content-Type": "application/json"},
        )
        assert huge.status_code == 413
        assert huge.json()["error"]["code"] == "body_too_large"

        assert "/v1/reports" not in handled  # every one of them took the direct lane

        metrics = client.get("/metrics", headers={"Authorization": f"Bearer {metrics_key}"})
        assert metrics.status_code == 200
        assert "/metrics" in handled  # an ordinary route still goes through the router
        assert (
            'takedown_http_requests_total{method="POST",route="/v1/reports",status="201"}'
            in metrics.text
        )


def test_the_direct_routes_are_the_report_upload_and_login_ones(container):
    """The busiest routes, and the two anyone can flood (the login form and its answer)."""
    app = create_app(container, start_worker=False)
    assert set(direct_routes(app)) == {
        ("POST", "/v1/reports"),
        ("POST", "/v1/scan"),
        ("GET", "/login"),
        ("POST", "/login"),
    }


def test_a_direct_route_must_check_its_own_access():
    async def unchecked(request: Request) -> Response:
        return Response()

    with pytest.raises(TypeError, match="check its access itself"):
        direct(unchecked)


def _small_app() -> FastAPI:
    app = TakedownApp()
    install_error_handlers(app)

    @app.post("/boom")
    @direct
    @checks_access(Access.public())
    async def boom(request: Request) -> Response:
        raise RuntimeError("unexpected")

    @app.post("/teapot")
    @direct
    @checks_access(Access.public())
    async def teapot(request: Request) -> Response:
        raise HTTPException(418, "short and stout")

    @app.post("/echo")
    @direct
    @checks_access(Access.public())
    async def echo(request: Request) -> Response:
        return Response(str(len(await request.body())))

    app.direct_lane = DirectLane(app, observer=Observer(), limit=1000, media_limit=1000)
    return app


async def _post(
    app: FastAPI, path: str, *, raise_app_exceptions: bool, content: Any = None
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=raise_app_exceptions)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post(path, content=content)


def test_errors_in_a_direct_route_get_the_app_handlers_and_the_one_500_shape():
    app = _small_app()
    boom = asyncio.run(_post(app, "/boom", raise_app_exceptions=False))
    assert boom.status_code == 500
    assert boom.json()["error"]["code"] == "internal_error"
    assert boom.json()["request_id"] == boom.headers["x-request-id"]
    assert boom.headers["x-content-type-options"] == "nosniff"
    teapot = asyncio.run(_post(app, "/teapot", raise_app_exceptions=False))
    assert teapot.status_code == 418
    assert teapot.json()["error"]["message"] == "short and stout"
    # The app logs the error and does not raise it on: the server would close the connection.
    again = asyncio.run(_post(app, "/boom", raise_app_exceptions=True))
    assert again.status_code == 500


def test_the_direct_lane_holds_the_body_limit_with_and_without_a_length():
    app = _small_app()

    def chunks(size: int) -> Any:
        async def gen() -> Any:
            for _ in range(size // 100):
                yield b"x" * 100

        return gen()

    fits = asyncio.run(_post(app, "/echo", raise_app_exceptions=True, content=b"x" * 1000))
    assert (fits.status_code, fits.text) == (200, "1000")
    declared = asyncio.run(_post(app, "/echo", raise_app_exceptions=True, content=b"x" * 1001))
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "body_too_large"
    assert declared.headers["x-request-id"]
    # Streamed with no Content-Length: counted as it arrives.
    streamed = asyncio.run(_post(app, "/echo", raise_app_exceptions=True, content=chunks(1000)))
    assert (streamed.status_code, streamed.text) == (200, "1000")
    over = asyncio.run(_post(app, "/echo", raise_app_exceptions=True, content=chunks(1100)))
    assert over.status_code == 413
    assert over.json()["error"]["code"] == "body_too_large"


def test_with_opentelemetry_on_every_request_takes_the_ordinary_path(settings, db):
    traced = settings.model_copy(update={"opentelemetry": True})
    app = create_app(Container(settings=traced, db=db), start_worker=False)
    assert isinstance(app, TakedownApp) and app.direct_lane is None
    plain = create_app(Container(settings=settings, db=db), start_worker=False)
    assert isinstance(plain, TakedownApp) and plain.direct_lane is not None


def test_a_server_error_keeps_the_connection_and_names_its_request(container, caplog):
    """On a real server and one keep-alive connection: a 500 on a direct route and on an
    ordinary one each carry their request id, are logged, and the next request on the same
    connection is answered."""
    from takedown.server import create_app
    from tests.conftest import start_live_server

    app = create_app(container)

    @app.post("/v1/test-boom")
    @direct
    @checks_access(Access.public())
    async def direct_boom(request: Request) -> Response:
        raise RuntimeError("direct boom")

    @app.get("/v1/test-boom", dependencies=[__import__("fastapi").Depends(Access.public())])
    def ordinary_boom() -> dict:
        raise RuntimeError("ordinary boom")

    live = start_live_server(container, app=app)
    try:
        with live.client() as client, caplog.at_level("ERROR", logger="takedown.http"):
            for method in ("POST", "GET", "POST"):
                boom = client.request(method, "/v1/test-boom")
                assert boom.status_code == 500, boom.text
                assert boom.json()["request_id"] == boom.headers["x-request-id"]
                assert client.get("/healthz").status_code == 200
        assert sum("boom" in str(r.exc_info) for r in caplog.records) == 3
    finally:
        live.server.should_exit = True
        live.thread.join(15)
