"""E-mail to reporters who gave an address, through a real SMTP server on a loopback port
(aiosmtpd): the acknowledgment carries the case number and a working status link, a decision
reaches every reporter of the case, a report without an address sends nothing, and a mail
server that is down loses no report (the e-mail waits in the outbox)."""

import re
from email import message_from_bytes

import pytest
from sqlalchemy import func, select

from takedown.bootstrap import default_registry
from takedown.identity import Scope
from takedown.server.container import Container
from takedown.store.models import OutboxRow
from tests.conftest import add_key, free_port, make_settings, start_live_server
from tests.integration.test_reports import scan_and_bank
from tests.waiting import wait_until

aiosmtpd = pytest.importorskip("aiosmtpd.controller")


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"

    def wait_for(self, count, timeout=15.0):
        wait_until(lambda: len(self.messages) >= count, timeout=timeout, what=f"{count} e-mails")
        return self.messages


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


def serve(database_url, db, tmp_path, port):
    settings = make_settings(
        database_url,
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_from="safety@platform.example",
        outbox_backoff_seconds=0.2,
    )
    return start_live_server(
        Container(settings=settings, db=db, registry=default_registry(settings))
    )


def stop(live):
    live.server.should_exit = True
    live.thread.join(15)


def _outbox(live) -> dict[str, int]:
    with live.container.uow(readonly=True) as uow:
        return uow.outbox.counts()


def _failed_attempts(live) -> int:
    """Events whose handler failed and that wait for a retry."""
    with live.container.uow(readonly=True) as uow:
        return int(
            uow.session.scalar(
                select(func.count())
                .select_from(OutboxRow)
                .where(OutboxRow.status == "pending", OutboxRow.last_error.is_not(None))
            )
        )


def body_of(message):
    return message.get_payload(decode=True).decode()


def test_reporters_get_an_acknowledgment_and_the_decision(database_url, db, tmp_path, smtp):
    inbox, port = smtp
    live = serve(database_url, db, tmp_path, port)
    try:
        platform = add_key(live.container, "platform", Scope.report)[1]
        auth = {"Authorization": f"Bearer {platform}"}
        with live.client() as client:
            first = client.post(
                "/v1/reports",
                headers=auth,
                json={
                    "content_id": "img-7",
                    "category": "csam",
                    "reporter_role": "parent_guardian",
                    "contact": {"email": "parent@example.org"},
                },
            )
            silent = client.post(
                "/v1/reports",
                headers=auth,
                json={"content_id": "img-8", "category": "policy", "reporter_role": "user"},
            )
            assert first.status_code == silent.status_code == 201
            [ack] = inbox.wait_for(1)
            assert ack["To"] == "parent@example.org"
            assert ack["From"] == "safety@platform.example"
            assert first.json()["case_number"] in ack["Subject"]
            link = re.search(r"(http://\S+/status/\S+)", body_of(ack)).group(1)
            assert link == first.json()["status_url"]
            page = client.get(link)
            assert page.status_code == 200 and first.json()["case_number"] in page.text

            # The same item turns out to be in a known-CSAM bank: the next report confirms the
            # case at once, and both reporters with an address hear of the decision.
            scan_and_bank(live.container, "img-7", "u1", signal_type="sha256")
            second = client.post(
                "/v1/reports",
                headers=auth,
                json={
                    "content_id": "img-7",
                    "category": "csam",
                    "reporter_role": "user",
                    "contact": {"email": "friend@example.org"},
                },
            )
            assert second.json()["case_status"] == "confirmed"
        messages = inbox.wait_for(4)
        decisions = [m for m in messages if m["Subject"].startswith("Update on your report")]
        assert sorted(m["To"] for m in decisions) == ["friend@example.org", "parent@example.org"]
        assert all("known" in body_of(m) for m in decisions)
        wait_until(lambda: _outbox(live).get("pending", 0) == 0, what="every event handled")
        assert len(inbox.messages) == 4  # the report without an address sent nothing
        assert len({m["Message-ID"] for m in inbox.messages}) == 4
    finally:
        stop(live)


def test_a_merged_cases_reporters_hear_the_decision_under_the_number_they_know(
    database_url, db, tmp_path, smtp
):
    """Two cases about the same content, one merged into the other: the decision reaches
    the reporters of both, and says that the number the second reporter was given is now part
    of the case decided."""
    from takedown.identity import Role
    from tests.conftest import add_staff

    inbox, port = smtp
    live = serve(database_url, db, tmp_path, port)
    try:
        platform = add_key(live.container, "platform", Scope.report)[1]
        reviewer = {"Authorization": f"Bearer {add_staff(live.container, 'rev', Role.reviewer)}"}
        auth = {"Authorization": f"Bearer {platform}"}
        with live.client() as client:
            kept, merged = (
                client.post(
                    "/v1/reports",
                    headers=auth,
                    json={
                        "content_id": content,
                        "category": "policy",
                        "reporter_role": "user",
                        "contact": {"email": email},
                    },
                ).json()
                for content, email in (("joined-a", "a@example.org"), ("joined-b", "b@example.org"))
            )
            inbox.wait_for(2)  # the acknowledgments
            joined = client.post(
                f"/v1/cases/{merged['case_id']}/merge",
                json={"into": kept["case_number"], "note": "the same post, twice"},
                headers=reviewer,
            )
            assert joined.status_code == 200, joined.text
            assert client.post(f"/v1/cases/{kept['case_id']}/claim", headers=reviewer).is_success
            decided = client.post(
                f"/v1/cases/{kept['case_id']}/decisions",
                json={"outcome": "violation", "category": "policy", "reason": "spam"},
                headers=reviewer,
            )
            assert decided.status_code == 201, decided.text
        messages = inbox.wait_for(4)
        decisions = {m["To"]: m for m in messages if m["Subject"].startswith("Update on")}
        assert sorted(decisions) == ["a@example.org", "b@example.org"]
        for message in decisions.values():
            assert kept["case_number"] in message["Subject"]
            body = body_of(message)
            assert f"the number {merged['case_number']}: that case was joined to case" in body, body
    finally:
        stop(live)


def test_a_mail_server_that_is_down_loses_no_report(database_url, db, tmp_path):
    dead_port = free_port()  # nothing listens here until later
    live = serve(database_url, db, tmp_path, dead_port)
    try:
        platform = add_key(live.container, "platform", Scope.report)[1]
        with live.client() as client:
            answer = client.post(
                "/v1/reports",
                headers={"Authorization": f"Bearer {platform}"},
                json={
                    "content_id": "x",
                    "category": "csam",
                    "reporter_role": "user",
                    "contact": {"email": "someone@example.org"},
                },
            )
        assert answer.status_code == 201
        wait_until(lambda: _failed_attempts(live), what="a failed delivery")
        counts = _outbox(live)
        assert counts.get("pending", 0) >= 1  # the e-mail waits to be retried
        # The server comes up: the retry delivers it.
        inbox = Inbox()
        controller = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=dead_port)
        controller.start()
        try:
            [message] = inbox.wait_for(1, timeout=20)
            assert message["To"] == "someone@example.org"
        finally:
            controller.stop()
    finally:
        stop(live)


def test_an_email_that_failed_every_attempt_is_parked_until_an_operator_retries_it(
    database_url, db, tmp_path
):
    """Past its last attempt an e-mail is parked, not lost: the operations page lists it with
    its error (for a case about a minor, only to those with the child-safety permission), and
    an operator's retry sends it once the mail server is back."""
    from takedown.identity import Role
    from tests.conftest import add_staff, console_login

    dead_port = free_port()
    settings = make_settings(
        database_url,
        tmp_path,
        smtp_host="127.0.0.1",
        smtp_port=dead_port,
        smtp_from="safety@platform.example",
        outbox_max_attempts=1,
    )
    live = start_live_server(
        Container(settings=settings, db=db, registry=default_registry(settings))
    )
    try:
        platform = add_key(live.container, "platform", Scope.report)[1]
        add_staff(live.container, "boss", Role.admin, token=False)
        add_staff(live.container, "lead", Role.child_safety_lead, token=False)
        with live.client() as client:
            answer = client.post(
                "/v1/reports",
                headers={"Authorization": f"Bearer {platform}"},
                json={
                    "content_id": "kid-1",
                    "category": "csam",
                    "reporter_role": "user",
                    "contact": {"email": "someone@example.org"},
                },
            )
        assert answer.status_code == 201
        case_number = answer.json()["case_number"]
        wait_until(lambda: _outbox(live).get("dead", 0) == 1, what="the e-mail parked")
        with live.client() as admin, live.client() as lead:
            console_login(admin, "boss")
            console_login(lead, "lead")
            hidden = admin.get("/console/operations")
            shown = lead.get("/console/operations")
            assert hidden.status_code == shown.status_code == 200
            assert "cases.reporter_email" in hidden.text and "A case about a minor" in hidden.text
            assert case_number not in hidden.text and "ConnectionRefused" not in hidden.text
            assert case_number in shown.text and "ConnectionRefused" in shown.text

            inbox = Inbox()
            controller = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=dead_port)
            controller.start()
            try:
                [event_id] = re.findall(r"/console/operations/events/(\d+)/retry", hidden.text)
                token = hidden.text.split('name="csrf_token" value="')[1].split('"')[0]
                retried = admin.post(
                    f"/console/operations/events/{event_id}/retry", data={"csrf_token": token}
                )
                assert retried.status_code == 303
                [message] = inbox.wait_for(1, timeout=20)
                assert message["To"] == "someone@example.org"
                again = admin.post(
                    f"/console/operations/events/{event_id}/retry", data={"csrf_token": token}
                )
                assert again.status_code == 404  # no longer parked
            finally:
                controller.stop()
        assert _outbox(live).get("dead", 0) == 0
    finally:
        stop(live)
