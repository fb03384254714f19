"""The API's main flows over real HTTP, as an integrating engineer would use them."""

from takedown.identity import Role, Scope
from tests.conftest import add_key, add_staff


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


def test_admin_issues_lists_and_revokes_a_platform_key(live_server, container):
    admin = bearer(add_staff(container, "boss", Role.admin))
    with live_server.client() as c:
        issued = c.post(
            "/v1/keys", json={"name": "upload path", "scopes": ["scan", "metrics"]}, headers=admin
        )
        assert issued.status_code == 201
        body = issued.json()
        assert body["secret"].startswith(f"tdk_{body['key_id']}_")
        assert body["scopes"] == ["metrics", "scan"]
        listed = c.get("/v1/keys", headers=admin).json()
        assert [k["name"] for k in listed] == ["upload path"]
        assert "secret" not in listed[0] and body["secret"] not in str(listed)
        metrics = c.get("/metrics", headers=bearer(body["secret"]))
        assert metrics.status_code == 200 and "takedown_http_requests_total" in metrics.text
        revoked = c.delete(f"/v1/keys/{body['id']}", headers=admin)
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        assert c.get("/metrics", headers=bearer(body["secret"])).status_code == 401
        again = c.delete(f"/v1/keys/{body['id']}", headers=admin)
        assert again.status_code == 200


def test_staff_member_makes_and_revokes_a_personal_token(live_server, container):
    first = bearer(add_staff(container, "rev", Role.senior_reviewer))
    with live_server.client() as c:
        me = c.get("/v1/me", headers=first).json()
        assert me["name"] == "rev" and me["role"] == "senior_reviewer"
        made = c.post("/v1/me/tokens", json={"name": "review tool"}, headers=first).json()
        assert made["secret"].startswith("tdp_")
        tool = bearer(made["secret"])
        assert c.get("/v1/me", headers=tool).json()["name"] == "rev"
        tokens = c.get("/v1/me/tokens", headers=tool).json()
        assert {t["name"] for t in tokens} == {"tests", "review tool"}
        assert c.delete(f"/v1/me/tokens/{made['id']}", headers=first).status_code == 200
        assert c.get("/v1/me", headers=tool).status_code == 401


def test_admin_manages_users_and_compliance_reads_the_audit_log(live_server, container):
    admin = bearer(add_staff(container, "boss", Role.admin))
    compliance = bearer(add_staff(container, "cora", Role.compliance))
    with live_server.client() as c:
        made = c.post(
            "/v1/users",
            json={"name": "newbie", "role": "reviewer", "password": "long-enough-pass"},
            headers=admin,
        )
        assert made.status_code == 201 and made.json()["active"] is True
        names = [u["name"] for u in c.get("/v1/users", headers=admin).json()]
        assert names == ["boss", "cora", "newbie"]
        disabled = c.post(f"/v1/users/{made.json()['id']}/disable", headers=admin)
        assert disabled.status_code == 200 and disabled.json()["active"] is False
        assert c.post("/v1/users/999/disable", headers=admin).status_code == 404

        entries = c.get("/v1/audit", params={"limit": 3}, headers=compliance).json()
        assert [e["action"] for e in entries] == [
            "user.disabled",
            "user.created",
            "credential.issued",
        ]
        assert entries[0]["actor_name"] == "boss"
        older = c.get(
            "/v1/audit", params={"before_seq": entries[-1]["seq"]}, headers=compliance
        ).json()
        assert older and older[0]["seq"] == entries[-1]["seq"] - 1
        filtered = c.get("/v1/audit", params={"action": "user.created"}, headers=compliance).json()
        assert {e["action"] for e in filtered} == {"user.created"}
        verified = c.get("/v1/audit/verify", headers=compliance).json()
        assert verified == {
            "ok": True,
            "entries": verified["head_seq"],
            "head_seq": verified["head_seq"],
            "problems": [],
        }


def test_api_keys_cannot_act_as_staff(live_server, container):
    _, secret = add_key(container, "flagger", Scope.trusted_flagger)
    with live_server.client() as c:
        assert c.get("/v1/me", headers=bearer(secret)).status_code == 403
        assert (
            c.post("/v1/me/tokens", json={"name": "x"}, headers=bearer(secret)).status_code == 403
        )
