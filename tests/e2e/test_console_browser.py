"""The console in a real browser: Playwright driving Debian's chromium."""

import pytest

from takedown.identity import Role
from tests.conftest import PASSWORD, add_staff
from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]


def test_admin_logs_in_creates_and_revokes_a_key_and_logs_out(
    live_server, container, page, tmp_path
):
    add_staff(container, "boss", Role.admin, token=False)
    page.goto(f"{live_server.url}/console")
    assert page.get_by_role("heading", name="Log in").is_visible()

    page.get_by_label("Name").fill("boss")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").is_visible()

    page.get_by_label("Name").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/console")
    assert page.get_by_role("heading", name="Welcome, boss").is_visible()

    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Name").fill("upload path")
    page.get_by_label("scan").check()
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-secret").inner_text()
    assert secret.startswith("tdk_")
    screenshot(page, tmp_path / "keys.png", full_page=True)

    page.get_by_role("button", name="Revoke upload path").click()
    page.wait_for_url("**/console/keys")
    assert "revoked" in page.locator("tbody tr").first.inner_text()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    page.goto(f"{live_server.url}/console")
    assert page.get_by_role("heading", name="Log in").is_visible()


def test_a_reviewer_is_refused_the_keys_page(live_server, container, page):
    add_staff(container, "rev", Role.reviewer, token=False)
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Name").fill("rev")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/console")
    assert page.get_by_role("link", name="API keys").count() == 0
    response = page.goto(f"{live_server.url}/console/keys")
    assert response.status == 403
    assert page.get_by_role("heading", name="Not allowed").is_visible()


def _script_src(headers) -> str:
    policy = headers["content-security-policy"]
    return next(p for p in policy.split(";") if p.strip().startswith("script-src")).strip()


def test_only_the_api_docs_page_may_run_inline_scripts(live_server, container, page):
    """The console runs no inline script, so its policy allows none (an injected one would not
    run); Swagger UI starts from one, so the docs page alone allows them, and works."""
    violations: list[str] = []
    page.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    add_staff(container, "boss", Role.admin, token=False)
    login = page.goto(f"{live_server.url}/login")
    assert _script_src(login.headers) == "script-src 'self'"
    page.get_by_label("Name").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/console")
    for path in ("/console", "/console/queue", "/console/keys", "/console/users", "/report"):
        answer = page.goto(f"{live_server.url}{path}")
        assert "'unsafe-inline'" not in _script_src(answer.headers), path
    assert violations == []

    docs = page.goto(f"{live_server.url}/docs")
    assert "'unsafe-inline'" in _script_src(docs.headers)
    page.locator(".opblock").first.wait_for(timeout=15_000)  # Swagger UI ran and drew the API
    assert page.locator(".opblock-summary-path", has_text="/v1/reports").count() >= 1
    assert violations == []


def test_a_lead_imports_a_list_with_its_upload_shown_and_reads_the_result(
    live_server, container, page, tmp_path
):
    add_staff(container, "lead", Role.child_safety_lead, token=False)
    page.goto(f"{live_server.url}/login")
    page.get_by_label("Name").fill("lead")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/console")
    page.get_by_role("link", name="Banks").click()
    page.get_by_label("Name", exact=True).first.fill("partner")
    page.locator("#new-policy").select_option("review")
    page.get_by_role("button", name="Create").click()
    assert "Bank partner created." in page.get_by_role("status").inner_text()

    listed = tmp_path / "partner.csv"
    rows = [f"md5,{n:032x}" for n in range(1, 20_001)]
    listed.write_text("signal_type,value\n" + "\n".join(rows) + "\nmd5,zz\n")
    page.get_by_label("A hash list for partner").set_input_files(str(listed))
    page.get_by_role("button", name="Import into partner").click()
    page.wait_for_url("**/console/banks?notice=partner.csv*")
    assert (
        "partner.csv into partner: 20000 added, 0 there already, 1 not hashes."
        in page.get_by_role("status").inner_text()
    )
    assert "20000" in page.locator("tbody tr").first.inner_text()
    screenshot(page, tmp_path / "banks.png", full_page=True)


def test_an_admin_creates_an_account_changes_its_role_and_resets_its_password(
    live_server, container, page, tmp_path
):
    url = live_server.url
    add_staff(container, "boss", Role.admin, token=False)
    add_staff(container, "other", Role.admin, token=False)
    page.goto(f"{url}/login?next=/console/users")
    page.get_by_label("Name").fill("boss")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/console/users")

    form = page.get_by_role("form", name="New account")
    form.get_by_label("Name").fill("nadia")
    form.get_by_label("Role").select_option("senior_reviewer")
    form.get_by_role("button", name="Create account").click()
    first = page.locator("#issued code").inner_text()
    assert len(first) >= 20 and "nadia" in page.locator("#issued").inner_text()
    assert page.get_by_label("Role of nadia", exact=True).input_value() == "senior_reviewer"
    screenshot(page, tmp_path / "users.png", full_page=True)

    page.get_by_label("Role of nadia", exact=True).select_option("reviewer")
    page.get_by_role("button", name="Change the role of nadia").click()
    page.wait_for_url("**/console/users")
    assert page.get_by_label("Role of nadia", exact=True).input_value() == "reviewer"
    page.get_by_label("Role of boss", exact=True).select_option("reviewer")
    page.get_by_role("button", name="Change the role of boss").click()
    assert "your own role" in page.get_by_role("alert").inner_text()

    page.get_by_role("button", name="Reset the password of nadia").click()
    second = page.locator("#issued code").inner_text()
    assert second != first

    nadia = page.context.browser.new_context().new_page()
    for password, works in ((first, False), (second, True)):
        nadia.goto(f"{url}/login")
        nadia.get_by_label("Name").fill("nadia")
        nadia.get_by_label("Password").fill(password)
        nadia.get_by_role("button", name="Log in").click()
        nadia.wait_for_load_state()
        assert ("Welcome, nadia" in nadia.content()) is works
