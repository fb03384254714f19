"""Report intake over real HTTP: the public page and ``/v1/reports`` merge into one case, the
page asks for no identity document, idempotency and concurrency hold on both databases, and
bad input gets clear answers."""

import html
import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from takedown.identity import Scope
from tests.conftest import add_key, make_settings, start_live_server

FORBIDDEN_WORDS = (
    "passport",
    "identity document",
    "id card",
    "driver",
    "licence",
    "license",
    "photo id",
    "upload",
)


def status_link(page: str) -> str:
    match = re.search(r'id="status-link" href="([^"]+)"', page)
    assert match, page
    return html.unescape(match.group(1))


def case_number_on(page: str) -> str:
    match = re.search(r'id="case-number">([^<]+)<', page)
    assert match, page
    return match.group(1)


@pytest.fixture
def platform(container):
    return add_key(container, "platform", Scope.report)[1]


def test_three_reporters_one_case_at_p0_with_every_reason(live_server, platform):
    with live_server.client() as client:
        anonymous = client.post(
            "/report",
            data={
                "content_id": "vid-9",
                "category": "csam",
                "reporter_role": "user",
                "depicted_minor": "unknown",
                "idempotency_key": "form-1",
            },
        )
        assert anonymous.status_code == 201
        assert anonymous.headers["cache-control"] == "no-store"
        auth = {"Authorization": f"Bearer {platform}"}
        minor = client.post(
            "/v1/reports",
            headers=auth,
            json={
                "content_id": "vid-9",
                "category": "csam",
                "reporter_role": "depicted_person",
                "depicted_minor": True,
                "law_enforcement": {"agency": "Police Scotland", "case_number": "CR/2026/77"},
                "contact": {"email": "teen@example.org"},
            },
        )
        parent = client.post(
            "/v1/reports",
            headers=auth,
            json={
                "content_id": "vid-9",
                "category": "csam",
                "reporter_role": "parent_guardian",
                "depicted_minor": True,
                "contact": {"name": "Mum", "email": "mum@example.org"},
            },
        )
        assert minor.status_code == parent.status_code == 201, (minor.text, parent.text)
        numbers = {
            case_number_on(anonymous.text),
            minor.json()["case_number"],
            parent.json()["case_number"],
        }
        assert len(numbers) == 1
        body = parent.json()
        assert body["priority"] == "P0"
        assert body["status_url"].startswith(live_server.url + "/status/")
        status_page = client.get(parent.json()["status_url"])
        assert status_page.status_code == 200
        assert case_number_on(status_page.text) == body["case_number"]
    with live_server.container.uow(readonly=True) as uow:
        case = uow.cases.get(body["case_id"])
    assert [r["code"] for r in case.reasons] == [
        "csam_minor",
        "depicted_person",
        "parent_guardian",
        "police_case_number",
        "more_reporters",
    ]
    assert case.facts.reporters == 3


def test_no_field_asks_for_an_identity_document_and_csam_needs_no_contact(live_server, platform):
    with live_server.client() as client:
        page = client.get("/report").text
        form = page[page.index("<form") : page.index("</form>")]
        names = set(re.findall(r'name="([^"]+)"', form))
        assert names == {
            "idempotency_key",
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
        }
        assert 'type="file"' not in page
        visible = re.sub(r"<[^>]+>", " ", page).lower()
        assert "never ask" in visible and "identity document" in visible
        for word in FORBIDDEN_WORDS:
            if word == "identity document":
                continue
            assert word not in visible, word
        spec = client.get("/openapi.json").json()
        # The route reads its body itself; the document still names it.
        body = spec["paths"]["/v1/reports"]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"] == {"$ref": "#/components/schemas/ReportCreate"}
        schema = spec["components"]["schemas"]
        assert {"Contact", "LawEnforcement", "Category", "ReporterRole"} <= set(schema)
        fields = set(schema["ReportCreate"]["properties"])
        assert not {f for f in fields if re.search(r"id_doc|passport|identity|licen", f)}
        anonymous_page = client.post(
            "/report",
            data={
                "content_url": "https://example.com/v/1",
                "category": "csam",
                "reporter_role": "user",
            },
        )
        assert anonymous_page.status_code == 201
        api = client.post(
            "/v1/reports",
            headers={"Authorization": f"Bearer {platform}"},
            json={"content_id": "x1", "category": "csam", "reporter_role": "user"},
        )
        assert api.status_code == 201, api.text


def test_ncii_page_says_48_hours_and_what_a_valid_request_needs(live_server):
    with live_server.client() as client:
        page = client.get("/report").text
        assert "48 hours" in page and "TAKE IT DOWN" in page
        partial = client.post(
            "/report",
            data={"content_id": "img-1", "category": "ncii", "reporter_role": "depicted_person"},
        )
        assert partial.status_code == 201
        assert "To start the 48-hour removal clock" in partial.text
        assert "signature" in partial.text
        valid = client.post(
            "/report",
            data={
                "content_id": "img-2",
                "category": "ncii",
                "reporter_role": "depicted_person",
                "signature": "Ana Example",
                "good_faith_statement": "yes",
                "contact_email": "ana@example.org",
            },
        )
        assert valid.status_code == 201
        assert "To start the 48-hour removal clock" not in valid.text
        assert "removed by" in valid.text


def test_same_idempotency_key_from_fifty_callers_at_once_is_one_report(live_server, platform):
    body = {
        "content_id": "dup",
        "category": "policy",
        "reporter_role": "user",
        "idempotency_key": "button-press-1",
    }

    def send(_):
        with httpx.Client(base_url=live_server.url, timeout=30) as c:
            return c.post("/v1/reports", json=body, headers={"Authorization": f"Bearer {platform}"})

    with ThreadPoolExecutor(25) as pool:
        answers = list(pool.map(send, range(50)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["report_id"] for a in answers}) == 1
    assert len({a.json()["status_url"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replayed") == "true" for a in answers) == 49
    with live_server.container.uow(readonly=True) as uow:
        assert uow.reports.count() == 1


def test_five_hundred_parallel_reports_about_one_item_are_one_case(live_server, platform):
    def send(i):
        with httpx.Client(base_url=live_server.url, timeout=60) as c:
            return c.post(
                "/v1/reports",
                headers={"Authorization": f"Bearer {platform}"},
                json={
                    "content_id": "viral-1",
                    "category": "csam",
                    "reporter_role": "user",
                    "contact": {"email": f"p{i}@example.org"},
                },
            )

    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(send, range(500)))
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["case_id"] for a in answers}) == 1
    with live_server.container.uow(readonly=True) as uow:
        assert uow.reports.count() == 500


def test_reporter_roles_need_the_right_key(live_server, container, platform):
    police = add_key(container, "police", Scope.law_enforcement)[1]
    scan_only = add_key(container, "uploads", Scope.scan)[1]
    claim = {
        "content_id": "c",
        "category": "other_illegal",
        "reporter_role": "law_enforcement",
        "law_enforcement": {"agency": "FBI", "case_number": "1"},
    }
    with live_server.client() as client:
        refused = client.post(
            "/v1/reports", json=claim, headers={"Authorization": f"Bearer {platform}"}
        )
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "role_not_allowed"
        allowed = client.post(
            "/v1/reports", json=claim, headers={"Authorization": f"Bearer {police}"}
        )
        assert allowed.status_code == 201 and allowed.json()["priority"] == "P0"
        no_scope = client.post(
            "/v1/reports", json=claim, headers={"Authorization": f"Bearer {scan_only}"}
        )
        assert no_scope.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"category": "csam", "reporter_role": "user"}, "content_id"),
        ({"content_id": "a", "category": "nope", "reporter_role": "user"}, "category"),
        ({"content_id": "a", "category": "csam", "reporter_role": "user", "ssn": "1"}, "ssn"),
        (
            {
                "content_id": "a",
                "category": "csam",
                "reporter_role": "user",
                "description": "x" * 5001,
            },
            "description",
        ),
        (
            {
                "content_id": "a",
                "category": "csam",
                "reporter_role": "user",
                "contact": {"email": "nope"},
            },
            "contact.email",
        ),
        ({"content_id": "a" * 257, "category": "csam", "reporter_role": "user"}, "content_id"),
    ],
)
def test_bad_reports_get_a_clear_error_naming_the_field(live_server, platform, body, field):
    with live_server.client() as client:
        answer = client.post(
            "/v1/reports", json=body, headers={"Authorization": f"Bearer {platform}"}
        )
    assert answer.status_code == 422, answer.text
    assert field in answer.text


def test_the_pages_are_safe_against_script_injection(live_server):
    script = "<script>alert('x')</script>"
    with live_server.client() as client:
        received = client.post(
            "/report",
            data={
                "content_id": script,
                "category": "policy",
                "reporter_role": "user",
                "description": script,
            },
        )
        assert received.status_code == 201
        assert script not in received.text
        link = status_link(received.text)
        client.post(link + "/reply", data={"message": script, "kind": "reply"})
        page = client.get(link).text
        assert script not in page and "&lt;script&gt;" in page
        bad = client.post(
            "/report", data={"content_id": script, "category": script, "reporter_role": "user"}
        )
        assert bad.status_code == 422 and script not in bad.text


def test_the_public_form_is_rate_limited_with_a_friendly_page(tmp_path, database_url, db):
    from takedown.bootstrap import default_registry
    from takedown.server.container import Container

    settings = make_settings(database_url, tmp_path, report_page_limit=2)
    live = start_live_server(Container(settings=settings, db=db, registry=default_registry()))
    try:
        with live.client() as client:
            form = {"content_id": "a", "category": "policy", "reporter_role": "user"}
            assert client.post("/report", data=form).status_code == 201
            assert client.post("/report", data=form).status_code == 201
            third = client.post("/report", data=form)
            assert third.status_code == 429
            assert "Please wait a little" in third.text
            assert int(third.headers["Retry-After"]) > 0
            assert client.get("/report").status_code == 200  # reading the form is not limited
    finally:
        live.server.should_exit = True
        live.thread.join(15)


def test_form_errors_keep_what_was_typed_and_name_the_field(live_server):
    with live_server.client() as client:
        answer = client.post(
            "/report",
            data={
                "content_url": "ftp://x",
                "category": "policy",
                "reporter_role": "user",
                "description": "kept text",
            },
        )
    assert answer.status_code == 422
    assert "Link to the content" in answer.text
    assert "kept text" in answer.text


def test_unknown_status_links_and_empty_replies(live_server):
    with live_server.client() as client:
        assert client.get("/status/not-a-real-token").status_code == 404
        received = client.post(
            "/report", data={"content_id": "q", "category": "policy", "reporter_role": "user"}
        )
        link = status_link(received.text)
        empty = client.post(link + "/reply", data={"message": "  ", "kind": "reply"})
        assert empty.status_code == 422 and "write a message" in empty.text
        early = client.post(link + "/reply", data={"message": "I appeal", "kind": "appeal"})
        assert early.status_code == 422 and "no decision to appeal" in early.text


def test_fast_growing_exposure_raises_the_case(live_server, container, platform):
    uploads = add_key(container, "uploads", Scope.scan)[1]
    with live_server.client() as client:
        report = client.post(
            "/v1/reports",
            headers={"Authorization": f"Bearer {platform}"},
            json={"content_id": "spreading", "category": "other_illegal", "reporter_role": "user"},
        ).json()
        assert report["priority"] == "P2"
        stats = client.post(
            "/v1/content/spreading/stats",
            headers={"Authorization": f"Bearer {uploads}"},
            json={"views": 50_000, "reposts": 400},
        )
        assert stats.status_code == 200, stats.text
        assert stats.json()["fast_growing"] is True
        assert stats.json()["cases_raised"] == [report["case_id"]]
    with container.uow(readonly=True) as uow:
        case = uow.cases.get(report["case_id"])
    assert case.priority.value == "P1"
    assert "fast_exposure" in [r["code"] for r in case.reasons]
    assert case.respond_by < __import__("datetime").datetime.fromisoformat(report["respond_by"])


text_or_junk = st.one_of(
    st.none(), st.text(max_size=40), st.integers(), st.booleans(), st.lists(st.text(max_size=5))
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.fixed_dictionaries(
        {
            "content_id": text_or_junk,
            "category": st.one_of(st.sampled_from(["csam", "ncii", "policy"]), text_or_junk),
            "reporter_role": st.one_of(st.sampled_from(["user", "depicted_person"]), text_or_junk),
        },
        optional={
            "contact": st.one_of(
                st.fixed_dictionaries({"email": text_or_junk, "name": text_or_junk}), text_or_junk
            ),
            "description": text_or_junk,
            "depicted_minor": text_or_junk,
            "idempotency_key": text_or_junk,
            "law_enforcement": st.one_of(
                st.fixed_dictionaries({"agency": text_or_junk, "case_number": text_or_junk}),
                text_or_junk,
            ),
        },
    )
)
def test_fuzzed_reports_get_201_or_a_clear_4xx(live_server, platform, body):
    with live_server.client() as client:
        answer = client.post(
            "/v1/reports", json=body, headers={"Authorization": f"Bearer {platform}"}
        )
    assert answer.status_code in (201, 403, 422), answer.text
    if answer.status_code != 201:
        assert answer.json()["error"]["message"]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    form=st.dictionaries(
        st.sampled_from(
            [
                "content_url",
                "content_id",
                "category",
                "reporter_role",
                "depicted_minor",
                "contact_email",
                "signature",
                "good_faith_statement",
                "description",
                "police_agency",
                "police_case_number",
                "idempotency_key",
            ]
        ),
        st.text(max_size=60),
        max_size=8,
    )
)
def test_fuzzed_report_forms_get_a_page_never_an_error(unlimited_server, form):
    with unlimited_server.client() as client:
        answer = client.post("/report", data=form)
    assert answer.status_code in (201, 422), answer.text
    assert answer.headers["content-type"].startswith("text/html")


@pytest.fixture
def unlimited_server(tmp_path, database_url, db):
    """A server whose public page is not rate limited (the limit has its own test)."""
    from takedown.bootstrap import default_registry
    from takedown.server.container import Container

    settings_ = make_settings(database_url, tmp_path, report_page_limit=10_000)
    live = start_live_server(Container(settings=settings_, db=db, registry=default_registry()))
    yield live
    live.server.should_exit = True
    live.thread.join(15)
