"""Searching every case, open or closed, over HTTP (``GET /v1/cases``): by each key a case is
found by, with filters and keyset pages; and never a case about a minor for someone without
the child-safety permission, whatever key names it."""

from __future__ import annotations

import pytest

from takedown.cases import case_number
from takedown.identity import Role, Scope
from takedown.services import accounts
from tests.conftest import OPERATOR, add_key, add_staff
from tests.review_support import bearer, file_report

MD5 = "0123456789abcdef" * 2
PDQ = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22"
MINOR_MD5 = "fedcba9876543210" * 2
URL = "https://platform.example/p/9?ref=share&x=" + "é" * 40


@pytest.fixture
def world(container, live_server):
    """A platform key; a reviewer without the child-safety permission and a lead with it;
    three cases: one with a police report about registered content (decided, so its item
    is closed), one reported by link only, and one about a minor from the same account."""
    _, key = add_key(container, "platform", Scope.report)
    tokens = {
        "rev": add_staff(container, "rev", Role.reviewer),
        "lead": add_staff(container, "lead", Role.child_safety_lead),
    }
    with container.uow() as uow:
        for content_id, md5, pdq in (("post-1", MD5, PDQ), ("post-minor", MINOR_MD5, None)):
            uow.content.upsert(
                content_id=content_id,
                account_id="acct-1",
                parent_content_id=None,
                hashes={"md5": md5, "pdq": pdq},
                scanned=True,
            )
        uow.commit()
    with live_server.client() as client:
        police_case = {"agency": "Metropolitan Police", "case_number": "PC/2026/77"}
        police = file_report(client, key, "post-1", category="other_illegal",
                             law_enforcement=police_case)  # fmt: skip
        by_link = file_report(client, key, None, content_url=URL, category="policy")
        minor = file_report(client, key, "post-minor", category="csam", depicted_minor=True)
        case = police["case_id"]
        assert client.post(f"/v1/cases/{case}/claim", headers=bearer(tokens["lead"])).is_success
        decided = client.post(
            f"/v1/cases/{case}/decisions",
            json={"outcome": "violation", "category": "other_illegal", "reason": "unlawful"},
            headers=bearer(tokens["lead"]),
        )
        assert decided.status_code == 201, decided.text
    cases = {"police": case, "link": by_link["case_id"], "minor": minor["case_id"]}
    return live_server, tokens, cases


def _search(client, token, **params):
    answer = client.get("/v1/cases", params=params, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return answer.json()


def _ids(client, token, **params) -> list[int]:
    return [i["case_id"] for i in _search(client, token, **params)["items"]]


def test_each_key_finds_its_case_open_or_closed(world):
    live_server, tokens, cases = world
    lead = tokens["lead"]
    police, link, minor = cases["police"], cases["link"], cases["minor"]
    with live_server.client() as client:
        for q, expected in (
            (case_number(police), [police]),
            (str(link), [link]),
            ("post-1", [police]),  # its item closed with the decision
            ("acct-1", [minor, police]),  # newest first
            (URL, [link]),
            (MD5, [police]),
            (MD5.upper(), [police]),
            (PDQ, [police]),
            (MINOR_MD5, [minor]),
            ("PC/2026/77", [police]),
            (" post-minor ", [minor]),
            ("nothing-by-this-name", []),
        ):
            assert _ids(client, lead, q=q) == expected, q
        found = _search(client, lead, q="post-1")["items"][0]
        assert found["case_number"] == case_number(police) and found["state"] == "confirmed"
        assert found["content_ids"] == ["post-1"]


def test_filters_and_keyset_pages(world):
    live_server, tokens, cases = world
    lead = tokens["lead"]
    with live_server.client() as client:
        assert _ids(client, lead, state="confirmed") == [cases["police"]]
        assert _ids(client, lead, category="csam") == [cases["minor"]]
        assert _ids(client, lead, decided_by="lead") == [cases["police"]]
        assert _ids(client, lead, q="acct-1", state="open") == [cases["minor"]]
        assert _ids(client, lead, opened_before="2000-01-01T00:00:00Z") == []
        assert len(_ids(client, lead, opened_from="2000-01-01T00:00:00Z")) == 3
        seen, after = [], None
        while True:
            page = _search(client, lead, limit=1, **({"after": after} if after else {}))
            seen += [i["case_id"] for i in page["items"]]
            after = page["next"]
            if after is None:
                break
        assert seen == sorted(cases.values(), reverse=True)
        for bad in ({"after": "x1"}, {"q": "x" * 2049}, {"opened_from": "2026-01-01T00:00"}):
            answer = client.get("/v1/cases", params=bad, headers=bearer(lead))
            assert answer.status_code in (400, 422), (bad, answer.text)


def test_no_key_finds_a_case_about_a_minor_without_the_child_safety_permission(world, container):
    live_server, tokens, cases = world
    rev = tokens["rev"]
    with live_server.client() as client:
        assert cases["minor"] not in _ids(client, rev)
        assert cases["minor"] not in _ids(client, rev, category="csam", state="open")
        for q in ("post-minor", "acct-1", MINOR_MD5, case_number(cases["minor"]),
                  str(cases["minor"])):  # fmt: skip
            assert cases["minor"] not in _ids(client, rev, q=q), q
        assert _ids(client, rev, q="acct-1") == [cases["police"]]
        # Granted the permission, the same reviewer finds it.
        with container.uow(readonly=True) as uow:
            rev_id = next(u.id for u in uow.users.list() if u.name == "rev")
        accounts.set_child_safety(uow=container.uow(), actor=OPERATOR, user_id=rev_id,
                                  granted=True)  # fmt: skip
        assert _ids(client, rev, q="post-minor") == [cases["minor"]]


def test_a_cases_history_is_one_timeline_and_a_minors_is_not_found_without_the_permission(
    world,
):
    live_server, tokens, cases = world
    with live_server.client() as client:
        answer = client.get(f"/v1/cases/{cases['police']}/history", headers=bearer(tokens["lead"]))
        assert answer.status_code == 200, answer.text
        entries = answer.json()["entries"]
        kinds = [e["kind"] for e in entries]
        assert kinds[0] == "report" and "case.claimed" in kinds and "actions" in kinds, kinds
        assert kinds.index("report") < kinds.index("case.claimed") < kinds.index("actions")
        assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
        decided = next(
            e for e in entries if e["kind"].startswith("case.") and "outcome" in e["summary"]
        )
        assert decided["by"] == "lead" and "violation" in decided["summary"]
        assert any(e["summary"] == "1 × remove planned" for e in entries), entries
        assert "PC/2026/77" not in answer.text  # what the reporter wrote stays on its report
        minor = f"/v1/cases/{cases['minor']}/history"
        assert client.get(minor, headers=bearer(tokens["rev"])).status_code == 404
        assert client.get(minor, headers=bearer(tokens["lead"])).status_code == 200


def test_an_api_error_opened_in_a_browser_is_a_page_and_stays_json_for_clients(world):
    live_server, tokens, cases = world
    browser = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    with live_server.client() as client:
        for path, headers, status in (
            ("/v1/cases/99999", bearer(tokens["lead"]), 404),
            (f"/v1/cases/{cases['minor']}", bearer(tokens["rev"]), 404),
            ("/v1/cases?after=x", bearer(tokens["lead"]), 422),
            ("/v1/cases?limit=0", bearer(tokens["lead"]), 422),
            ("/v1/queue", {}, 401),
        ):
            page = client.get(path, headers={**headers, **browser})
            assert page.status_code == status, (path, page.text)
            assert page.headers["content-type"].startswith("text/html"), path
            assert "<html" in page.text.lower() and '"error"' not in page.text, path
            plain = client.get(path, headers=headers)
            assert plain.status_code == status
            assert plain.headers["content-type"].startswith("application/json"), path
            assert plain.json()["error"]["code"]
        unauthenticated = client.get("/v1/queue", headers=browser)
        assert unauthenticated.headers.get("WWW-Authenticate") == "Bearer"
