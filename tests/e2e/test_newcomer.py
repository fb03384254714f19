"""What a newcomer meets first: a front door for the public, pages (never raw JSON) for
errors on pages, a status page that says what was reported and to keep the link private, API
errors that name the API's own fields, and a demo that prints the report form, keeps one
demo key, and shows reporters' e-mails in a mailbox."""

import re

from takedown.bootstrap import default_registry
from takedown.demo import DEMO_KEY, load_demo
from takedown.identity import Role, Scope
from takedown.server.container import Container
from takedown.services import keys
from tests.conftest import (
    OPERATOR,
    add_key,
    add_staff,
    console_login,
    make_settings,
    start_live_server,
)
from tests.waiting import wait_until


def test_the_front_door_offers_the_report_form(live_server):
    with live_server.client() as c:
        home = c.get("/")
        assert home.status_code == 200 and "text/html" in home.headers["content-type"]
        assert 'href="/report"' in home.text and "Report content" in home.text


def test_errors_on_pages_are_pages(live_server):
    with live_server.client() as c:
        missing = c.get("/console/nowhere")
        assert missing.status_code == 404 and "text/html" in missing.headers["content-type"]
        huge = c.post(
            "/report",
            data={"category": "policy", "reporter_role": "user", "description": "x" * 2_000_000},
        )
        assert huge.status_code == 413 and "text/html" in huge.headers["content-type"]
        assert "too large" in huge.text
        api = c.get("/v1/nowhere")
        assert api.status_code == 404 and api.headers["content-type"] == "application/json"


def test_the_status_page_says_what_was_reported_and_to_keep_the_link_private(live_server):
    with live_server.client() as c:
        received = c.post(
            "/report",
            data={
                "content_url": "https://example.com/p/77",
                "category": "ncii",
                "reporter_role": "depicted_person",
            },
        )
        link = re.search(r'id="status-link" href="([^"]+)"', received.text).group(1)
        page = c.get(link).text
        assert "https://example.com/p/77" in page
        assert "shared without their consent" in page
        assert "Keep this page" in page and "private" in page


def test_api_errors_name_the_fields_the_api_has(live_server, container):
    platform = {"Authorization": f"Bearer {add_key(container, 'p', Scope.report)[1]}"}
    with live_server.client() as c:
        r = c.post(
            "/v1/reports",
            headers=platform,
            json={
                "content_id": "x",
                "category": "policy",
                "reporter_role": "user",
                "contact": {"email": "not-an-address"},
            },
        )
        assert r.status_code == 422
        error = r.json()["error"]
        assert error["details"][0]["field"] == "contact.email"
        assert "contact_email" not in r.text


def test_the_demo_keeps_one_active_demo_key(container):
    first = load_demo(container)
    second = load_demo(container)
    listed = keys.list_api_keys(uow=container.uow(readonly=True), actor=OPERATOR)
    demo = [k for k in listed if k.name == DEMO_KEY]
    assert len(demo) == 2 and sum(k.revoked_at is None for k in demo) == 1
    assert first != second


def test_the_demo_mailbox_shows_reporters_emails_in_the_console(tmp_path, database_url, db):
    settings = make_settings(database_url, tmp_path, mailbox=True)
    container = Container(settings=settings, db=db, registry=default_registry(settings))
    live = start_live_server(container)
    add_staff(container, "boss", Role.admin, token=False)
    try:
        with live.client() as c:
            sent = c.post(
                "/report",
                data={
                    "content_id": "m-1",
                    "category": "policy",
                    "reporter_role": "user",
                    "contact_email": "mum@example.org",
                },
            )
            assert sent.status_code == 201
            console_login(c, "boss")

            def delivered():
                page = c.get("/console/mailbox")
                return page if "mum@example.org" in page.text else None

            box = wait_until(delivered, timeout=15, what="the e-mail in the mailbox")
            assert "mum@example.org" in box.text and "/status/" in box.text
    finally:
        live.server.should_exit = True
        live.thread.join(15)
