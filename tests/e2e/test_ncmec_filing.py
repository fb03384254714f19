"""Filing with NCMEC through a running server, on SQLite and PostgreSQL, against a strict
local server that speaks NCMEC's documented endpoints (``tests.ncmec_support``): a confirmed
case goes to ``filed`` with its files; a 5xx on ``/upload`` is retried; a report NCMEC's
schema refuses is never submitted and the compliance page shows why, with a retry; the
server stopping after ``/submit`` resumes from the stored report id and files once; an
unanswered ``/submit`` waits for a person and is never sent again."""

from __future__ import annotations

import re

import pytest
from lxml import etree

from takedown.identity import Role, Scope
from takedown.media import hash_image
from tests.conftest import add_key, add_staff, console_login, make_settings
from tests.ncmec_support import ncmec_server, ncmec_settings
from tests.review_support import SECRET, bearer
from tests.waiting import wait_until

KEY = "cd" * 32


@pytest.fixture
def ncmec():
    with ncmec_server() as server:
        yield server


@pytest.fixture
def settings(database_url, tmp_path, media, ncmec):
    return make_settings(
        database_url,
        tmp_path,
        platform_media_url=media.template,
        platform_webhook_secret=SECRET,
        evidence_key=KEY,
        review_sample_percent=0,
        **ncmec_settings(
            ncmec, ncmec_auto_file=True, ncmec_backoff_seconds=0.1, ncmec_timeout_seconds=5
        ),
    )


@pytest.fixture
def people(container):
    return {
        "compliance": add_staff(container, "comp", Role.compliance),
        "lead": add_staff(container, "lead", Role.child_safety_lead),
        "reviewer": add_staff(container, "rev", Role.reviewer),
        "platform": add_key(container, "platform", Scope.scan, Scope.report)[1],
    }


def _bank_confirmed(client, people, media, content_id: str, n: int = 0) -> None:
    """A known picture uploaded: confirmed by a block_and_report bank at once."""
    data = media.add(content_id, n=n)
    lead = bearer(people["lead"])
    client.post("/v1/banks", headers=lead, json={"name": "known", "policy": "block_and_report"})
    client.post(
        "/v1/banks/known/entries",
        headers=lead,
        json={"entries": [{"signal_type": "md5", "value": hash_image(data).md5}]},
    )
    scan = client.post(
        "/v1/scan",
        headers=bearer(people["platform"]),
        data={"content_id": content_id, "account_id": "uploader-9"},
        files={"media": ("a.jpg", data, "image/jpeg")},
    )
    assert scan.json()["verdict"] == "block", scan.text


def _case_of(container, content_id: str) -> int:
    with container.uow(readonly=True) as uow:
        [case_id] = uow.cases.case_ids_for_content(content_id)
    return case_id


def _state(client, people, case_id: int) -> dict | None:
    case = client.get(f"/v1/cases/{case_id}", headers=bearer(people["compliance"])).json()
    return case["ncmec_report"]


def _wait_state(client, people, case_id: int, state: str) -> dict:
    def reached():
        report = _state(client, people, case_id)
        return report if report and report["state"] == state else None

    return wait_until(reached, timeout=30, what=f"the NCMEC report {state}")


def _reviewer_confirmed(
    client, people, content_id: str, account: str, report=None, decision=None, with_file=True
):
    """A CSAM report about ``content_id`` (registered as ``account``'s), confirmed by a lead;
    returns its case id once the report to NCMEC is drafted (and, ``with_file``, has the
    media the platform serves as its file)."""
    platform = bearer(people["platform"])
    registered = client.post(
        "/v1/content", headers=platform, json={"content_id": content_id, "account_id": account}
    )
    assert registered.status_code in (200, 201), registered.text
    body = {"content_id": content_id, "category": "csam", "reporter_role": "user"}
    receipt = client.post("/v1/reports", headers=platform, json=body | (report or {}))
    assert receipt.status_code == 201, receipt.text
    case_id = receipt.json()["case_id"]
    lead = bearer(people["lead"])
    assert client.post(f"/v1/cases/{case_id}/claim", headers=lead).status_code == 200
    decided = client.post(
        f"/v1/cases/{case_id}/decisions",
        headers=lead,
        json={"outcome": "violation", "category": "csam", "reason": "a child"} | (decision or {}),
    )
    assert decided.status_code == 201, decided.text
    # The draft is made in the decision's transaction: there the moment the decision is.
    report = _state(client, people, case_id)
    assert report is not None and report["state"] == "drafted", report  # a person files
    draft = client.get(f"/v1/cases/{case_id}/ncmec", headers=bearer(people["compliance"]))
    assert draft.status_code == 200, draft.text
    if not with_file:
        return case_id
    # The media sealed by the worker after the decision joins the draft as its file.
    wait_until(
        lambda: client.get(
            f"/v1/cases/{case_id}/ncmec", headers=bearer(people["compliance"])
        ).json()["files"],
        timeout=30,
        what="the draft's file",
    )
    return case_id


def test_a_bank_confirmed_case_is_filed_at_once_with_its_files(
    live_server, container, media, people, ncmec
):
    with live_server.client() as client:
        _bank_confirmed(client, people, media, "known-1")
        case_id = _case_of(container, "known-1")
        report = _wait_state(client, people, case_id, "filed")
    server = ncmec.state
    assert server.submits == 1
    [filed] = server.filed()
    assert report["report_id"] in server.reports and filed is server.reports[report["report_id"]]
    xml = etree.fromstring(filed.xml)
    assert xml.findtext("incidentSummary/incidentType").startswith("Child Pornography")
    assert xml.findtext("incidentSummary/platform") == "Example Platform"
    assert xml.findtext("reporter/reportingPerson/email") == "safety@platform.example"
    assert xml.findtext("personOrUserReported/espIdentifier") == "uploader-9"
    [file] = filed.files.values()
    assert file.md5 == hash_image(media.items["known-1"]).md5 and file.details is not None
    details = etree.fromstring(file.details)
    assert details.findtext("fileViewedByEsp") == "false"  # no person looked: a bank matched
    assert details.find("originalFileHash[@hashType='MD5']").text == file.md5
    with container.uow(readonly=True) as uow:
        actions = [e.action for e in uow.audit.list(target_type="case", target_id=str(case_id))]
    assert {"ncmec.drafted", "ncmec.submitted", "ncmec.filed"} <= set(actions)


def test_a_reviewers_confirmation_is_filed_by_compliance_once_with_the_classification(
    live_server, container, media, people, ncmec
):
    media.add("kid-1", n=1)
    with live_server.client() as client:
        case_id = _reviewer_confirmed(
            client,
            people,
            "kid-1",
            "uploader-3",
            report={
                "reporter_role": "parent_guardian",
                "depicted_minor": True,
                "description": "He threatened to send it to her school unless she sent more.",
                "law_enforcement": {"agency": "Springfield PD", "case_number": "2026-4411"},
            },
            decision={"reason": "a child, sexual", "classification": "B1"},
        )
        lead = bearer(people["lead"])
        compliance = bearer(people["compliance"])
        draft = client.get(f"/v1/cases/{case_id}/ncmec", headers=compliance).json()
        assert "<sextortion/>" in draft["document"] and "Springfield PD" in draft["document"]
        assert draft["files"][0]["classification"] == "B1"
        assert client.get(f"/v1/cases/{case_id}/ncmec", headers=lead).status_code == 200
        for who in ("lead", "reviewer"):
            refused = client.post(f"/v1/cases/{case_id}/ncmec/file", headers=bearer(people[who]))
            assert refused.status_code == 403
        changed = client.post(
            f"/v1/cases/{case_id}/ncmec/draft",
            headers=compliance,
            json={
                "additional_info": "The uploader also messaged the child directly.",
                "screen_name": "nightowl",
                "ip_capture_events": [
                    {"ip_address": "203.0.113.7", "event": "Login", "at": "2026-12-01T10:00:00Z"}
                ],
            },
        )
        assert changed.status_code == 200, changed.text
        assert "messaged the child" in changed.json()["document"]
        assert "<eventName>Login</eventName>" in changed.json()["document"]
        bad = client.post(
            f"/v1/cases/{case_id}/ncmec/draft",
            headers=compliance,
            json={"ip_capture_events": [{"ip_address": "<script>"}]},
        )
        assert bad.status_code == 422
        first = client.post(f"/v1/cases/{case_id}/ncmec/file", headers=compliance)
        assert first.status_code == 200 and first.json()["state"] in ("filing", "filed")
        report = _wait_state(client, people, case_id, "filed")
        again = client.post(f"/v1/cases/{case_id}/ncmec/file", headers=compliance)
        assert again.json()["state"] == "filed" and again.json()["report_id"] == report["report_id"]
        late = client.post(
            f"/v1/cases/{case_id}/ncmec/draft", headers=compliance, json={"additional_info": "x"}
        )
        assert late.status_code == 409
    server = ncmec.state
    assert server.submits == 1
    filed = server.reports[report["report_id"]]
    xml = etree.fromstring(filed.xml)
    assert xml.findtext("incidentSummary/escalateToHighPriority")
    assert xml.findtext("lawEnforcement/caseNumber") == "2026-4411"
    assert xml.findtext("personOrUserReported/screenName") == "nightowl"
    assert xml.findtext("personOrUserReported/ipCaptureEvent/eventName") == "Login"
    [file] = filed.files.values()
    details = etree.fromstring(file.details)
    assert details.findtext("industryClassification") == "B1"
    assert details.findtext("fileViewedByEsp") == "true"


def test_a_5xx_on_upload_is_retried_and_files_once(live_server, container, media, people, ncmec):
    ncmec.state.fail_next["/upload"] = 2
    ncmec.state.fail_next["/finish"] = 1
    with live_server.client() as client:
        _bank_confirmed(client, people, media, "known-2")
        case_id = _case_of(container, "known-2")
        _wait_state(client, people, case_id, "filed")
    server = ncmec.state
    assert server.submits == 1 and server.uploads == 1 and len(server.filed()) == 1
    with container.uow(readonly=True) as uow:
        retries = [e for e in uow.audit.list(action="ncmec.retrying")]
    assert len(retries) == 3


def test_a_report_ncmecs_schema_refuses_is_never_submitted_and_the_page_says_why(
    live_server, container, media, people, ncmec
):
    shipped = ncmec.state.xsd
    # NCMEC's schema now requires the platform's name, which this installation does not set.
    ncmec.state.xsd = shipped.replace(
        b'<xs:element name="platform" type="text255" minOccurs="0"/>',
        b'<xs:element name="platform" type="text255"/>',
    )
    container.settings = container.settings.model_copy(update={"ncmec_esp_service": None})
    container.__dict__.pop("filing_settings", None)
    with live_server.client() as client:
        _bank_confirmed(client, people, media, "known-3")
        case_id = _case_of(container, "known-3")
        failed = _wait_state(client, people, case_id, "failed")
        assert "schema" in failed["error"] and "platform" in failed["error"]
        assert ncmec.state.submits == 0  # nothing half-filed
        console_login(client, "comp")
        page = client.get("/console/ncmec")
        assert page.status_code == 200
        assert "Expected is ( platform )" in page.text and "Retry" in page.text
        # The lead's operations page says a report failed and where to retry it.
        with live_server.client() as lead:
            console_login(lead, "lead")
            operations = lead.get("/console/operations").text
        assert "1 failed at their last attempt" in operations
        assert 'href="/console/ncmec"' in operations
        ncmec.state.xsd = shipped
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        retried = client.post(
            f"/console/cases/{case_id}/ncmec/file",
            data={"csrf_token": token},
            follow_redirects=False,
        )
        assert retried.status_code == 303
        _wait_state(client, people, case_id, "filed")
        with live_server.client() as lead:
            console_login(lead, "lead")
            operations = lead.get("/console/operations").text
        assert "No report to NCMEC has failed" in operations
    assert ncmec.state.submits == 1


def test_the_server_stopping_after_submit_resumes_from_the_stored_id_and_files_once(
    live_server, container, media, people, ncmec
):
    ncmec.state.stop_after_submit = True
    with live_server.client() as client:
        _bank_confirmed(client, people, media, "known-4")
        case_id = _case_of(container, "known-4")
        wait_until(ncmec.state.stopped.is_set, timeout=30, what="the NCMEC server stopped")

        def stored_id():
            with container.uow(readonly=True) as uow:
                filing = uow.filings.get(case_id)
            return filing.report_id if filing and filing.report_id and filing.error else None

        report_id = wait_until(stored_id, timeout=30, what="a failed step after /submit")
        ncmec.start()
        report = _wait_state(client, people, case_id, "filed")
    assert report["report_id"] == report_id
    assert ncmec.state.submits == 1 and len(ncmec.state.filed()) == 1


def test_an_unanswered_submit_waits_for_a_person_and_is_never_sent_again(
    live_server, container, media, people, ncmec
):
    ncmec.state.drop_submit_answer = True
    with live_server.client() as client:
        _bank_confirmed(client, people, media, "known-5")
        case_id = _case_of(container, "known-5")
        waiting = _wait_state(client, people, case_id, "needs_attention")
        assert "/submit" in waiting["error"]
        compliance = bearer(people["compliance"])
        again = client.post(f"/v1/cases/{case_id}/ncmec/file", headers=compliance)
        assert again.json()["state"] == "needs_attention"
        assert ncmec.state.submits == 1
        [made] = ncmec.state.reports  # what a person finds when they ask NCMEC
        ncmec.state.drop_submit_answer = False
        settled = client.post(
            f"/v1/cases/{case_id}/ncmec/resolve", headers=compliance, json={"report_id": made}
        )
        assert settled.status_code == 200, settled.text
        report = _wait_state(client, people, case_id, "filed")
    assert report["report_id"] == made and ncmec.state.submits == 1


def test_compliance_completes_and_files_a_draft_from_the_console(
    live_server, container, media, people, ncmec
):
    media.add("kid-2", n=2)
    with live_server.client() as client:
        case_id = _reviewer_confirmed(client, people, "kid-2", "uploader-4")
    with live_server.client() as reviewer:
        console_login(reviewer, "rev")
        assert reviewer.get("/console/ncmec").status_code == 403
        assert reviewer.get(f"/console/cases/{case_id}/ncmec").status_code == 403
    with live_server.client() as browser, live_server.client() as client:
        console_login(browser, "comp")
        page = browser.get(f"/console/cases/{case_id}/ncmec")
        assert page.status_code == 200 and "File with NCMEC" in page.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        bad = browser.post(
            f"/console/cases/{case_id}/ncmec/draft",
            data={"csrf_token": token, "ip_address": "not an address"},
        )
        assert bad.status_code == 422 and "not an IP address" in bad.text
        saved = browser.post(
            f"/console/cases/{case_id}/ncmec/draft",
            data={
                "csrf_token": token,
                "incident_type": "Child Pornography (possession, manufacture, and distribution)",
                "class:kid-2": "A1",
                "ip_address": "198.51.100.4",
                "ip_event": "Upload",
                "ip_at": "2026-12-02T09:30",
                "additional_info": "Seen in a group chat first.",
            },
        )
        assert saved.status_code == 303
        assert "198.51.100.4" in browser.get(f"/console/cases/{case_id}/ncmec").text
        filed = browser.post(f"/console/cases/{case_id}/ncmec/file", data={"csrf_token": token})
        assert filed.status_code == 303
        report = _wait_state(client, people, case_id, "filed")
        assert str(report["report_id"]) in browser.get("/console/ncmec").text
    xml = etree.fromstring(ncmec.state.reports[report["report_id"]].xml)
    assert xml.findtext("personOrUserReported/ipCaptureEvent/ipAddress") == "198.51.100.4"
    assert xml.findtext("personOrUserReported/ipCaptureEvent/dateTime") == "2026-12-02T09:30:00Z"
    [file] = ncmec.state.reports[report["report_id"]].files.values()
    assert etree.fromstring(file.details).findtext("industryClassification") == "A1"


def test_ncmec_unreachable_before_submit_is_tried_again_with_back_off(
    live_server, container, media, people, ncmec
):
    ncmec.stop()  # nothing listens: the connection is refused, so /submit surely never went
    with live_server.client() as client:
        _bank_confirmed(client, people, media, "known-6")
        case_id = _case_of(container, "known-6")

        def retries():
            with container.uow(readonly=True) as uow:
                return len(uow.audit.list(action="ncmec.retrying"))

        wait_until(lambda: retries() >= 2, timeout=30, what="two tries refused")
        assert _state(client, people, case_id)["state"] == "filing"  # backing off, not failed
        ncmec.start()
        _wait_state(client, people, case_id, "filed")
    assert ncmec.state.submits == 1 and retries() < 10


def test_the_platform_adds_the_suspended_accounts_details_before_the_report_is_filed(
    live_server, container, media, people, ncmec
):
    media.add("kid-3", n=3)
    with live_server.client() as client:
        case_id = _reviewer_confirmed(client, people, "kid-3", "uploader-5")
        platform = bearer(people["platform"])
        pulled = client.get("/v1/actions", headers=platform).json()["items"]
        suspend = next(a for a in pulled if a["type"] == "suspend_account")
        remove = next(a for a in pulled if a["type"] == "remove")
        details = {
            "screen_name": "shadow5",
            "profile_url": "https://platform.example/u/shadow5",
            "ip_capture_events": [
                {"ip_address": "192.0.2.55", "event": "Upload", "at": "2026-12-02T08:00:00Z"},
                {"ip_address": "2001:db8::5", "event": "Login"},
            ],
        }
        wrong = client.post(
            f"/v1/actions/{remove['action_id']}/account", headers=platform, json=details
        )
        assert wrong.status_code == 409 and wrong.json()["error"]["code"] == "not_an_account"
        refused = client.post(
            f"/v1/actions/{suspend['action_id']}/account",
            headers=bearer(people["lead"]),
            json=details,
        )
        assert refused.status_code == 403
        added = client.post(
            f"/v1/actions/{suspend['action_id']}/account", headers=platform, json=details
        )
        assert added.status_code == 200, added.text
        compliance = bearer(people["compliance"])
        client.post(f"/v1/cases/{case_id}/ncmec/file", headers=compliance).raise_for_status()
        report = _wait_state(client, people, case_id, "filed")
        late = client.post(
            f"/v1/actions/{suspend['action_id']}/account", headers=platform, json=details
        )
        assert late.status_code == 409 and late.json()["error"]["code"] == "filed"
    xml = etree.fromstring(ncmec.state.reports[report["report_id"]].xml)
    reported = xml.find("personOrUserReported")
    assert reported.findtext("espIdentifier") == "uploader-5"
    assert reported.findtext("screenName") == "shadow5"
    assert [e.findtext("ipAddress") for e in reported.findall("ipCaptureEvent")] == [
        "192.0.2.55",
        "2001:db8::5",
    ]


def test_a_violation_overturned_on_appeal_is_not_filed(
    live_server, container, media, people, ncmec
):
    from takedown.services import accounts
    from tests.conftest import OPERATOR

    sam = add_staff(container, "sam", Role.senior_reviewer)
    lia = add_staff(container, "lia", Role.child_safety_lead)
    with container.uow(readonly=True) as uow:
        sam_id = uow.users.get_by_name("sam").id
    accounts.set_child_safety(uow=container.uow(), actor=OPERATOR, user_id=sam_id, granted=True)
    media.add("kid-4", n=4)
    with live_server.client() as client:
        case_id = client.post(
            "/v1/reports",
            headers=bearer(people["platform"]),
            json={"content_id": "kid-4", "category": "csam", "reporter_role": "user"},
        ).json()["case_id"]

        def decide(token: str, outcome: str) -> None:
            auth = bearer(token)
            claimed = client.post(f"/v1/cases/{case_id}/claim", headers=auth)
            assert claimed.status_code == 200, claimed.text
            body = {"outcome": outcome, "reason": "looked again"}
            if outcome == "violation":
                body["category"] = "csam"
            client.post(
                f"/v1/cases/{case_id}/decisions", headers=auth, json=body
            ).raise_for_status()

        decide(people["lead"], "violation")
        _wait_state(client, people, case_id, "drafted")
        client.post(
            "/v1/appeals",
            headers=bearer(people["platform"]),
            json={"content_id": "kid-4", "appellant": "uploader", "text": "it is an adult"},
        ).raise_for_status()
        decide(sam, "no_violation")  # on a case about a minor: final once a senior agrees
        case = client.get(f"/v1/cases/{case_id}", headers=bearer(lia)).json()
        if case["state"] == "pending_second_review":
            decide(lia, "no_violation")
        case = client.get(f"/v1/cases/{case_id}", headers=bearer(lia)).json()
        assert case["state"] == "closed" and case["ncmec_report"]["state"] == "withdrawn"
        assert "overturned" in case["ncmec_report"]["error"]
        refused = client.post(
            f"/v1/cases/{case_id}/ncmec/file", headers=bearer(people["compliance"])
        )
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["code"] == "not_confirmed"
    assert ncmec.state.submits == 0


def test_a_filed_report_outlives_an_appeal_and_its_evidence_is_kept_a_year(
    live_server, container, media, people, ncmec
):
    """An uploader's appeal against bank-confirmed CSAM: one reviewer's "no violation" is only
    a proposal (the content stays down, the report stays filed); once a senior agrees the case
    closes, but the evidence of the report NCMEC holds is kept a year from the filing, and
    the decision made on appeal is not appealed again."""
    from datetime import timedelta

    from takedown.services import accounts, evidence
    from tests.conftest import OPERATOR

    sam = add_staff(container, "sam", Role.senior_reviewer)
    with container.uow(readonly=True) as uow:
        sam_id = uow.users.get_by_name("sam").id
    accounts.set_child_safety(uow=container.uow(), actor=OPERATOR, user_id=sam_id, granted=True)
    with live_server.client() as client:
        _bank_confirmed(client, people, media, "known-9", n=9)
        case_id = _case_of(container, "known-9")
        _wait_state(client, people, case_id, "filed")
        appeal = {"content_id": "known-9", "appellant": "uploader", "text": "it is an adult"}
        platform = bearer(people["platform"])
        assert client.post("/v1/appeals", headers=platform, json=appeal).status_code == 201

        def decide(token: str, outcome: str) -> dict:
            auth = bearer(token)
            assert client.post(f"/v1/cases/{case_id}/claim", headers=auth).status_code == 200
            body = {"outcome": outcome, "reason": "looked again"}
            answer = client.post(f"/v1/cases/{case_id}/decisions", headers=auth, json=body)
            assert answer.status_code == 201, answer.text
            return client.get(f"/v1/cases/{case_id}", headers=bearer(people["lead"])).json()

        proposed = decide(sam, "no_violation")
        assert proposed["state"] == "pending_second_review"
        assert proposed["ncmec_report"]["state"] == "filed"
        with container.uow(readonly=True) as uow:
            assert not [a for a in uow.actions.for_case(case_id) if a.type == "restore"]
        closed = decide(people["lead"], "no_violation")
        assert closed["state"] == "closed" and closed["ncmec_report"]["state"] == "filed"
        again = client.post("/v1/appeals", headers=platform, json=appeal)
        assert again.status_code == 409, again.text
    now = container.clock.now()
    assert evidence.purge(uow=container.uow(), now=now) == 0
    assert evidence.purge(uow=container.uow(), now=now + timedelta(days=300)) == 0
    items = _evidence_items(container, case_id)
    assert any(i.kind == "media" for i in items) and all(i.purged_at is None for i in items)
    assert evidence.purge(uow=container.uow(), now=now + timedelta(days=366)) >= len(items)
    assert all(i.purged_at is not None for i in _evidence_items(container, case_id))


def _evidence_items(container, case_id):
    with container.uow(readonly=True) as uow:
        return uow.evidence.for_case(case_id)


def test_one_filing_that_cannot_be_read_or_written_holds_up_no_other(
    live_server, container, media, people, ncmec
):
    """A report holding characters XML forbids (stored before text was checked where it
    enters) is filed with them replaced, and its page answers; a filing the filer cannot even
    read is tried again after its back-off and parked, while the next case is filed."""
    from sqlalchemy import update

    from takedown.store.models import NcmecFilingRow

    with live_server.client() as client:
        odd = _reviewer_confirmed(client, people, "odd-1", "acct-odd", with_file=False)
        broken = _reviewer_confirmed(client, people, "broken-1", "acct-broken", with_file=False)
        with container.uow() as uow:
            tip = uow.filings.tip(odd)
            assert tip is not None
            from dataclasses import replace as _replace

            uow.filings.set_tip(odd, _replace(tip, additional_info="before \ufffe after \uffff"))
            uow.session.execute(
                update(NcmecFilingRow)
                .where(NcmecFilingRow.case_id == broken)
                .values(tip={"not": "a tip"})
            )
            uow.commit()
        page = client.get(f"/v1/cases/{odd}/ncmec", headers=bearer(people["compliance"]))
        assert page.status_code == 200, page.text
        assert "before \ufffd after \ufffd" in page.json()["document"]
        comp = bearer(people["compliance"])
        for case_id in (broken, odd):
            filed = client.post(f"/v1/cases/{case_id}/ncmec/file", headers=comp)
            assert filed.status_code in (200, 202), filed.text
        _wait_state(client, people, odd, "filed")
        _bank_confirmed(client, people, media, "known-after", n=7)
        _wait_state(client, people, _case_of(container, "known-after"), "filed")
    with container.uow(readonly=True) as uow:
        stuck = uow.filings.get(broken)
    assert stuck is not None and stuck.attempts >= 1 and "internal error" in (stuck.error or "")
    assert ncmec.state.submits == 2


def test_reposters_are_in_the_report_and_a_blocked_re_upload_is_acted_on_and_reported(
    live_server, container, media, people, ncmec
):
    """The case's report names the uploader and lists the accounts that reposted it. A later
    upload of the same picture by another account, blocked by the bank the confirmation
    filled, is a new incident: its own case, confirmed by the match, its uploader suspended
    by the CSAM policy and named in a report of its own (NCMEC takes one reported user a
    report)."""
    data = media.add("kid-r1", n=1)
    media.items["kid-r1-again"] = data
    platform, lead = bearer(people["platform"]), bearer(people["lead"])
    with live_server.client() as client:
        first = client.post(
            "/v1/scan",
            headers=platform,
            data={"content_id": "kid-r1", "account_id": "uploader-1"},
            files={"media": ("a.jpg", data, "image/jpeg")},
        )
        assert first.json()["verdict"] == "allow"
        repost = {
            "content_id": "kid-r1-re",
            "account_id": "reposter-1",
            "parent_content_id": "kid-r1",
        }
        assert client.post("/v1/content", headers=platform, json=repost).status_code == 201
        receipt = client.post(
            "/v1/reports",
            headers=platform,
            json={"content_id": "kid-r1", "category": "csam", "reporter_role": "user"},
        )
        case_id = receipt.json()["case_id"]
        assert client.post(f"/v1/cases/{case_id}/claim", headers=lead).status_code == 200
        decided = client.post(
            f"/v1/cases/{case_id}/decisions",
            headers=lead,
            json={"outcome": "violation", "category": "csam", "reason": "a child"},
        )
        assert decided.status_code == 201, decided.text
        draft = client.get(f"/v1/cases/{case_id}/ncmec", headers=bearer(people["compliance"]))
        document = etree.fromstring(draft.json()["document"].encode())
        reported = document.find("personOrUserReported")
        assert reported.findtext("espIdentifier") == "uploader-1"
        assert "reposter-1 (given a strike)" in reported.findtext("additionalInfo")

        again = client.post(
            "/v1/scan",
            headers=platform,
            data={"content_id": "kid-r1-again", "account_id": "reuploader-1"},
            files={"media": ("a.jpg", data, "image/jpeg")},
        )
        assert again.json()["verdict"] == "block"
        [second] = wait_until(
            lambda: [c for c in _cases_of(container, "kid-r1-again") if c != case_id] or None,
            timeout=30,
            what="the re-upload's own case",
        )
        report = _wait_state(client, people, second, "filed")  # a bank confirmed it: auto-filed
    with container.uow(readonly=True) as uow:
        assert uow.cases.get(second).status.value == "confirmed"
        suspended = {
            a.account_id for a in uow.actions.for_case(second) if a.type == "suspend_account"
        }
        assert "reuploader-1" in suspended
        assert case_id not in _cases_of(container, "kid-r1-again")  # not folded into the first
    filed = ncmec.state.reports[report["report_id"]]
    named = etree.fromstring(filed.xml).findtext("personOrUserReported/espIdentifier")
    assert named == "reuploader-1"


def _cases_of(container, content_id: str) -> list[int]:
    with container.uow(readonly=True) as uow:
        return uow.cases.case_ids_for_content(content_id)
