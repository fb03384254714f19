"""Reports that give only a link: the platform's resolve call joins them to the case of the
content they show; a link it does not know stays a link, shown as unresolved, never gone."""

from __future__ import annotations

import time

import pytest

from takedown.identity import Role, Scope
from takedown.services import audit
from tests.conftest import OPERATOR, add_key, add_staff, console_login, make_settings
from tests.review_support import SECRET, file_report


@pytest.fixture
def settings(database_url, tmp_path, media):
    return make_settings(
        database_url,
        tmp_path,
        platform_media_url=media.template,
        platform_resolve_url=media.resolve_url,
        platform_webhook_secret=SECRET,
    )


@pytest.fixture
def key(container):
    add_staff(container, "ana", Role.reviewer, token=False)
    return add_key(container, "platform", Scope.report)[1]


def by_link(client, key, link: str, **fields):
    body = {"content_url": link, "category": "policy", "reporter_role": "depicted_person"}
    answer = client.post(
        "/v1/reports", json=body | fields, headers={"Authorization": f"Bearer {key}"}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_link_the_platform_knows_joins_the_case_of_its_content(
    live_server, media, key, container
):
    media.add("post-7", n=2)
    link = "https://example.social/p/7"
    media.links[link] = ("post-7", "uploader-7")
    with live_server.client() as client:
        first = file_report(client, key, "post-7")
        receipt = by_link(client, key, link, contact={"email": "me@example.org"})
        assert receipt["case_id"] == first["case_id"]  # one case: the reporter follows it
    with container.uow(readonly=True) as uow:
        reports = uow.reports.for_case(first["case_id"])
        items = uow.cases.items(first["case_id"])
    assert [r.content_url for r in reports] == [None, link]  # the link is kept with it
    assert [i.content_id for i in items] == ["post-7"]  # and no url: item of its own
    assert media.resolved == [(link, True)]  # asked once, signed


def test_a_link_the_platform_does_not_know_is_unresolved_never_gone(
    live_server, media, key, container
):
    link = "https://elsewhere.example/x/1"
    with live_server.client() as client:
        receipt = by_link(client, key, link)
        console_login(client, "ana")
        image = client.get(f"/console/cases/{receipt['case_id']}/items/0/blurred/0.jpg")
    assert image.headers["content-type"] == "image/svg+xml"
    assert b"only a link was reported" in image.content
    assert b"no longer has" not in image.content
    assert media.requests == []  # no fetch of something that was never matched
    with container.uow(readonly=True) as uow:
        [item] = uow.cases.items(receipt["case_id"])
    assert item.content_id.startswith("url:")
    entries = audit.list_entries(uow=container.uow(readonly=True), actor=OPERATOR, limit=200)
    assert not [e for e in entries if e.action == "evidence.media_gone"]


def test_a_platform_that_does_not_answer_holds_no_report_up(tmp_path, database_url, db):
    """The resolve call has three seconds; a platform that never answers leaves the link
    unresolved and the report filed."""
    import socket

    from takedown.bootstrap import default_registry
    from takedown.clock import MovableClock
    from takedown.server.container import Container
    from tests.conftest import start_live_server

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts connections, never answers
    settings = make_settings(
        database_url,
        tmp_path,
        platform_resolve_url=f"http://127.0.0.1:{silent.getsockname()[1]}/resolve",
        platform_webhook_secret=SECRET,
    )
    container = Container(
        settings=settings, db=db, registry=default_registry(), clock=MovableClock()
    )
    key = add_key(container, "platform", Scope.report)[1]
    live = start_live_server(container)
    try:
        with live.client() as client:
            started = time.monotonic()
            receipt = by_link(client, key, "https://example.social/p/8")
            assert time.monotonic() - started < 10
        with container.uow(readonly=True) as uow:
            [item] = uow.cases.items(receipt["case_id"])
        assert item.content_id.startswith("url:")
    finally:
        live.server.should_exit = True
        live.thread.join(15)
        silent.close()
