"""The evidence vault through a running server, on SQLite and PostgreSQL: a P0 case's media is
fetched and sealed at once, opened only by compliance and leads for a stated reason, kept a
year unless held, purged and audited after; rotation keeps it readable, a wrong key is loud."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

import pytest

from takedown.evidence import MasterKey
from takedown.identity import Role, Scope
from takedown.services import audit, evidence, maintenance
from tests.conftest import OPERATOR, add_key, add_staff, console_login, make_settings
from tests.review_support import SECRET, bearer
from tests.waiting import wait_until

KEY = "ab" * 32


@pytest.fixture
def settings(database_url, tmp_path, media):
    return make_settings(
        database_url,
        tmp_path,
        platform_media_url=media.template,
        platform_webhook_secret=SECRET,
        evidence_key=KEY,
        review_sample_percent=0,
    )


@pytest.fixture
def people(container):
    return {
        "compliance": add_staff(container, "comp", Role.compliance),
        "lead": add_staff(container, "lead", Role.child_safety_lead),
        "reviewer": add_staff(container, "rev", Role.reviewer),
        "platform": add_key(container, "platform", Scope.report)[1],
    }


def _p0_case(client, platform, content_id):
    receipt = client.post(
        "/v1/reports",
        headers=bearer(platform),
        json={
            "content_id": content_id,
            "category": "csam",
            "reporter_role": "parent_guardian",
            "depicted_minor": True,
        },
    ).json()
    assert receipt["priority"] == "P0"
    return receipt["case_id"]


def _items(container, case_id):
    with container.uow(readonly=True) as uow:
        return uow.evidence.for_case(case_id)


def test_a_p0_cases_media_is_sealed_at_once_and_opened_only_for_a_reason(
    live_server, container, media, people
):
    original = media.add("kid-1", n=0)
    with live_server.client() as client:
        case = _p0_case(client, people["platform"], "kid-1")
        wait_until(lambda: _items(container, case), timeout=30, what="the media preserved")
        [item] = _items(container, case)
        assert item.kind == "media" and item.size == len(original)
        with container.uow(readonly=True) as uow:
            stored = uow.evidence.sealed(item.id)
        assert stored is not None and original not in stored.ciphertext

        listed = client.get(f"/v1/cases/{case}/evidence", headers=bearer(people["compliance"]))
        assert listed.status_code == 200 and listed.json()[0]["sha256"] == item.sha256
        no_reason = client.get(
            f"/v1/cases/{case}/evidence/{item.id}", headers=bearer(people["compliance"])
        )
        assert no_reason.status_code == 400
        opened = client.get(
            f"/v1/cases/{case}/evidence/{item.id}",
            params={"reason": "preparing the NCMEC report"},
            headers=bearer(people["lead"]),
        )
        assert opened.status_code == 200 and opened.content == original
        for path in (f"/v1/cases/{case}/evidence", f"/v1/cases/{case}/evidence/{item.id}"):
            refused = client.get(path, params={"reason": "x"}, headers=bearer(people["reviewer"]))
            assert refused.status_code == 403
    with container.uow(readonly=True) as uow:
        [entry] = uow.audit.list(action="evidence.opened")
    assert entry.details["reason"] == "preparing the NCMEC report" and entry.actor_name == "lead"


def test_evidence_is_purged_after_a_year_unless_held_and_each_purge_is_audited(
    live_server, container, media, people
):
    media.add("kid-2", n=1)
    media.add("kid-3", n=2)
    with live_server.client() as client:
        kept = _p0_case(client, people["platform"], "kid-2")
        gone = _p0_case(client, people["platform"], "kid-3")
        wait_until(
            lambda: _items(container, kept) and _items(container, gone),
            timeout=30,
            what="both cases' media preserved",
        )
        held = client.post(
            f"/v1/cases/{kept}/evidence/hold",
            json={"reason": "police asked us to keep it"},
            headers=bearer(people["compliance"]),
        )
        assert held.status_code == 200 and held.json() == {"items": 1}
        assert (
            client.post(
                f"/v1/cases/{kept}/evidence/hold",
                json={"reason": "x"},
                headers=bearer(people["lead"]),
            ).status_code
            == 403
        )
    now = container.clock.now()
    assert evidence.purge(uow=container.uow(), now=now) == 0  # nothing has expired
    assert evidence.purge(uow=container.uow(), now=now + timedelta(days=366)) == 1
    assert _items(container, gone)[0].purged_at is not None
    assert _items(container, kept)[0].purged_at is None
    with container.uow(readonly=True) as uow:
        assert uow.evidence.sealed(_items(container, gone)[0].id) is None
        [purged] = uow.audit.list(action="evidence.purged")
    assert purged.details["reason"] == "expired"


def test_rotation_keeps_everything_readable_and_a_wrong_key_is_loud(
    live_server, container, media, people
):
    original = media.add("kid-4", n=3)
    with live_server.client() as client:
        case = _p0_case(client, people["platform"], "kid-4")
        wait_until(lambda: _items(container, case), timeout=30, what="the media preserved")
        [item] = _items(container, case)
        vault = container.vault
        new = replace(vault, key=MasterKey.from_hex("cd" * 32), old_keys=(vault.key,))
        assert evidence.rotate(uow=container.uow(), vault=new) == 1
        container.__dict__["vault"] = new
        reopened = client.get(
            f"/v1/cases/{case}/evidence/{item.id}",
            params={"reason": "after rotation"},
            headers=bearer(people["compliance"]),
        )
        assert reopened.status_code == 200 and reopened.content == original
        container.__dict__["vault"] = replace(new, old_keys=(), key=MasterKey.from_hex("ef" * 32))
        wrong = client.get(
            f"/v1/cases/{case}/evidence/{item.id}",
            params={"reason": "with the wrong key"},
            headers=bearer(people["compliance"]),
        )
        assert wrong.status_code == 500 and wrong.json()["error"]["code"] == "evidence_key"


def test_the_console_evidence_view_asks_for_a_reason_and_refuses_reviewers(
    live_server, container, media, people
):
    original = media.add("kid-5", n=4)
    for name, role in (("page-comp", Role.compliance), ("page-rev", Role.reviewer)):
        add_staff(container, name, role, token=False)
    with live_server.client() as client:
        case = _p0_case(client, people["platform"], "kid-5")
        wait_until(lambda: _items(container, case), timeout=30, what="the media preserved")
        [item] = _items(container, case)
    with live_server.client() as comp, live_server.client() as rev:
        console_login(comp, "page-comp")
        console_login(rev, "page-rev")
        page = comp.get(f"/console/cases/{case}/evidence")
        assert page.status_code == 200 and item.sha256[:16] in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        item_path = f"/console/cases/{case}/evidence/{item.id}"
        assert comp.post(item_path, data={"csrf_token": token}).status_code == 400
        # Opened by a link (a GET) or a form on another site (no token), nothing is opened.
        assert comp.get(item_path, params={"reason": "filing"}).status_code == 405
        forged = comp.post(item_path, data={"reason": "filing"})
        assert forged.status_code == 403 and forged.content != original
        opened = comp.post(item_path, data={"reason": "filing", "csrf_token": token})
        assert opened.status_code == 200 and opened.content == original
        opens = [
            e
            for e in audit.list_entries(uow=container.uow(readonly=True), actor=OPERATOR)
            if e.action == "evidence.opened"
        ]
        assert len(opens) == 1 and opens[0].actor_name == "page-comp"
        # The API's GET, reached with the session cookie (a link's top-level navigation
        # carries it), needs the session's token too.
        api_path = f"/v1/cases/{case}/evidence/{item.id}"
        by_link = comp.get(api_path, params={"reason": "filing"})
        assert by_link.status_code == 403 and by_link.content != original
        with_token = comp.get(
            api_path, params={"reason": "filing"}, headers={"X-CSRF-Token": token}
        )
        assert with_token.status_code == 200 and with_token.content == original
        no_reason = comp.get(api_path, headers={"X-CSRF-Token": token})
        assert no_reason.status_code == 400
        assert no_reason.json()["error"]["code"] == "reason_required"
        assert no_reason.json()["request_id"] == no_reason.headers["x-request-id"]
        assert rev.get(f"/console/cases/{case}/evidence").status_code == 403
        rev_token = re.search(r'name="csrf_token" value="([^"]+)"', rev.get("/console").text).group(
            1
        )
        refused = rev.post(item_path, data={"reason": "x", "csrf_token": rev_token})
        assert refused.status_code == 403


def test_filing_without_ncmecs_address_is_refused_and_the_draft_stays_editable(
    live_server, container, media, people
):
    """No TAKEDOWN_NCMEC_URL: "File with NCMEC" says what to set, and the draft is neither
    moved to a filing nothing would take nor locked."""
    media.add("kid-9", n=3)
    with live_server.client() as client:
        case = _p0_case(client, people["platform"], "kid-9")
        lead = bearer(people["lead"])
        assert client.post(f"/v1/cases/{case}/claim", headers=lead).status_code == 200
        decided = client.post(
            f"/v1/cases/{case}/decisions",
            headers=lead,
            json={"outcome": "violation", "category": "csam", "reason": "a child"},
        )
        assert decided.status_code == 201, decided.text

        def drafted():
            got = client.get(f"/v1/cases/{case}", headers=bearer(people["compliance"])).json()
            return got["ncmec_report"]

        wait_until(drafted, timeout=30, what="the report drafted")
        comp = bearer(people["compliance"])
        refused = client.post(f"/v1/cases/{case}/ncmec/file", headers=comp)
        assert refused.status_code == 409, refused.text
        error = refused.json()["error"]
        assert error["code"] == "ncmec_not_configured" and "TAKEDOWN_NCMEC_URL" in error["message"]
        assert drafted()["state"] == "drafted"
        changed = client.post(
            f"/v1/cases/{case}/ncmec/draft", headers=comp, json={"additional_info": "more"}
        )
        assert changed.status_code == 200, changed.text


def test_the_scheduled_purge_runs_once_a_period_however_many_processes_run_it(
    live_server, container, media, people
):
    """The ``maintenance`` lane in two processes: in a period only one purges."""
    media.add("kid-9", n=5)
    with live_server.client() as client:
        gone = _p0_case(client, people["platform"], "kid-9")
        wait_until(lambda: _items(container, gone), timeout=30, what="the media preserved")
    later = container.clock.now() + timedelta(days=366)
    lanes = [
        maintenance.Maintenance(
            container.uow, now=lambda: later, every=timedelta(hours=24),
            retention=timedelta(days=365),
        )
        for _ in range(2)
    ]  # fmt: skip
    assert [lane.run_once() for lane in lanes] == [1, 0]
    assert _items(container, gone)[0].purged_at is not None
    with container.uow(readonly=True) as uow:
        assert len(uow.audit.list(action="evidence.purged")) == 1
