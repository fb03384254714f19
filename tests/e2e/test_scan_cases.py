"""An upload that matches known CSAM is a case at once: confirmed as an automated decision,
joined by reports of the same item and of its reposts, and counting exposure posted before
anyone reported it."""

import pytest
from sqlalchemy import text

from takedown.identity import Role, Scope
from takedown.media import hash_image
from takedown.services import audit
from tests.conftest import OPERATOR, add_key, add_staff
from tests.media_support import at_megapixels, encode, photo


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def people(container):
    lead = bearer(add_staff(container, "lead", Role.child_safety_lead))
    platform = bearer(add_key(container, "platform", Scope.scan, Scope.report)[1])
    return lead, platform


def _scan(c, headers, data, content_id, account="uploader-1"):
    return c.post(
        "/v1/scan",
        headers=headers,
        data={"content_id": content_id, "account_id": account},
        files={"media": ("a.jpg", data, "image/jpeg")},
    )


def _bank(c, lead, name, policy, image):
    """A bank of ``policy`` holding ``image``'s MD5."""
    c.post("/v1/banks", headers=lead, json={"name": name, "policy": policy})
    c.post(
        f"/v1/banks/{name}/entries",
        headers=lead,
        json={"entries": [{"signal_type": "md5", "value": hash_image(image).md5}]},
    )


def _case_of(container, content_id):
    with container.uow(readonly=True) as uow:
        ids = uow.cases.case_ids_for_content(content_id)
        return [uow.cases.get(i) for i in ids]


def test_a_known_csam_upload_opens_a_confirmed_case_that_reports_join(
    live_server, container, people
):
    lead, platform = people
    known = encode(at_megapixels(photo("chelsea.png"), 1), quality=92)
    with live_server.client() as c:
        _bank(c, lead, "ncmec", "block_and_report", known)
        first = _scan(c, platform, known, "up-1")
        assert first.json()["verdict"] == "block"
        [case] = _case_of(container, "up-1")
        assert case.status == "confirmed" and case.confirmed_at is not None
        assert case.priority == "P0"
        assert "block_and_report_match" in [r["code"] for r in case.reasons]
        assert case.facts.reporters == 0  # the matcher is no person
        again = _scan(c, platform, known, "up-1")
        assert again.status_code == 200
        assert [x.id for x in _case_of(container, "up-1")] == [case.id]
        # A repost registered by the platform, then reported: the same case.
        repost = c.post(
            "/v1/content",
            headers=platform,
            json={"content_id": "up-1-share", "account_id": "sharer", "parent_content_id": "up-1"},
        )
        assert repost.status_code in (200, 201), repost.text
        report = c.post(
            "/v1/reports",
            headers=platform,
            json={"content_id": "up-1-share", "category": "csam", "reporter_role": "user"},
        )
        assert report.status_code == 201, report.text
        assert report.json()["case_id"] == case.id
        assert report.json()["case_status"] == "confirmed"
    with container.uow(readonly=True) as uow:
        sources = uow.session.execute(
            text("SELECT source, count(*) FROM reports WHERE case_id = :c GROUP BY source"),
            {"c": case.id},
        ).all()
    assert dict(sources) == {"scan": 1, "api": 1}
    entries = audit.list_entries(uow=container.uow(readonly=True), actor=OPERATOR, limit=100)
    actions = [e.action for e in entries]
    assert "case.confirmed" in actions and "scan.matched" in actions


def test_a_review_bank_match_opens_no_case(live_server, container, people):
    lead, platform = people
    image = encode(at_megapixels(photo("coffee.png"), 1), quality=92)
    with live_server.client() as c:
        _bank(c, lead, "watch", "review", image)
        assert _scan(c, platform, image, "w-1").json()["verdict"] == "review"
    assert _case_of(container, "w-1") == []


def test_exposure_posted_before_the_first_report_counts_when_it_arrives(
    live_server, container, people
):
    _, platform = people
    with live_server.client() as c:
        registered = c.post(
            "/v1/content", headers=platform, json={"content_id": "viral", "account_id": "a"}
        )
        assert registered.status_code in (200, 201), registered.text
        stats = c.post(
            "/v1/content/viral/stats", headers=platform, json={"views": 90000, "reposts": 900}
        )
        assert stats.status_code == 200 and stats.json()["fast_growing"] is True
        report = c.post(
            "/v1/reports",
            headers=platform,
            json={"content_id": "viral", "category": "policy", "reporter_role": "user"},
        )
        assert report.status_code == 201
    [case] = _case_of(container, "viral")
    assert case.facts.fast_exposure
    assert "fast_exposure" in [r["code"] for r in case.reasons]
