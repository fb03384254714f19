"""Exchanges over real HTTP, as a lead would set one up: the credentials go in and never come
out (not in answers, lists, the audit log or errors), bad input is a clear 4xx, one pass runs
on request, and the fetched hash blocks an upload through ``/v1/scan``."""

import json
import time

from takedown.cases import Category
from takedown.identity import Role, Scope
from tests.conftest import add_key, add_staff, console_login
from tests.exchange_support import STOPNCII_CREDENTIALS, StopNcii, stopncii_server
from tests.integration.test_reports import submit
from tests.media_support import encode, photo


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


def scan(client, key, data, content_id):
    return client.post(
        "/v1/scan",
        headers=bearer(key),
        data={"content_id": content_id, "account_id": "acct-1"},
        files={"media": ("a.jpg", data, "application/octet-stream")},
    )


def test_a_lead_adds_a_stopncii_exchange_syncs_it_and_an_upload_is_blocked(live_server, container):
    lead = bearer(add_staff(container, "lead", Role.child_safety_lead))
    admin = bearer(add_staff(container, "boss", Role.admin))
    _, scan_key = add_key(container, "platform", Scope.scan)
    data = encode(photo("coffee.png"), quality=90)
    with live_server.client() as c:
        pdq = scan(c, scan_key, data, "up-1").json()["hashes"]["pdq"]
        state = StopNcii()
        state.put(pdq, at=1_700_000_000)
        with stopncii_server(state) as server:
            assert (
                c.post(
                    "/v1/banks", json={"name": "stopncii", "policy": "block"}, headers=lead
                ).status_code
                == 201
            )
            body = {
                "name": "stopncii",
                "kind": "stopncii",
                "bank": "stopncii",
                "url": server.url,
                "credentials": STOPNCII_CREDENTIALS,
            }
            made = c.post("/v1/exchanges", json=body, headers=lead)
            assert made.status_code == 201, made.text
            assert made.json()["has_credentials"] is True
            assert c.post("/v1/exchanges", json=body, headers=lead).status_code == 409
            bad = c.post(
                "/v1/exchanges",
                json={**body, "name": "other", "credentials": {"functions_key": "only"}},
                headers=lead,
            )
            assert bad.status_code == 422 and "subscription_key" in bad.text
            unknown = c.post(
                "/v1/exchanges", json={**body, "name": "x", "bank": "nope"}, headers=lead
            )
            assert unknown.status_code == 404

            synced = c.post("/v1/exchanges/stopncii/sync", headers=lead)
            if synced.status_code == 409:
                # The server's exchanges lane found the new exchange due and took its first
                # sync a moment before: the answer says so; wait for that sync instead.
                assert "syncing in another process" in synced.text, synced.text
                deadline = time.monotonic() + 30
                while not c.get("/v1/exchanges/stopncii", headers=lead).json()["last_success_at"]:
                    assert time.monotonic() < deadline, "the lane's sync never ended"
                    time.sleep(0.1)
                assert c.get("/v1/exchanges/stopncii", headers=lead).json()["added"] == 1
            else:
                assert synced.status_code == 200, synced.text
                assert synced.json()["added"] == 1 and synced.json()["failed"] is None
            again = scan(c, scan_key, data, "up-2").json()
            assert again["verdict"] == "block"
            assert again["matches"][0]["bank"] == "stopncii"

            got = c.get("/v1/exchanges/stopncii", headers=lead).json()
            assert got["entries"] == 1 and got["last_success_at"] and got["errors"] == []
            assert c.get("/v1/exchanges/nope", headers=lead).status_code == 404
            listed = c.get("/v1/exchanges", headers=lead).json()
            assert [e["name"] for e in listed] == ["stopncii"]
            audit = c.get("/v1/audit", headers=admin).json()
            everything = json.dumps([made.json(), got, listed, audit])
            for secret in STOPNCII_CREDENTIALS.values():
                assert secret not in everything
            assert "exchange.added" in everything and "exchange.synced" in everything
            _, metrics_key = add_key(container, "prometheus", Scope.metrics)
            scraped = c.get("/metrics", headers=bearer(metrics_key)).text
            assert 'takedown_exchange_entries{exchange="stopncii",kind="stopncii"} 1.0' in scraped
            assert 'takedown_exchange_failing{exchange="stopncii",kind="stopncii"} 0.0' in scraped

            # The case page says why the upload matched: which exchange, its entry, its tags.
            receipt = submit(container, content_id="up-2", category=Category.ncii)
        console_login(c, "lead")
        page = c.get(f"/console/cases/{receipt.case_id}?proceed=1")
        assert page.status_code == 200
        assert "from the exchange <strong>stopncii</strong>" in page.text
        assert f"<code>{pdq}</code> (case:C-1)" in page.text


def test_a_reviewer_cannot_add_or_sync_an_exchange(live_server, container):
    reviewer = bearer(add_staff(container, "rev", Role.reviewer))
    with live_server.client() as c:
        body = {"name": "x", "kind": "file", "bank": "b", "url": "/tmp/x"}
        assert c.post("/v1/exchanges", json=body, headers=reviewer).status_code == 403
        assert c.post("/v1/exchanges/x/sync", headers=reviewer).status_code == 403
        assert c.get("/v1/exchanges", headers=reviewer).status_code == 403
