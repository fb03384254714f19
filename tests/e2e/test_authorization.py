"""Every route the app has is refused without credentials, with a wrong role or scope, and
with a revoked credential. The routes are read from the app, so routes added later are
covered without editing this test."""

import re

import pytest
from fastapi.routing import APIRoute

from takedown.identity import ROLE_PERMISSIONS, SCOPE_PERMISSIONS, Role, Scope
from takedown.server.security import (
    SESSION_COOKIE,
    check_routes_declared,
    declared_access,
    iter_routes,
)
from takedown.services import accounts, audit
from tests.conftest import OPERATOR, PASSWORD, add_key, add_staff, console_login


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def protected_routes(app):
    for route in iter_routes(app):
        if not isinstance(route, APIRoute):
            continue
        access = declared_access(route)
        assert access is not None, route.path
        if access.permission is None:
            continue
        for method in sorted(route.methods - {"HEAD"}):
            yield method, route.path, access.permission


@pytest.fixture
def credentials(container):
    """A token per role, a key per scope, and revoked ones that would otherwise be allowed."""
    roles = {role: add_staff(container, f"r-{role.value.replace('_', '-')}", role) for role in Role}
    scopes = {scope: add_key(container, f"k-{scope}", scope)[1] for scope in Scope}
    revoked = {}
    for role in Role:
        token = accounts.create_personal_token(
            uow=container.uow(),
            actor=OPERATOR,
            user_name=f"r-{role.value.replace('_', '-')}",
            label="revoked",
        )
        accounts.revoke_credential(uow=container.uow(), actor=OPERATOR, key_pk=token.key.id)
        revoked[("role", role)] = token.secret
    for scope in Scope:
        key_pk, secret = add_key(container, f"revoked-{scope}", scope)
        accounts.revoke_credential(uow=container.uow(), actor=OPERATOR, key_pk=key_pk)
        revoked[("scope", scope)] = secret
    return roles, scopes, revoked


def test_every_route_declares_access_and_the_app_refuses_one_that_does_not(live_server):
    app = live_server.server.config.app
    check_routes_declared(app)  # the built app passes

    @app.get("/undeclared")
    def undeclared() -> dict:
        return {}

    with pytest.raises(RuntimeError, match="/undeclared"):
        check_routes_declared(app)


def test_every_protected_route_refuses_wrong_credentials(live_server, credentials):
    roles, scopes, revoked = credentials
    routes = list(protected_routes(live_server.server.config.app))
    assert len(routes) >= 10
    failures = []
    with live_server.client() as client:

        def expect(method, path, status, headers=None, cookies=None, why=""):
            client.cookies.clear()
            r = client.request(method, concrete(path), headers=headers or {}, cookies=cookies)
            if r.status_code != status:
                failures.append(f"{method} {path} {why}: {r.status_code} != {status}")

        for method, path, permission in routes:
            expect(method, path, 401, why="without credentials")
            expect(
                method,
                path,
                401,
                {"Authorization": "Bearer tdk_000000000000_nope"},
                why="with an unknown key",
            )
            expect(
                method,
                path,
                401,
                {"Authorization": "Basic YWRtaW46YWRtaW4="},
                why="with another scheme",
            )
            wrong = 0
            for role, token in roles.items():
                if permission not in ROLE_PERMISSIONS[role]:
                    wrong += 1
                    expect(
                        method,
                        path,
                        403,
                        {"Authorization": f"Bearer {token}"},
                        why=f"with role {role}",
                    )
            for scope, secret in scopes.items():
                if permission not in SCOPE_PERMISSIONS[scope]:
                    wrong += 1
                    expect(
                        method,
                        path,
                        403,
                        {"Authorization": f"Bearer {secret}"},
                        why=f"with scope {scope}",
                    )
            assert wrong, f"{path}: no wrong credential exists for {permission}"
            allowed_revoked = [
                secret
                for (kind, which), secret in revoked.items()
                if permission
                in (ROLE_PERMISSIONS[which] if kind == "role" else SCOPE_PERMISSIONS[which])
            ]
            assert allowed_revoked, f"{path}: nothing could hold {permission}"
            for secret in allowed_revoked:
                expect(
                    method,
                    path,
                    401,
                    {"Authorization": f"Bearer {secret}"},
                    why="with a revoked credential",
                )
    assert failures == []


def test_cookie_sessions_need_the_csrf_token_for_every_unsafe_route(live_server, container):
    add_staff(container, "boss", Role.admin, token=False)
    with live_server.client() as client:
        page = client.get("/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        r = client.post(
            "/login",
            data={"name": "boss", "password": PASSWORD, "csrf_token": csrf, "next": "/console"},
        )
        assert r.status_code == 303 and SESSION_COOKIE in client.cookies
        unsafe = [
            (m, p)
            for m, p, perm in protected_routes(live_server.server.config.app)
            if m not in ("GET", "HEAD") and perm in ROLE_PERMISSIONS[Role.admin]
        ]
        assert unsafe
        for method, path in unsafe:
            r = client.request(method, concrete(path))
            assert r.status_code == 403, (method, path, r.status_code)
            if path.startswith("/v1/"):
                assert "CSRF" in r.json()["error"]["message"]
        # the same session with its token is accepted
        me = client.get("/console")
        token = re.search(r'name="csrf_token" value="([^"]+)"', me.text).group(1)
        r = client.post("/v1/me/tokens", json={"name": "x"}, headers={"X-CSRF-Token": token})
        assert r.status_code == 201


def test_public_routes_answer_without_credentials(live_server):
    app = live_server.server.config.app
    public = [
        (m, r.path)
        for r in iter_routes(app)
        if isinstance(r, APIRoute) and declared_access(r).permission is None
        for m in r.methods - {"HEAD"}
    ]
    assert ("GET", "/healthz") in public
    with live_server.client() as client:
        for method, path in public:
            if method == "GET":
                r = client.get(concrete(path))
                assert r.status_code not in (401, 403), path


def test_the_console_manages_accounts_and_never_locks_out_the_last_admin(live_server, container):
    add_staff(container, "boss", Role.admin, token=False)
    add_staff(container, "rev", Role.reviewer, token=False)
    with live_server.client() as client:
        console_login(client, "boss")
        users = client.get("/console/users")
        assert users.status_code == 200 and "rev" in users.text
        token = re.search(r'name="csrf_token" value="([^"]+)"', users.text).group(1)
        with container.uow(readonly=True) as uow:
            ids = {u.name: u.id for u in uow.users.list()}
        me = client.post(f"/console/users/{ids['boss']}/disable", data={"csrf_token": token})
        assert me.status_code == 409 and "your own account" in me.text
        off = client.post(f"/console/users/{ids['rev']}/disable", data={"csrf_token": token})
        assert off.status_code == 303
        assert "disabled" in client.get("/console/users").text
        on = client.post(f"/console/users/{ids['rev']}/enable", data={"csrf_token": token})
        assert on.status_code == 303
        gone = client.post("/console/users/999999/enable", data={"csrf_token": token})
        assert gone.status_code == 404 and "text/html" in gone.headers["content-type"]
    with container.uow(readonly=True) as uow:
        assert uow.users.get(ids["rev"]).active


def test_a_browser_that_logged_in_keeps_getting_in_through_a_strangers_lock(live_server, container):
    """The console's login sets a device cookie (only for /login, HttpOnly, SameSite=Strict);
    with it the owner gets past the account-wide lock strangers set from many addresses."""
    add_staff(container, "boss", Role.admin, token=False)
    with live_server.client() as browser:
        console_login(browser, "boss")
        device = next(c for c in browser.cookies.jar if c.name == "takedown_device")
        assert device.path == "/login" and device.has_nonstandard_attr("HttpOnly")
        assert device.get_nonstandard_attr("SameSite") == "strict"
        browser.post("/logout", data={"csrf_token": _csrf(browser)})
    policy = container.login_policy
    for n in range(policy.max_failures * accounts.ACCOUNT_WIDE):
        with pytest.raises(accounts.NotAuthenticated):
            accounts.login(
                uow=container.uow(),
                name="boss",
                password="wrong-password-123",
                policy=policy,
                client=f"192.0.2.{n}",
            )
    with live_server.client() as stranger:
        page = stranger.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        refused = stranger.post(
            "/login", data={"name": "boss", "password": PASSWORD, "csrf_token": token}
        )
        assert refused.status_code == 401
    with live_server.client() as browser:
        browser.cookies.set("takedown_device", device.value, path="/login")
        console_login(browser, "boss")
        assert browser.get("/console").status_code == 200


def _csrf(client) -> str:
    page = client.get("/console")
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def test_each_login_form_has_its_own_token_and_its_cookie_matches(live_server, container):
    """The anonymous login form is rendered once and then only given a fresh token: every
    answer's token is new, the cookie holds the same one, a refusal says why, and a form for
    another page than the console is its own."""
    add_staff(container, "ana", Role.reviewer, token=False)
    seen = set()
    with live_server.client() as browser:
        for _ in range(3):
            page = browser.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            assert browser.cookies.get("takedown_login_csrf", path="/login") == token
            seen.add(token)
        refused = browser.post(
            "/login", data={"name": "ana", "password": "wrong-password-123", "csrf_token": token}
        )
        assert refused.status_code == 401 and "did not work" in refused.text
        again = re.search(r'name="csrf_token" value="([^"]+)"', refused.text).group(1)
        assert again not in seen and "login-csrf-token-slot" not in refused.text
        elsewhere = browser.get("/login", params={"next": "/console/queue"})
        assert 'name="next" value="/console/queue"' in elsewhere.text
    assert len(seen) == 3


def test_a_login_while_the_checks_are_full_is_refused_before_its_form_is_read(
    live_server, container
):
    """Under a flood of logins the refusal is the cheapest answer the server has: 503 with
    ``Retry-After`` before the form is read or anything counted, still a page with the
    request id and every security header (both /login routes take the direct lane)."""
    add_staff(container, "ana", Role.reviewer, token=False)
    before = [e.action for e in audit.list_entries(uow=container.uow(readonly=True),
                                                  actor=OPERATOR, limit=100)]  # fmt: skip
    checks = container.password_checks
    queue, checks.queue = checks.queue, 0
    try:
        with live_server.client() as browser:
            page = browser.get("/login")
            assert page.status_code == 200 and page.headers["x-request-id"]
            for body in ({}, {"name": "ana", "password": "wrong-password-123"}):
                refused = browser.post("/login", data=body)
                assert refused.status_code == 503 and int(refused.headers["retry-after"]) > 0
                assert refused.headers["content-type"].startswith("text/html")
                assert "busy checking other logins" in refused.text
                assert "script-src 'self';" in refused.headers["content-security-policy"]
                assert refused.headers["x-frame-options"] == "DENY"
                assert refused.headers["x-request-id"]
    finally:
        checks.queue = queue
    after = [e.action for e in audit.list_entries(uow=container.uow(readonly=True),
                                                 actor=OPERATOR, limit=100)]  # fmt: skip
    assert after == before
    with live_server.client() as browser:
        console_login(browser, "ana")
        assert browser.get("/console").status_code == 200
