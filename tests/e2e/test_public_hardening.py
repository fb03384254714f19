"""The public page as an attacker and as a real reporter meet it: form keys scoped so no one
reaches another's report, status links on the configured address only, tokens kept out of
logs, and a rate limit that counts only accepted reports, gives replies their own limit,
keeps refused text and holds across processes."""

import html
import logging
import re

import pytest

from takedown.bootstrap import default_registry
from takedown.clock import MovableClock
from takedown.config import ConfigError, Settings
from takedown.server.container import Container
from takedown.store import Database
from tests.conftest import make_settings, start_live_server
from tests.e2e.test_reports_api import status_link
from tests.waiting import wait_until


def _key(page: str) -> str:
    found = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert found, page
    return html.unescape(found.group(1))


_link = status_link


def _stop(live):
    live.server.should_exit = True
    live.thread.join(15)


@pytest.fixture
def server(tmp_path, database_url, db):
    settings = make_settings(database_url, tmp_path, report_page_limit=3, status_reply_limit=2)
    live = start_live_server(
        Container(settings=settings, db=db, registry=default_registry(), clock=MovableClock())
    )
    yield live
    _stop(live)


def test_another_reporters_form_key_never_reaches_their_report(server):
    with server.client() as client:
        page = client.get("/report")
        assert page.headers["cache-control"] == "no-store"
        key = _key(page.text)
        victim = {"content_id": "v-1", "category": "ncii", "reporter_role": "depicted_person"}
        first = client.post("/report", data={**victim, "idempotency_key": key})
        again = client.post("/report", data={**victim, "idempotency_key": key})
        assert first.status_code == again.status_code == 201
        assert _link(first.text) == _link(again.text)  # a double submit is one report
        attacker = {"content_id": "x", "category": "policy", "reporter_role": "user"}
        stolen = client.post("/report", data={**attacker, "idempotency_key": key})
        assert stolen.status_code == 201
        assert _link(stolen.text) != _link(first.text)
        made_up = client.post("/report", data={**victim, "idempotency_key": "form-1"})
        assert _link(made_up.text) != _link(first.text)
    with server.container.uow(readonly=True) as uow:
        count = uow.session.execute(__import__("sqlalchemy").text("SELECT count(*) FROM reports"))
        assert count.scalar() == 3  # the victim's, the attacker's, the made-up key's


def test_status_links_use_the_configured_address_never_the_host_header(server):
    with server.client() as client:
        form = {"content_id": "h-1", "category": "policy", "reporter_role": "user"}
        page = client.post("/report", data=form, headers={"Host": "evil.example"})
        assert page.status_code == 201
        assert _link(page.text).startswith(server.url + "/status/")
        assert "evil.example" not in page.text


def test_production_refuses_to_start_without_a_public_url(tmp_path):
    with pytest.raises(ConfigError, match="TAKEDOWN_PUBLIC_URL"):
        Settings(mode="production", data_dir=tmp_path).check_production()
    with pytest.raises(ConfigError, match="TAKEDOWN_EVIDENCE_KEY"):
        Settings(
            mode="production", data_dir=tmp_path, public_url="https://safety.example.com"
        ).check_production()
    Settings(
        mode="production",
        data_dir=tmp_path,
        public_url="https://safety.example.com",
        evidence_key="ab" * 32,
    ).check_production()
    with pytest.raises(ValueError, match="public_url"):
        Settings(public_url="javascript:alert(1)")


def test_status_tokens_never_reach_the_request_log(server, caplog):
    with server.client() as client:
        form = {"content_id": "l-1", "category": "policy", "reporter_role": "user"}
        link = _link(client.post("/report", data=form).text)
        token = link.rsplit("/", 1)[1]
        with caplog.at_level(logging.INFO, logger="takedown.http"):
            page = client.get(link)
            client.post(link + "/reply", data={"message": "hello", "kind": "reply"})
            # The access line is written just after the answer is sent: wait for both.
            wait_until(lambda: len(_status_paths(caplog)) >= 2, what="both access lines")
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["cache-control"] == "no-store"
    paths = _status_paths(caplog)
    assert len(paths) == 2
    for path in paths:
        assert token not in path and token[14:] not in path
        assert path.startswith("/status/" + token[:14])


def _status_paths(caplog):
    return [r.path for r in caplog.records if getattr(r, "path", "").startswith("/status/")]


def test_refused_reports_do_not_count_and_replies_have_their_own_limit(server):
    with server.client() as client:
        for _ in range(5):  # refused: no category
            bad = client.post("/report", data={"content_id": "r", "reporter_role": "user"})
            assert bad.status_code == 422
        form = {"content_id": "r-1", "category": "policy", "reporter_role": "user"}
        pages = [client.post("/report", data=form) for _ in range(3)]
        assert [p.status_code for p in pages] == [201, 201, 201]
        assert client.post("/report", data=form).status_code == 429
        link = _link(pages[0].text)
        for n in range(2):  # the report limit is spent; the link's own is not
            sent = client.post(link + "/reply", data={"message": f"m{n}", "kind": "reply"})
            assert sent.status_code == 303
        refused = client.post(link + "/reply", data={"message": "keep me <b>", "kind": "reply"})
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert "keep me &lt;b&gt;</textarea>" in refused.text
        other = _link(pages[1].text)
        ok = client.post(other + "/reply", data={"message": "mine", "kind": "reply"})
        assert ok.status_code == 303
        empty = client.post(other + "/reply", data={"message": "   ", "kind": "appeal"})
        assert empty.status_code == 422
        appeal = client.post(other + "/reply", data={"message": "typed", "kind": "appeal"})
        assert appeal.status_code == 422 and "typed</textarea>" in appeal.text
    server.container.clock.advance(1300)  # two windows later, the limit is fresh
    with server.client() as client:
        assert client.post("/report", data=form).status_code == 201


def test_the_same_anonymous_reporter_counts_once(server):
    with server.client() as client:
        form = {"content_id": "same", "category": "csam", "reporter_role": "user"}
        first = client.post("/report", data=form)
        second = client.post("/report", data={**form, "description": "again"})
        assert first.status_code == second.status_code == 201
    with server.container.uow(readonly=True) as uow:
        case = uow.cases.get(uow.reports.by_status_digest(_digest(_link(first.text))).case_id)
    assert case.facts.reporters == 1
    assert "more_reporters" not in [r["code"] for r in case.reasons]


def _digest(link: str) -> str:
    from takedown.services.reports import status_digest

    return status_digest(link.rsplit("/", 1)[1])


def test_the_report_limit_holds_across_processes(tmp_path, database_url):
    lives = []
    try:
        for n in range(2):
            settings = make_settings(database_url, tmp_path / str(n), report_page_limit=3)
            db = Database(database_url)
            lives.append(start_live_server(Container(settings=settings, db=db)))
        form = {"content_id": "p", "category": "policy", "reporter_role": "user"}
        answers = []
        for n in range(4):
            with lives[n % 2].client() as client:
                answers.append(client.post("/report", data=form).status_code)
        assert answers == [201, 201, 201, 429]
    finally:
        for live in lives:
            _stop(live)
            live.container.db.dispose()


@pytest.mark.parametrize("odd", ["\ufffe", "\uffff", "\x07"])
def test_the_public_form_refuses_text_no_document_can_carry_and_keeps_the_rest(server, odd):
    """On the public form (and a status page's reply) a character XML forbids is a page
    naming the field, with everything typed kept; nothing is filed."""
    with server.client() as client:
        form = {
            "content_id": "r-odd",
            "category": "csam",
            "reporter_role": "user",
            "description": f"it is here {odd} please",
            "contact_name": "Kept Name",
        }
        page = client.post("/report", data=form)
        assert page.status_code == 422, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert "Kept Name" in page.text and "description" in page.text.lower()
        ok = client.post("/report", data={**form, "description": "it is here please"})
        assert ok.status_code == 201
        link = _link(ok.text)
        reply = client.post(link + "/reply", data={"message": f"more {odd}", "kind": "reply"})
        assert reply.status_code == 422 and reply.headers["content-type"].startswith("text/html")
    with server.container.uow(readonly=True) as uow:
        [case_id] = uow.cases.case_ids_for_content("r-odd")
        assert len(uow.reports.for_case(case_id)) == 1
        assert all(odd not in m.body for m in uow.case_messages.for_case(case_id))
