"""Bad input gets a 4xx with a JSON body that names the problem, and never a 500."""

import json

import pytest
from fastapi import Depends
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from takedown.identity import Permission, Role, Scope
from takedown.server import create_app
from takedown.server.middleware import MEDIA_ROUTE
from takedown.server.security import Access
from tests.conftest import (
    add_key,
    add_staff,
    console_login,
    make_settings,
    start_live_server,
)

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture
def admin(container):
    return {"Authorization": f"Bearer {add_staff(container, 'boss', Role.admin)}"}


def error_of(response):
    body = response.json()
    assert set(body) == {"error", "request_id"}
    assert body["request_id"] == response.headers["x-request-id"]
    return body["error"]


def test_malformed_json_is_a_400_that_says_so(live_server, admin):
    with live_server.client() as c:
        r = c.post(
            "/v1/keys",
            content=b'{"name": "x", ',
            headers={**admin, "Content-Type": "application/json"},
        )
    assert r.status_code == 400
    assert error_of(r)["code"] == "malformed_json"


def test_wrong_types_and_missing_fields_are_named(live_server, admin):
    with live_server.client() as c:
        r = c.post("/v1/keys", json={"name": 5, "scopes": "scan"}, headers=admin)
        assert r.status_code == 422
        fields = {d["field"] for d in error_of(r)["details"]}
        assert {"body.name", "body.scopes"} <= fields
        r = c.post("/v1/users", json={"name": "ana"}, headers=admin)
        assert r.status_code == 422
        assert "body.role" in {d["field"] for d in error_of(r)["details"]}
        r = c.post("/v1/users", json={"name": "ana", "role": "superuser"}, headers=admin)
        assert r.status_code == 422 and error_of(r)["details"][0]["field"] == "body.role"
        r = c.post("/v1/keys", json={"name": "k", "scopes": ["scan"], "admin": True}, headers=admin)
        assert r.status_code == 422 and "body.admin" in r.text
        r = c.delete("/v1/keys/not-a-number", headers=admin)
        assert r.status_code == 422 and error_of(r)["details"][0]["field"] == "path.key_pk"


def test_service_rules_are_named_too(live_server, admin):
    with live_server.client() as c:
        r = c.post(
            "/v1/users",
            json={"name": "ana", "role": "reviewer", "password": "short"},
            headers=admin,
        )
        assert r.status_code == 422 and error_of(r)["code"] == "weak_password"
        r = c.post("/v1/users", json={"name": "Ana Smith", "role": "reviewer"}, headers=admin)
        assert r.status_code == 422 and error_of(r)["details"][0]["field"] == "name"
        r = c.post("/v1/users", json={"name": "boss", "role": "reviewer"}, headers=admin)
        assert r.status_code == 409 and error_of(r)["code"] == "conflict"
        r = c.get("/v1/nowhere", headers=admin)
        assert r.status_code == 404 and error_of(r)["code"] == "not_found"


@pytest.fixture
def small_limits(database_url, tmp_path, db):
    """A server whose limits are 4 KiB (ordinary) and 16 KiB (media), with one media route."""
    from takedown.bootstrap import default_registry
    from takedown.server.container import Container

    settings = make_settings(database_url, tmp_path, max_body_bytes=4096, max_media_bytes=16384)
    container = Container(settings=settings, db=db, registry=default_registry())
    app = create_app(container, start_worker=False)

    @app.post(
        "/v1/test-media",
        openapi_extra=MEDIA_ROUTE,
        dependencies=[Depends(Access(Permission.account_self))],
    )
    async def media(request: __import__("fastapi").Request) -> dict:
        return {"bytes": len(await request.body())}

    live = start_live_server(container, app=app)
    token = add_staff(container, "boss", Role.admin)
    yield live, {"Authorization": f"Bearer {token}"}
    live.server.should_exit = True
    live.thread.join(15)


def test_oversized_bodies_get_413_by_length_and_while_streaming(small_limits):
    live, admin = small_limits
    big = json.dumps({"name": "x" * 5000, "scopes": ["scan"]}).encode()
    with live.client() as c:
        r = c.post("/v1/keys", content=big, headers={**admin, "Content-Type": "application/json"})
        assert r.status_code == 413 and error_of(r)["code"] == "body_too_large"
        assert "4096" in error_of(r)["message"]

        def chunks():
            for _ in range(10):
                yield b"x" * 1000

        r = c.post(
            "/v1/keys", content=chunks(), headers={**admin, "Content-Type": "application/json"}
        )
        assert r.status_code == 413
        # the service goes on serving
        assert c.get("/healthz").status_code == 200


def test_media_routes_have_their_own_larger_limit(small_limits):
    live, admin = small_limits
    with live.client() as c:
        r = c.post("/v1/test-media", content=b"m" * 10000, headers=admin)
        assert r.status_code == 200 and r.json() == {"bytes": 10000}
        r = c.post("/v1/test-media", content=b"m" * 20000, headers=admin)
        assert r.status_code == 413 and "16384" in error_of(r)["message"]


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {
                "name": json_values,
                "role": json_values,
                "scopes": json_values,
                "password": json_values,
            }
        ),
    ),
    path=st.sampled_from(["/v1/keys", "/v1/users", "/v1/me/tokens"]),
)
def test_fuzzed_json_never_causes_a_server_error(live_server, admin, body, path):
    with live_server.client() as c:
        r = c.post(path, json=body, headers=admin)
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert error_of(r)["message"]


def test_a_console_form_with_bad_fields_gets_a_page_not_json(live_server):
    with live_server.client() as c:
        r = c.post("/login", data={"name": "x"})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert "body.password" in r.text and "The form could not be used" in r.text


def test_the_openapi_document_names_each_routes_permission(live_server):
    with live_server.client() as c:
        spec = c.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    post_keys = spec["paths"]["/v1/keys"]["post"]
    assert post_keys["x-takedown-permission"] == "keys:manage"
    assert post_keys["security"] == [{"bearer": []}]
    assert spec["paths"]["/healthz"]["get"]["security"] == []


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=st.binary(max_size=300), path=st.sampled_from(["/v1/keys", "/v1/users", "/login"]))
def test_fuzzed_bytes_never_cause_a_server_error(live_server, admin, body, path):
    with live_server.client() as c:
        r = c.post(path, content=body, headers={**admin, "Content-Type": "application/json"})
    assert r.status_code < 500, r.text


@pytest.mark.parametrize("huge", [2**63, 2**64, 10**30])
def test_integers_past_the_databases_range_are_a_422_never_a_500(live_server, container, huge):
    import re

    n = huge % 97
    admin = {"Authorization": f"Bearer {add_staff(container, f'boss{n}', Role.admin)}"}
    lead_token = add_staff(container, f"lead{n}", Role.child_safety_lead)
    lead = {"Authorization": f"Bearer {lead_token}"}
    scanner = {"Authorization": f"Bearer {add_key(container, 'p', Scope.scan)[1]}"}
    with live_server.client() as c:
        c.post("/v1/banks", headers=lead, json={"name": "b", "policy": "review"})
        answers = [
            c.get("/v1/audit", params={"before_seq": huge}, headers=admin),
            c.get("/v1/banks/b/entries", params={"after_id": huge}, headers=lead),
            c.post("/v1/content/x/stats", json={"views": huge}, headers=scanner),
            c.post("/v1/content/x/stats", json={"views": 1, "reposts": huge}, headers=scanner),
        ]
        for r in answers:
            assert r.status_code == 422, (r.request.url, r.text)
            assert error_of(r)["code"] == "validation_error"
        console_login(c, f"boss{n}")
        token = re.search(r'name="csrf_token" value="([^"]+)"', c.get("/console/keys").text)
        r = c.post(f"/console/keys/{huge}/revoke", data={"csrf_token": token.group(1)})
        assert r.status_code == 422 and "text/html" in r.headers["content-type"]


def test_who_may_call_is_checked_before_what_they_sent(live_server, container):
    from tests.conftest import add_key

    reviewer = {"Authorization": f"Bearer {add_staff(container, 'rev', Role.reviewer)}"}
    scanner = {"Authorization": f"Bearer {add_key(container, 'p', Scope.scan)[1]}"}
    with live_server.client() as c:
        for headers, status in (({}, 401), (reviewer, 403), (scanner, 403)):
            for body in (b"{not json", b'{"name": 5}'):
                r = c.post(
                    "/v1/banks",
                    content=body,
                    headers={**headers, "Content-Type": "application/json"},
                )
                assert r.status_code == status, (headers, body, r.text)
        # With the permission, the body's problem is named.
        lead = {"Authorization": f"Bearer {add_staff(container, 'lead', Role.child_safety_lead)}"}
        r = c.post(
            "/v1/banks", content=b"{not", headers={**lead, "Content-Type": "application/json"}
        )
        assert r.status_code == 400 and error_of(r)["code"] == "malformed_json"


def test_a_wrong_method_names_every_method_the_path_answers(live_server):
    with live_server.client() as c:
        r = c.request("PUT", "/v1/banks")
        assert r.status_code == 405
        assert set(r.headers["allow"].split(", ")) == {"GET", "POST"}
        r = c.request("PUT", "/v1/banks/x")
        assert set(r.headers["allow"].split(", ")) == {"GET", "PATCH"}


@pytest.mark.parametrize("odd", ["\ufffe", "\uffff", "\ud800", "\x07"])
def test_text_no_document_can_carry_is_refused_where_it_enters(live_server, container, odd):
    """A character XML forbids in a report, an appeal or the platform's account details is a
    4xx naming the field: it never reaches a CyberTipline report."""
    platform = {"Authorization": f"Bearer {add_key(container, 'p', Scope.report)[1]}"}
    # json.dumps writes a lone surrogate as the escape \\ud800, as a client would send it.

    def post(c, path, body):
        content = json.dumps(body).encode()
        return c.post(
            path, content=content, headers={**platform, "Content-Type": "application/json"}
        )

    with live_server.client() as c:
        report = {"content_id": "c-1", "category": "csam", "reporter_role": "user"}
        r = post(c, "/v1/reports", report | {"description": f"see {odd} here"})
        if odd == "\ud800":  # refused by the JSON parser itself: no text holds a half pair
            assert r.status_code == 400 and error_of(r)["code"] == "malformed_json"
        else:
            assert r.status_code == 422, r.text
            assert [d["field"] for d in error_of(r)["details"]] == ["description"]
        r = post(c, "/v1/reports", report | {"contact_name": odd + "x"})
        assert r.status_code in (400, 422), r.text
        r = post(c, "/v1/appeals", {"content_id": "c-1", "appellant": "uploader", "text": odd})
        assert r.status_code in (400, 422) and "text" in r.text


@pytest.mark.parametrize("loose", [0, 1, "true", "false", "yes", 1.0, None])
def test_booleans_and_integers_are_only_what_they_say(live_server, container, loose):
    """JSON's true and false are booleans, its integers integers: `good_faith_statement: 0`
    or `"true"` is a 422 naming the field, never read as a statement made (or not)."""
    reporter = {"Authorization": f"Bearer {add_key(container, 'p', Scope.report, Scope.scan)[1]}"}
    lead = {"Authorization": f"Bearer {add_staff(container, 'lead', Role.child_safety_lead)}"}
    ncii = {
        "content_id": "post-1",
        "category": "ncii",
        "reporter_role": "depicted_person",
        "signature": "A Person",
        "good_faith_statement": loose,
    }
    with live_server.client() as c:
        answers = {
            "body.good_faith_statement": c.post("/v1/reports", json=ncii, headers=reporter),
            "body.depicted_minor": c.post(
                "/v1/reports",
                json={**ncii, "good_faith_statement": True, "depicted_minor": loose},
                headers=reporter,
            ),
            "body.enabled": c.post(
                "/v1/banks",
                json={"name": "b", "policy": "review", "enabled": loose},
                headers=lead,
            ),
        }
        if isinstance(loose, bool | str | float):  # 0 and 1 are integers; null is absent
            answers["body.views"] = c.post(
                "/v1/content/x/stats", json={"views": loose}, headers=reporter
            )
        for field, r in answers.items():
            if loose is None and field == "body.depicted_minor":
                assert r.status_code == 201, r.text  # "not said" is what null means there
                continue
            assert r.status_code == 422, (field, r.status_code, r.text)
            assert field in [d["field"] for d in error_of(r)["details"]], r.text
        with container.uow(readonly=True) as uow:
            filed = uow.cases.case_ids_for_content("post-1")
        assert len(filed) == (1 if loose is None else 0)  # only the null was a valid report
