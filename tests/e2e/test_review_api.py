"""Review over the JSON API, through a running server, on SQLite and PostgreSQL: the queue in
deadline order, claims, decisions with four eyes on cases about minors, appeals, and the
child-safety permission on every path."""

from __future__ import annotations

import pytest

from takedown.identity import Role, Scope
from takedown.services import accounts
from tests.conftest import OPERATOR, add_key, add_staff, make_settings
from tests.review_support import SECRET, bearer, file_report


@pytest.fixture
def settings(database_url, tmp_path, media):
    return make_settings(
        database_url,
        tmp_path,
        platform_media_url=media.template,
        platform_webhook_secret=SECRET,
        review_sample_percent=0,
    )


@pytest.fixture
def staff(container):
    """A platform key and one token per kind of staff member."""
    _, key = add_key(container, "platform", Scope.report)
    tokens = {
        "rev": add_staff(container, "rev", Role.reviewer),  # no child-safety grant
        "safe": add_staff(container, "safe", Role.reviewer),
        "senior": add_staff(container, "senior", Role.senior_reviewer),
        "senior2": add_staff(container, "senior2", Role.senior_reviewer),
        "lead": add_staff(container, "lead", Role.child_safety_lead),
    }
    with container.uow(readonly=True) as uow:
        ids = {u.name: u.id for u in uow.users.list()}
    for name in ("safe", "senior", "senior2"):
        accounts.set_child_safety(
            uow=container.uow(), actor=OPERATOR, user_id=ids[name], granted=True
        )
    return key, tokens


def _queue(client, token, **params):
    answer = client.get("/v1/queue", params=params, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_queue_is_in_deadline_order_and_a_claim_keeps_others_out(live_server, staff):
    key, tokens = staff
    with live_server.client() as client:
        slow = file_report(client, key, "post-policy", category="policy")
        fast = file_report(
            client, key, "post-ncii", category="ncii", reporter_role="depicted_person"
        )
        queue = _queue(client, tokens["rev"])
        ids = [item["case_id"] for item in queue["items"]]
        assert ids == [fast["case_id"], slow["case_id"]]
        dues = [item["respond_by"] for item in queue["items"]]
        assert dues == sorted(dues)
        assert queue["counts"]["queue"] == 2

        case = fast["case_id"]
        claimed = client.post(f"/v1/cases/{case}/claim", headers=bearer(tokens["rev"]))
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["claim"]["by"] == "rev"
        assert claimed.json()["state"] == "in_review"
        assert claimed.json()["first_look_at"] is not None
        queued = {i["case_id"]: i for i in _queue(client, tokens["safe"])["items"]}
        assert queued[case]["state"] == "in_review"
        refused = client.post(f"/v1/cases/{case}/claim", headers=bearer(tokens["safe"]))
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "claim_held"
        not_holder = client.post(
            f"/v1/cases/{case}/decisions",
            json={"outcome": "violation", "category": "ncii", "reason": "intimate image"},
            headers=bearer(tokens["safe"]),
        )
        assert not_holder.status_code == 409
        assert not_holder.json()["error"]["code"] == "no_claim"

        decided = client.post(
            f"/v1/cases/{case}/decisions",
            json={"outcome": "violation", "category": "ncii", "reason": "intimate image"},
            headers=bearer(tokens["rev"]),
        )
        assert decided.status_code == 201, decided.text
        body = decided.json()
        assert body["state"] == "confirmed"
        assert body["claim"] is None
        assert body["decisions"][-1]["decided_by"] == "rev"
        assert "intimate image" in body["decisions"][-1]["statement_of_reasons"]
        assert [i["case_id"] for i in _queue(client, tokens["rev"])["items"]] == [slow["case_id"]]


def test_no_violation_about_a_minor_waits_for_a_senior_who_did_not_propose_it(live_server, staff):
    key, tokens = staff
    with live_server.client() as client:
        receipt = file_report(client, key, "post-csam", category="csam", depicted_minor=True)
        case = receipt["case_id"]
        status_url = receipt["status_url"]
        assert client.post(f"/v1/cases/{case}/claim", headers=bearer(tokens["senior"])).is_success
        proposed = client.post(
            f"/v1/cases/{case}/decisions",
            json={"outcome": "no_violation", "reason": "an adult, a costume"},
            headers=bearer(tokens["senior"]),
        )
        assert proposed.status_code == 201, proposed.text
        assert proposed.json()["state"] == "pending_second_review"
        assert proposed.json()["proposal"]["decided_by"] == "senior"
        assert proposed.json()["decisions"] == []
        page = client.get(status_url.replace(live_server.url, ""))
        assert "will look at your report" in page.text
        assert "closed" not in page.text.lower()

        # Nobody approves their own proposal, and a plain reviewer gives no second opinion.
        own = client.post(f"/v1/cases/{case}/claim", headers=bearer(tokens["senior"]))
        assert own.status_code == 409
        assert own.json()["error"]["code"] == "own_proposal"
        junior = client.post(f"/v1/cases/{case}/claim", headers=bearer(tokens["safe"]))
        assert junior.status_code == 409
        assert junior.json()["error"]["code"] == "not_permitted"

        assert client.post(f"/v1/cases/{case}/claim", headers=bearer(tokens["senior2"])).is_success
        agreed = client.post(
            f"/v1/cases/{case}/decisions",
            json={"outcome": "no_violation", "reason": "agree: an adult"},
            headers=bearer(tokens["senior2"]),
        )
        assert agreed.status_code == 201, agreed.text
        assert agreed.json()["state"] == "closed"
        assert agreed.json()["decisions"][-1]["decided_by"] == "senior"


def test_without_the_child_safety_permission_a_minor_case_does_not_exist(live_server, staff, media):
    key, tokens = staff
    with live_server.client() as client:
        file_report(client, key, "post-ok", category="policy")
        minor = file_report(
            client,
            key,
            "post-minor",
            category="ncii",
            reporter_role="parent_guardian",
            depicted_minor=True,
        )["case_id"]
        media.add("post-minor")
        listed = [i["case_id"] for i in _queue(client, tokens["rev"])["items"]]
        assert minor not in listed and len(listed) == 1
        assert _queue(client, tokens["rev"])["counts"]["queue"] == 1
        assert minor not in [
            i["case_id"] for i in _queue(client, tokens["rev"], category="ncii")["items"]
        ]
        for method, path, body in [
            ("GET", f"/v1/cases/{minor}", None),
            ("POST", f"/v1/cases/{minor}/claim", None),
            ("POST", f"/v1/cases/{minor}/release", None),
            ("POST", f"/v1/cases/{minor}/decisions", {"outcome": "no_violation", "reason": "x"}),
        ]:
            answer = client.request(method, path, json=body, headers=bearer(tokens["rev"]))
            assert answer.status_code == 404, (path, answer.text)
        assert minor in [i["case_id"] for i in _queue(client, tokens["safe"])["items"]]
        assert client.get(f"/v1/cases/{minor}", headers=bearer(tokens["lead"])).is_success


def test_an_uploaders_appeal_is_decided_by_someone_else(live_server, staff):
    key, tokens = staff
    with live_server.client() as client:
        case = file_report(client, key, "post-appeal", category="policy")["case_id"]
        assert client.post(f"/v1/cases/{case}/claim", headers=bearer(tokens["rev"])).is_success
        client.post(
            f"/v1/cases/{case}/decisions",
            json={"outcome": "violation", "category": "policy", "reason": "spam"},
            headers=bearer(tokens["rev"]),
        ).raise_for_status()
        appeal = client.post(
            "/v1/appeals",
            json={"content_id": "post-appeal", "appellant": "uploader", "text": "not spam"},
            headers=bearer(key),
        )
        assert appeal.status_code == 201, appeal.text
        assert appeal.json() == {
            "case_id": case,
            "case_number": appeal.json()["case_number"],
            "state": "appealed",
        }
        again = client.post(
            "/v1/appeals",
            json={"content_id": "post-appeal", "appellant": "uploader", "text": "again"},
            headers=bearer(key),
        )
        assert again.status_code == 404  # no decided case holds it while it is under appeal
        assert client.post(f"/v1/cases/{case}/claim", headers=bearer(tokens["rev"])).is_success
        same = client.post(
            f"/v1/cases/{case}/decisions",
            json={"outcome": "no_violation", "reason": "I was wrong"},
            headers=bearer(tokens["rev"]),
        )
        assert same.status_code == 409
        assert same.json()["error"]["code"] == "same_decider"
        client.post(f"/v1/cases/{case}/release", headers=bearer(tokens["rev"])).raise_for_status()
        assert client.post(f"/v1/cases/{case}/claim", headers=bearer(tokens["safe"])).is_success
        overturned = client.post(
            f"/v1/cases/{case}/decisions",
            json={"outcome": "no_violation", "reason": "a real offer, not spam"},
            headers=bearer(tokens["safe"]),
        )
        assert overturned.status_code == 201, overturned.text
        body = overturned.json()
        assert body["state"] == "closed"
        assert body["decisions"][-1]["statement_of_reasons"].startswith(
            "On appeal, someone who had not decided it reviewed the case again and overturned"
        )
        assert body["appeals"][0]["by"] == "uploader"
        assert _published(live_server, "cases.violation_overturned") == 1


def _published(live_server, event_type: str) -> int:
    """How many events of ``event_type`` the outbox holds."""
    with live_server.container.uow(readonly=True) as uow:
        return int(
            uow.raw.value("SELECT count(*) FROM outbox WHERE event_type = :t", {"t": event_type})
        )


def test_cases_are_linked_and_merged_over_the_api_and_a_minors_stays_hidden(live_server, staff):
    key, tokens = staff
    with live_server.client() as client:
        a = file_report(client, key, "post-api-a", category="policy", reference="REF-A")
        b = file_report(client, key, None, content_url="https://example.social/x", category="ncii")
        minor = file_report(client, key, "post-api-minor", category="csam")

        made = client.post(
            f"/v1/cases/{a['case_id']}/links",
            json={"case": minor["case_number"], "note": "same uploader"},
            headers=bearer(tokens["safe"]),
        )
        assert made.status_code == 201, made.text
        assert made.json()["kind"] == "related"
        hidden = client.get(f"/v1/cases/{a['case_id']}/links", headers=bearer(tokens["rev"]))
        assert hidden.status_code == 200 and hidden.json()["items"] == []
        for body, path in (
            ({"into": minor["case_number"]}, f"/v1/cases/{a['case_id']}/merge"),
            ({"into": a["case_number"]}, f"/v1/cases/{minor['case_id']}/merge"),
        ):
            refused = client.post(path, json=body, headers=bearer(tokens["rev"]))
            assert refused.status_code == 404, refused.text

        merged = client.post(
            f"/v1/cases/{b['case_id']}/merge",
            json={"into": a["case_number"], "note": "the link shows post-api-a"},
            headers=bearer(tokens["rev"]),
        )
        assert merged.status_code == 200, merged.text
        assert merged.json()["case_number"] == a["case_number"]
        kept = client.get(f"/v1/cases/{a['case_id']}", headers=bearer(tokens["rev"])).json()
        assert len(kept["reports"]) == 2 and kept["category"] == "ncii"
        assert {r["reference"] for r in kept["reports"]} == {"REF-A", None}
        gone = client.get(f"/v1/cases/{b['case_id']}", headers=bearer(tokens["rev"])).json()
        assert gone["state"] == "merged" and gone["merged_into"] == a["case_number"]
        again = client.post(
            f"/v1/cases/{b['case_id']}/merge",
            json={"into": a["case_number"]},
            headers=bearer(tokens["rev"]),
        )
        assert again.status_code == 409 and again.json()["error"]["code"] == "not_decidable"
        found = client.get("/v1/cases", params={"q": "REF-A"}, headers=bearer(tokens["rev"]))
        assert [i["case_number"] for i in found.json()["items"]] == [a["case_number"]]
