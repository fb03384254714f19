"""Media for review through a running server: the platform's media server is asked with a
signed request; the console sends blurred, grayscale renditions only, and the original of one
item only after a reveal, to the session that revealed it, for a short while."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image, ImageFilter

from takedown.identity import Role, Scope
from takedown.services import accounts
from tests.conftest import OPERATOR, add_key, add_staff, console_login, make_settings
from tests.review_support import SECRET, file_report

pytestmark = pytest.mark.sqlite_only  # Media handling does not depend on the database


@pytest.fixture
def settings(database_url, tmp_path, media):
    return make_settings(
        database_url,
        tmp_path,
        platform_media_url=media.template,
        platform_webhook_secret=SECRET,
        review_daily_reveal_cap=3,
    )


@pytest.fixture
def reviewers(container):
    add_staff(container, "ana", Role.reviewer, token=False)
    add_staff(container, "ben", Role.reviewer, token=False)
    with container.uow(readonly=True) as uow:
        ids = {u.name: u.id for u in uow.users.list()}
    for name in ("ana", "ben"):
        accounts.set_child_safety(
            uow=container.uow(), actor=OPERATOR, user_id=ids[name], granted=True
        )
    _, key = add_key(container, "platform", Scope.report)
    return key


def _sharpness(image: Image.Image) -> float:
    """Variance of the Laplacian of the luma: how much fine detail an image holds."""
    a = np.asarray(image.convert("L"), dtype=np.float64)
    lap = a[1:-1, 1:-1] * 4 - a[:-2, 1:-1] - a[2:, 1:-1] - a[1:-1, :-2] - a[1:-1, 2:]
    return float(lap.var())


def _linked(html: str) -> list[str]:
    return sorted(set(re.findall(r'(?:src|href)="(/[^"#]*)"', html)))


def test_every_byte_the_console_sends_before_reveal_is_blurred(live_server, media, reviewers):
    original = media.add("post-1", n=0)
    with live_server.client() as client:
        case = file_report(client, reviewers, "post-1", category="csam", depicted_minor=True)
        case_id = case["case_id"]
    shown = Image.open(io.BytesIO(original))
    sharp = _sharpness(shown.resize((512, 384)))
    probe = original[len(original) // 2 : len(original) // 2 + 48]
    with live_server.client() as client:
        console_login(client, "ana")
        sent: list[tuple[str, bytes]] = []

        def read(path: str, answer) -> str:
            sent.append((path, answer.content))
            for link in _linked(answer.text):
                sent.append((link, client.get(link).content))
            return answer.text

        for path in ("/console/queue", f"/console/cases/{case_id}"):
            answer = client.get(path)
            assert answer.status_code == 200, answer.text
            read(path, answer)
        case_page = client.get(f"/console/cases/{case_id}?proceed=1")
        read("case page", case_page)
        claimed = client.post(
            f"/console/cases/{case_id}/claim",
            data={"csrf_token": _csrf(case_page.content)},
            follow_redirects=True,
        )
        assert "You hold this case" in read("claimed", claimed)
        images = [(p, body) for p, body in sent if "/blurred/" in p]
        assert images, "the case page shows the item"
        for path, body in sent:
            assert body != original, path
            assert probe not in body, path
        for path, body in images:
            rendition = Image.open(io.BytesIO(body))
            assert rendition.mode == "L", path  # grayscale
            assert max(rendition.size) <= 512
            assert _sharpness(rendition) < sharp * 0.02, path
        # Blurring is what removed the detail: the same image unblurred at that size keeps it.
        assert (
            _sharpness(shown.resize((512, 384)).filter(ImageFilter.GaussianBlur(1))) > sharp * 0.1
        )
    assert media.requests and all(ok for _, ok in media.requests)


def _csrf(html: bytes) -> str:
    found = re.search(rb'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1).decode()


def test_a_reveal_opens_one_item_for_one_session_for_a_while(live_server, media, reviewers):
    original = media.add("post-2", n=1)
    with live_server.client() as client:
        case_id = file_report(client, reviewers, "post-2", category="ncii")["case_id"]
    container = live_server.container
    with live_server.client() as ana, live_server.client() as ben:
        console_login(ana, "ana")
        console_login(ben, "ben")
        page = ana.get(f"/console/cases/{case_id}?proceed=1")
        assert "/console/revealed/" not in page.text
        answer = ana.post(
            f"/console/cases/{case_id}/items/0/reveal", data={"csrf_token": _csrf(page.content)}
        )
        assert answer.status_code == 303
        token = re.search(r"reveal=([^#&]+)", answer.headers["location"]).group(1)
        revealed = ana.get(answer.headers["location"])
        assert f"/console/revealed/{token}" in revealed.text
        assert "Revealed today: 1" in revealed.text
        got = ana.get(f"/console/revealed/{token}")
        assert got.status_code == 200
        assert got.content == original
        assert got.headers["content-type"] == "image/jpeg"
        assert "no-store" in got.headers["cache-control"]
        # Another session, even of a reviewer who may see the case, cannot use it.
        assert ben.get(f"/console/revealed/{token}").status_code == 404
        altered = token[:-1] + ("0" if token[-1] != "0" else "1")
        assert ana.get(f"/console/revealed/{altered}").status_code == 404
        container.clock.advance(180)
        assert ana.get(f"/console/revealed/{token}").status_code == 404
        with container.uow(readonly=True) as uow:
            actions = [e.action for e in uow.audit.list(target_type="case", target_id=str(case_id))]
        assert actions.count("media.revealed") == 1

        # The daily cap (3 here) bites at the fourth.
        for _ in range(2):
            page = ana.get(f"/console/cases/{case_id}?proceed=1")
            ana.post(
                f"/console/cases/{case_id}/items/0/reveal",
                data={"csrf_token": _csrf(page.content)},
            )
        page = ana.get(f"/console/cases/{case_id}?proceed=1")
        capped = ana.post(
            f"/console/cases/{case_id}/items/0/reveal", data={"csrf_token": _csrf(page.content)}
        )
        assert capped.status_code == 409
        assert "daily cap" in capped.text


def test_an_item_the_platform_no_longer_has_is_said_so(live_server, media, reviewers):
    with live_server.client() as client:
        case_id = file_report(client, reviewers, "post-gone", category="policy")["case_id"]
        console_login(client, "ana")
        image = client.get(f"/console/cases/{case_id}/items/0/blurred/0.jpg")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/svg+xml"
    assert b"no longer has" in image.content
    assert media.requests == [("post-gone", True)]


def test_without_the_child_safety_permission_no_page_shows_a_minor_case(
    live_server, media, reviewers, container
):
    media.add("post-kid", n=4)
    add_staff(container, "cy", Role.reviewer, token=False)  # no grant
    with live_server.client() as client:
        case_id = file_report(
            client, reviewers, "post-kid", category="other_illegal", depicted_minor=True
        )["case_id"]
    with live_server.client() as cy:
        console_login(cy, "cy")
        queue = cy.get("/console/queue")
        assert f"TD-{case_id:07d}" not in queue.text
        token = _csrf(queue.content)
        for method, path in [
            ("GET", f"/console/cases/{case_id}"),
            ("GET", f"/console/cases/{case_id}?proceed=1"),
            ("GET", f"/console/cases/{case_id}/items/0/blurred/0.jpg"),
            ("POST", f"/console/cases/{case_id}/items/0/reveal"),
            ("POST", f"/console/cases/{case_id}/claim"),
            ("POST", f"/console/cases/{case_id}/decide"),
            ("POST", f"/console/cases/{case_id}/message"),
        ]:
            data = {"csrf_token": token, "outcome": "no_violation", "reason": "x", "body": "x"}
            answer = cy.request(method, path, data=data if method == "POST" else None)
            assert answer.status_code == 404, (path, answer.status_code)
            assert b"post-kid" not in answer.content
            # In the browser every error is a page, never raw JSON.
            assert answer.headers["content-type"].startswith("text/html"), (path, answer.text)
            assert "We could not find this page" in answer.text, path
        # A hidden case answers as a missing one does, whatever item is asked for.
        missing = case_id + 1000
        answers = {
            (path_case == case_id, item): cy.get(
                f"/console/cases/{path_case}/items/{item}/blurred/0.jpg"
            )
            for path_case in (case_id, missing)
            for item in (0, 7)
        }
        bodies = {re.sub(rb'"request_id":"[^"]*"|TD-\d+', b"", a.content) for a in answers.values()}
        assert {a.status_code for a in answers.values()} == {404}
        assert len(bodies) == 1, bodies
    assert media.requests == []  # nothing of it was even fetched


def test_an_admin_grants_and_withdraws_the_child_safety_permission(live_server, container):
    add_staff(container, "root", Role.admin, token=False)
    add_staff(container, "dan", Role.reviewer, token=False)
    with container.uow(readonly=True) as uow:
        dan = uow.users.get_by_name("dan")
    with live_server.client() as admin:
        console_login(admin, "root")
        page = admin.get("/console/users")
        assert "Grant child safety to dan" in page.text
        granted = admin.post(
            f"/console/users/{dan.id}/child-safety",
            data={"csrf_token": _csrf(page.content), "granted": "1"},
            follow_redirects=True,
        )
        assert "Withdraw child safety from dan" in granted.text
    with container.uow(readonly=True) as uow:
        assert uow.users.get(dan.id).child_safety


def test_a_reviewer_makes_the_view_safer_for_themselves_never_less_safe(
    live_server, media, reviewers
):
    media.add("post-view", n=5)
    with live_server.client() as client:
        case_id = file_report(client, reviewers, "post-view", category="policy")["case_id"]
    with live_server.client() as ana:
        console_login(ana, "ana")
        plain = ana.get(f"/console/cases/{case_id}")
        assert "before you open it" not in plain.text  # policy: no warning screen by default
        before = Image.open(
            io.BytesIO(ana.get(f"/console/cases/{case_id}/items/0/blurred/0.jpg").content)
        )
        form = ana.get("/console/me/view")
        saved = ana.post(
            "/console/me/view",
            data={
                "csrf_token": _csrf(form.content),
                "blur_radius": "80",
                "always_grayscale": "1",
                "always_warn": "1",
            },
            follow_redirects=True,
        )
        assert "Saved." in saved.text
        assert "policy</td><td>80 px" in saved.text
        assert "before you open it" in ana.get(f"/console/cases/{case_id}").text
        after = Image.open(
            io.BytesIO(ana.get(f"/console/cases/{case_id}/items/0/blurred/0.jpg").content)
        )
        assert _sharpness(after) < _sharpness(before)
        # Asking for less blur than the settings give changes nothing.
        less = ana.post(
            "/console/me/view",
            data={"csrf_token": _csrf(form.content), "blur_radius": "5"},
            follow_redirects=True,
        )
        assert "policy</td><td>24 px" in less.text and "csam</td><td>32 px" in less.text
        bad = ana.post(
            "/console/me/view", data={"csrf_token": _csrf(form.content), "blur_radius": "1"}
        )
        assert bad.status_code == 422
