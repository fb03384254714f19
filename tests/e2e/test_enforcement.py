"""Enforcement through a running server, on SQLite and PostgreSQL: a violation reaches every
copy (the repost family and matching re-uploads), suspends the accounts that uploaded it, is
delivered to a strict local receiver once per action whatever the receiver does, can be
pulled instead, and the next upload of the media is blocked."""

from __future__ import annotations

import json
import random
from dataclasses import replace

import pytest
from PIL import Image, ImageDraw

from takedown.flows import DELIVERY
from takedown.identity import Role, Scope
from takedown.media import hash_image
from tests.conftest import add_key, add_staff, console_login, free_port, make_settings
from tests.enforcement_support import SECRET, receiver
from tests.media_support import at_megapixels, encode, photo, reencode, video
from tests.review_support import bearer
from tests.waiting import wait_until

REPOSTS = 2_223


@pytest.fixture
def hook():
    with receiver() as r:
        yield r


@pytest.fixture
def settings(database_url, tmp_path, hook):
    return make_settings(
        database_url,
        tmp_path,
        platform_webhook_url=hook.url,
        platform_webhook_secret=SECRET,
        review_sample_percent=0,
        action_batch_size=500,
        action_backoff_seconds=0.2,
        mailbox=True,
    )


@pytest.fixture
def people(container):
    lead = add_staff(container, "lead", Role.child_safety_lead)
    platform = add_key(container, "platform", Scope.scan, Scope.report)[1]
    return lead, platform


def _scan(client, key, data: bytes, content_id: str, account: str) -> dict:
    answer = client.post(
        "/v1/scan",
        headers=bearer(key),
        data={"content_id": content_id, "account_id": account},
        files={"media": ("a.jpg", data, "image/jpeg")},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def _variants(image: Image.Image) -> list[bytes]:
    """Three re-uploads of the same picture: recompressed, resized, captioned."""
    recompressed = encode(image, quality=55)
    resized = encode(image.resize((image.width * 3 // 4, image.height * 3 // 4)), quality=85)
    captioned = image.copy()
    ImageDraw.Draw(captioned).rectangle((0, image.height - 40, image.width, image.height), fill=0)
    ImageDraw.Draw(captioned).text((10, image.height - 30), "look at this", fill=255)
    return [recompressed, resized, encode(captioned, quality=85)]


def _reposts(container, root: str, n: int, rng: random.Random) -> list[str]:
    """``n`` reposts of ``root``, some of them reposts of reposts, by fan accounts."""
    made = [root]
    with container.uow() as uow:
        for i in range(n):
            parent = made[rng.randrange(len(made))] if i > 10 else root
            content_id = f"repost-{root}-{i}"
            uow.content.upsert(
                content_id=content_id,
                account_id=f"fan-{i % 300}",
                parent_content_id=parent,
                hashes={},
                scanned=False,
            )
            made.append(content_id)
        uow.commit()
    return made[1:]


def test_a_violation_takes_down_every_copy_and_suspends_its_uploaders(
    live_server, container, people, hook
):
    lead, platform = people
    image = at_megapixels(photo("astronaut.png"), 0.5)
    original = encode(image, quality=90)
    with live_server.client() as client:
        assert _scan(client, platform, original, "post-0", "uploader-0")["verdict"] == "allow"
        copies = []
        for n, data in enumerate(_variants(image), start=1):
            _scan(client, platform, data, f"copy-{n}", f"uploader-{n}")
            copies.append(f"copy-{n}")
        unrelated = encode(at_megapixels(photo("coffee.png"), 0.5), quality=90)
        _scan(client, platform, unrelated, "post-other", "uploader-x")
        reposts = _reposts(container, "post-0", REPOSTS, random.Random(20))
        _reposts(container, "post-other", 5, random.Random(21))

        receipt = client.post(
            "/v1/reports",
            headers=bearer(platform),
            json={"content_id": "post-0", "category": "csam", "reporter_role": "user"},
        ).json()
        case = receipt["case_id"]
        assert client.post(f"/v1/cases/{case}/claim", headers=bearer(lead)).is_success
        decided = client.post(
            f"/v1/cases/{case}/decisions",
            json={"outcome": "violation", "category": "csam", "reason": "known abuse material"},
            headers=bearer(lead),
        )
        assert decided.status_code == 201, decided.text

        everything = {"post-0", *copies, *reposts}
        assert len(everything) == 2_227
        with container.uow(readonly=True) as uow:
            planned = len(uow.actions.for_case(case))
        assert planned == 2_227 + 4 + 300
        wait_until(lambda: len(hook.actions) >= planned, timeout=60, what="every action")
        removed = [a["content_id"] for a in hook.of_type("remove")]
        assert sorted(removed) == sorted(everything)  # each once, nothing unrelated
        suspended = sorted(a["account_id"] for a in hook.of_type("suspend_account"))
        assert suspended == ["uploader-0", "uploader-1", "uploader-2", "uploader-3"]
        struck = {a["account_id"] for a in hook.of_type("strike")}
        assert struck == {f"fan-{i}" for i in range(300)}
        assert hook.repeats == 0 and hook.refused_signatures == 0
        sample = hook.of_type("remove")[0]
        assert sample["case_number"] == receipt["case_number"]
        assert sample["category"] == "csam"
        assert "known abuse material" in sample["statement_of_reasons"]

        # The next upload of the picture, anywhere, is blocked at once.
        again = _scan(client, platform, encode(image, quality=70), "post-new", "uploader-9")
        assert again["verdict"] == "block"
        assert (
            _scan(client, platform, unrelated, "post-other-2", "uploader-y")["verdict"] == "allow"
        )
    # The receiver answers before the deliverer marks the batch delivered.
    wait_until(
        lambda: _counts(container) == {"delivered": len(hook.actions)},
        timeout=30,
        what="every action marked delivered",
    )


def test_every_action_is_delivered_once_the_receiver_recovers(live_server, container, people, hook):
    lead, platform = people
    hook.fail_next = 3
    with live_server.client() as client:
        _reposts(container, "post-r", 40, random.Random(3))
        case = client.post(
            "/v1/reports",
            headers=bearer(platform),
            json={"content_id": "post-r", "category": "policy", "reporter_role": "user"},
        ).json()["case_id"]
        client.post(f"/v1/cases/{case}/claim", headers=bearer(lead)).raise_for_status()
        client.post(
            f"/v1/cases/{case}/decisions",
            json={"outcome": "violation", "category": "policy", "reason": "spam"},
            headers=bearer(lead),
        ).raise_for_status()
        wait_until(lambda: len(hook.of_type("remove")) == 41, timeout=30, what="the retries")
    assert hook.fail_next == 0 and hook.repeats == 0
    wait_until(
        lambda: {a.state for a in _actions(container, case)} == {"delivered"},
        timeout=30,
        what="the batch marked delivered",
    )
    [first] = [a for a in _actions(container, case) if a.content_id == "post-r"]
    assert first.attempts == 4


def _violation(client, platform, lead, content_id: str, category: str = "policy") -> int:
    case = client.post(
        "/v1/reports",
        headers=bearer(platform),
        json={"content_id": content_id, "category": category, "reporter_role": "user"},
    ).json()["case_id"]
    client.post(f"/v1/cases/{case}/claim", headers=bearer(lead)).raise_for_status()
    client.post(
        f"/v1/cases/{case}/decisions",
        json={"outcome": "violation", "category": category, "reason": "spam"},
        headers=bearer(lead),
    ).raise_for_status()
    return case


def test_a_receiver_that_is_down_or_too_slow_gets_every_action_later(
    live_server, container, people, hook
):
    lead, platform = people
    deliverer = container.runtime[DELIVERY]
    assert deliverer is not None
    hook.delay = 1.5  # longer than the timeout below: every attempt times out
    deliverer.settings = replace(deliverer.settings, timeout_seconds=0.5)
    with live_server.client() as client:
        _reposts(container, "post-slow", 9, random.Random(5))
        case = _violation(client, platform, lead, "post-slow")
        wait_until(
            lambda: min(a.attempts for a in _actions(container, case)) >= 2,
            timeout=30,
            what="timed-out attempts",
        )
        assert all(a.state == "pending" for a in _actions(container, case))
        hook.delay = 0
        wait_until(
            lambda: all(a.state == "delivered" for a in _actions(container, case)),
            timeout=30,
            what="delivery after the receiver recovered",
        )
    assert {a["content_id"] for a in hook.of_type("remove")} >= {"post-slow"}
    # A batch that timed out may have reached the receiver: it recognises it by the ids.
    assert len(hook.actions) == len(_actions(container, case))


def _actions(container, case_id):
    with container.uow(readonly=True) as uow:
        return uow.actions.for_case(case_id)


def test_after_too_many_failures_an_action_is_failed_until_retried(
    live_server, container, people, hook
):
    lead, platform = people
    deliverer = container.runtime[DELIVERY]
    deliverer.settings = replace(
        deliverer.settings, retry=replace(deliverer.settings.retry, max_attempts=2)
    )
    hook.fail_next = 100
    with live_server.client() as client:
        case = _violation(client, platform, lead, "post-fails")
        wait_until(
            lambda: all(a.state == "failed" for a in _actions(container, case)),
            timeout=30,
            what="the actions to fail",
        )
        [failed] = [a for a in _actions(container, case) if a.type == "remove"]
        assert failed.last_error == "HTTP 500" and failed.attempts == 2
        hook.fail_next = 0
        console = live_server.client()
        console_login(console, "lead")
        page = console.get("/console/operations")
        assert failed.action_id in page.text and "HTTP 500" in page.text
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        retried = console.post(
            f"/console/operations/actions/{failed.action_id}/retry",
            data={"csrf_token": token},
        )
        assert retried.status_code == 303
        wait_until(
            lambda: any(
                a.state == "delivered" and a.action_id == failed.action_id
                for a in _actions(container, case)
            ),
            timeout=30,
            what="the retried action",
        )
        assert failed.action_id in hook.actions
        console.close()


def test_the_operations_page_hides_a_minors_case_from_an_admin_without_the_permission(
    live_server, container, people, hook
):
    """A failed action of a CSAM case is listed for an admin without the child-safety
    permission (they may retry it) without its content, account or case; a child-safety
    lead sees them."""
    lead, platform = people
    add_staff(container, "boss", Role.admin, token=False)
    deliverer = container.runtime[DELIVERY]
    deliverer.settings = replace(
        deliverer.settings, retry=replace(deliverer.settings.retry, max_attempts=1)
    )
    hook.fail_next = 100
    with live_server.client() as client:
        case = _violation(client, platform, lead, "kid-fails", category="csam")
        wait_until(
            lambda: [a for a in _actions(container, case) if a.state == "failed"],
            timeout=30,
            what="an action to fail",
        )
        failed = [a for a in _actions(container, case) if a.state == "failed"]
    with live_server.client() as admin, live_server.client() as child_safety:
        console_login(admin, "boss")
        console_login(child_safety, "lead")
        hidden = admin.get("/console/operations")
        shown = child_safety.get("/console/operations")
    assert hidden.status_code == shown.status_code == 200
    for action in failed:
        assert action.action_id in hidden.text  # still listed, so it can be retried
    assert "kid-fails" not in hidden.text and f"TD-{case:07d}" not in hidden.text
    assert "A case about a minor" in hidden.text
    assert "kid-fails" in shown.text and f"TD-{case:07d}" in shown.text
    # The reports to NCMEC are the compliance side's: an admin does not see them here.
    assert 'id="filings"' not in hidden.text and 'id="filings"' in shown.text
    hook.fail_next = 0


def test_a_platform_without_a_webhook_pulls_and_acknowledges(live_server, container, people, hook):
    lead, platform = people
    container.runtime[DELIVERY].stop()  # this platform has no webhook receiver
    with live_server.client() as client:
        _reposts(container, "post-pull", 4, random.Random(9))
        _violation(client, platform, lead, "post-pull")
        page = client.get("/v1/actions", params={"limit": 3}, headers=bearer(platform))
        assert page.status_code == 200, page.text
        first = page.json()
        assert len(first["items"]) == 3 and first["next"] is not None
        rest = client.get(
            "/v1/actions", params={"after": first["next"]}, headers=bearer(platform)
        ).json()
        items = first["items"] + rest["items"]
        assert {i["content_id"] for i in items if i["type"] == "remove"} == {
            "post-pull",
            *(f"repost-post-pull-{i}" for i in range(4)),
        }
        for item in items:
            ack = client.post(f"/v1/actions/{item['action_id']}/ack", headers=bearer(platform))
            assert ack.json() == {"action_id": item["action_id"], "state": "delivered"}
        again = client.post(f"/v1/actions/{items[0]['action_id']}/ack", headers=bearer(platform))
        assert again.status_code == 200
        assert client.get("/v1/actions", headers=bearer(platform)).json()["items"] == []
        assert client.post("/v1/actions/nope/ack", headers=bearer(platform)).status_code == 404
        lead_key = client.get("/v1/actions", headers=bearer(lead))
        assert lead_key.status_code == 403
    assert hook.actions == {}


def test_an_overturned_violation_restores_what_was_removed(live_server, container, people, hook):
    lead, platform = people
    other = add_staff(container, "other-lead", Role.child_safety_lead)
    with live_server.client() as client:
        _reposts(container, "post-back", 2, random.Random(1))
        case = _violation(client, platform, lead, "post-back")
        wait_until(lambda: len(hook.of_type("remove")) == 3, timeout=30, what="the removals")
        client.post(
            "/v1/appeals",
            json={"content_id": "post-back", "appellant": "uploader", "text": "it is mine"},
            headers=bearer(platform),
        ).raise_for_status()
        client.post(f"/v1/cases/{case}/claim", headers=bearer(other)).raise_for_status()
        client.post(
            f"/v1/cases/{case}/decisions",
            json={"outcome": "no_violation", "reason": "the uploader's own, with consent"},
            headers=bearer(other),
        ).raise_for_status()
        wait_until(lambda: len(hook.of_type("restore")) == 3, timeout=30, what="the restores")
    restored = {a["content_id"] for a in hook.of_type("restore")}
    assert restored == {a["content_id"] for a in hook.of_type("remove")}


def test_items_registered_before_their_hashes_were_known_come_down_when_a_bank_learns_them(
    live_server, container, people, hook
):
    lead, platform = people
    old = at_megapixels(photo("chelsea.png"), 0.5)
    innocent = encode(at_megapixels(photo("rocket.jpg"), 0.5), quality=90)
    with live_server.client() as client:
        # Uploaded while no bank knew them: allowed.
        assert (
            _scan(client, platform, encode(old, quality=90), "old-1", "early-1")["verdict"]
            == "allow"
        )
        assert (
            _scan(client, platform, encode(old, quality=60), "old-2", "early-2")["verdict"]
            == "allow"
        )
        _scan(client, platform, innocent, "fine-1", "early-3")
        _reposts(container, "old-1", 3, random.Random(2))
        # An import of known hashes (the picture's PDQ) into a block_and_report bank.
        pdq = hash_image(encode(old, quality=95)).pdq.hex
        created = client.post(
            "/v1/banks",
            headers=bearer(lead),
            json={"name": "imported", "policy": "block_and_report"},
        )
        assert created.status_code == 201, created.text
        added = client.post(
            "/v1/banks/imported/entries",
            headers=bearer(lead),
            json={"entries": [{"signal_type": "pdq", "value": pdq}]},
        )
        assert added.status_code in (200, 201), added.text
        wait_until(
            lambda: (
                {a["content_id"] for a in hook.of_type("remove")}
                >= {"old-1", "old-2", *(f"repost-old-1-{i}" for i in range(3))}
            ),
            timeout=60,
            what="the old copies taken down",
        )
    removed = {a["content_id"] for a in hook.of_type("remove")}
    assert "fine-1" not in removed
    suspended = {a["account_id"] for a in hook.of_type("suspend_account")}
    assert suspended == {"early-1", "early-2"}
    with container.uow(readonly=True) as uow:
        cases = {c for item in ("old-1", "old-2") for c in uow.cases.case_ids_for_content(item)}
        assert cases and all(uow.cases.get(c).status == "confirmed" for c in cases)


def test_an_urgent_case_spreading_fast_is_restricted_until_no_violation_restores_it(
    live_server, container, people, hook
):
    lead, platform = people
    senior = add_staff(container, "senior-lead", Role.child_safety_lead)
    with live_server.client() as client:
        client.post(
            "/v1/content",
            headers=bearer(platform),
            json={"content_id": "viral", "account_id": "a"},
        ).raise_for_status()
        receipt = client.post(
            "/v1/reports",
            headers=bearer(platform),
            json={
                "content_id": "viral",
                "category": "csam",
                "reporter_role": "parent_guardian",
                "depicted_minor": True,
            },
        ).json()
        assert receipt["priority"] == "P0"
        case = receipt["case_id"]
        for views in (90_000, 180_000):  # two readings: one restriction
            client.post(
                "/v1/content/viral/stats",
                headers=bearer(platform),
                json={"views": views, "reposts": 900},
            ).raise_for_status()
        wait_until(lambda: hook.of_type("restrict"), timeout=30, what="the restriction")
        assert [a["content_id"] for a in hook.of_type("restrict")] == ["viral"]
        # Four eyes: a proposal, then a second lead agrees.
        for who in (lead, senior):
            client.post(f"/v1/cases/{case}/claim", headers=bearer(who)).raise_for_status()
            client.post(
                f"/v1/cases/{case}/decisions",
                json={"outcome": "no_violation", "reason": "an adult; a costume"},
                headers=bearer(who),
            ).raise_for_status()
        wait_until(lambda: hook.of_type("restore"), timeout=30, what="the restore")
    assert [a["content_id"] for a in hook.of_type("restore")] == ["viral"]
    assert hook.of_type("remove") == []


def test_the_reporter_is_told_and_the_uploaders_other_content_is_queued(
    live_server, container, people, hook
):
    lead, platform = people
    image = encode(at_megapixels(photo("horse.png"), 0.5), quality=90)
    with live_server.client() as client:
        _scan(client, platform, image, "bad-1", "repeat-1")
        client.post(
            "/v1/content",
            headers=bearer(platform),
            json={"content_id": "also-theirs", "account_id": "repeat-1"},
        ).raise_for_status()
        _reposts(container, "bad-1", 2, random.Random(4))
        receipt = client.post(
            "/v1/reports",
            headers=bearer(platform),
            json={
                "content_id": "bad-1",
                "category": "csam",
                "reporter_role": "user",
                "contact": {"email": "reporter@example.org"},
            },
        ).json()
        client.post(f"/v1/cases/{receipt['case_id']}/claim", headers=bearer(lead))
        client.post(
            f"/v1/cases/{receipt['case_id']}/decisions",
            json={"outcome": "violation", "category": "csam", "reason": "abuse material"},
            headers=bearer(lead),
        ).raise_for_status()
        wait_until(lambda: len(hook.of_type("remove")) == 3, timeout=30, what="the removals")
        wait_until(
            lambda: _cases_of(container, "also-theirs"), timeout=30, what="the other content"
        )
        # The receiver counts the removals as it answers; the deliverer marks them
        # delivered once it has the answer: the status page says so from then on.
        wait_until(
            lambda: (
                "removed it, with 2 other copies"
                in client.get(receipt["status_url"].replace(live_server.url, "")).text
            ),
            timeout=30,
            what="the status page telling of the removal",
        )
        wait_until(
            lambda: any("was removed" in e["subject"] for e in _emails(container)),
            timeout=30,
            what="the reporter's e-mail about the removal",
        )
        [told] = [e for e in _emails(container) if "was removed" in e["subject"]]
        assert told["to"] == "reporter@example.org" and "(3 in all)" in told["body"]
        [queued] = _cases_of(container, "also-theirs")
        assert queued.status == "open"
        assert "prior_removals" in [r["code"] for r in queued.reasons]
        console = live_server.client()
        console_login(console, "lead")
        assert "repeat-1" in console.get("/console/lead").text
        console.close()


def _cases_of(container, content_id):
    with container.uow(readonly=True) as uow:
        return [uow.cases.get(c) for c in uow.cases.case_ids_for_content(content_id)]


def test_a_receiver_that_is_down_gets_every_action_once_it_is_up(
    live_server, container, people, hook
):
    lead, platform = people
    port = free_port()
    deliverer = container.runtime[DELIVERY]
    deliverer.settings = replace(deliverer.settings, url=f"http://127.0.0.1:{port}/actions")
    with live_server.client() as client:
        _reposts(container, "post-down", 5, random.Random(6))
        case = _violation(client, platform, lead, "post-down")
        wait_until(
            lambda: min(a.attempts for a in _actions(container, case)) >= 2,
            timeout=30,
            what="refused connections counted",
        )
        assert "Connection refused" in (_actions(container, case)[0].last_error or "")
        with receiver(port=port) as up:
            wait_until(
                lambda: all(a.state == "delivered" for a in _actions(container, case)),
                timeout=30,
                what="delivery once the receiver is up",
            )
            assert len(up.of_type("remove")) == 6 and up.repeats == 0


def _emails(container) -> list[dict]:
    """The e-mails to reporters queued in the outbox (this test process sends none)."""
    with container.uow(readonly=True) as uow:
        rows = uow.raw.all("SELECT payload FROM outbox WHERE event_type = 'cases.reporter_email'")
    return [json.loads(p) if isinstance(p, str) else p for (p,) in rows]


def test_a_videos_re_encoded_copies_are_found_by_their_frames_and_blocked_after(
    live_server, container, people, hook
):
    lead, platform = people
    clip = video(seconds=6, fps=10, name="astronaut.png")
    other = video(seconds=6, fps=10, name="coffee.png")
    with live_server.client() as client:
        for content_id, data, account in (
            ("vid-1", clip, "v-up-0"),
            ("vid-2", reencode(clip), "v-up-1"),
            ("vid-other", other, "v-up-2"),
        ):
            answer = client.post(
                "/v1/scan",
                headers=bearer(platform),
                data={"content_id": content_id, "account_id": account},
                files={"media": ("v.mp4", data, "video/mp4")},
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["verdict"] == "allow"
        _violation(client, platform, lead, "vid-1")
        wait_until(lambda: len(hook.of_type("remove")) >= 2, timeout=30, what="the removals")
        removed = {a["content_id"] for a in hook.of_type("remove")}
        assert removed == {"vid-1", "vid-2"}
        again = client.post(
            "/v1/scan",
            headers=bearer(platform),
            data={"content_id": "vid-3", "account_id": "v-up-3"},
            files={"media": ("v.mp4", reencode(clip, size=(320, 180)), "video/mp4")},
        )
        assert again.json()["verdict"] == "block", again.json()


def _counts(container) -> dict[str, int]:
    with container.uow(readonly=True) as uow:
        return uow.actions.counts()


def test_mirrored_and_rotated_re_uploads_come_down_with_the_original(
    live_server, container, people, hook
):
    """Copies uploaded mirrored or turned before anyone reported the picture are in its
    takedown set: the registry keeps each scanned image's mirrored and rotated hashes, and
    the confirmed item's are searched with its own. An unrelated photo, mirrored, is not."""
    lead, platform = people
    image = at_megapixels(photo("astronaut.png"), 0.5).convert("RGB")
    unrelated = at_megapixels(photo("coffee.png"), 0.5).convert("RGB")
    mirrored, turned = Image.Transpose.FLIP_LEFT_RIGHT, Image.Transpose.ROTATE_90
    with live_server.client() as client:
        _scan(client, platform, encode(image, quality=90), "m-0", "uploader-0")
        _scan(client, platform, encode(image.transpose(mirrored), quality=80), "m-1", "uploader-1")
        _scan(client, platform, encode(image.transpose(turned), quality=80), "m-2", "uploader-2")
        _scan(client, platform, encode(unrelated.transpose(mirrored)), "m-other", "uploader-3")
        case = _violation(client, platform, lead, "m-0", category="csam")
    removed = {a.content_id for a in _actions(container, case) if a.type == "remove"}
    assert removed == {"m-0", "m-1", "m-2"}
