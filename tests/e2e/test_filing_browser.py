"""The compliance pages in a real browser (Playwright driving Debian's chromium) against a
running server and a strict local NCMEC server: the NCMEC page lists a drafted report; the
report's page shows its XML and files; the classification is chosen and the report filed
with one click, and the list then shows NCMEC's report id. The screenshots of both pages in
``docs/images`` are made here (``TAKEDOWN_UPDATE_SCREENSHOTS=1`` writes them there)."""

from __future__ import annotations

import pytest

from takedown.identity import Role, Scope
from tests.conftest import PASSWORD, add_key, add_staff, make_settings
from tests.e2e.conftest import screenshot
from tests.ncmec_support import ncmec_server, ncmec_settings
from tests.review_support import SECRET, bearer
from tests.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]


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
        evidence_key="ab" * 32,
        review_sample_percent=0,
        **ncmec_settings(ncmec),
    )


def fits_its_page(page) -> bool:
    """Nothing on the page is wider than the window: long text wraps or scrolls in its box."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )


def test_compliance_files_a_report_from_the_console(
    live_server, container, media, ncmec, browser, shots
):
    add_staff(container, "cleo", Role.compliance, token=False)
    lead = add_staff(container, "lee", Role.child_safety_lead)
    platform = add_key(container, "platform", Scope.scan, Scope.report)[1]
    media.add("post-9", n=1)
    with live_server.client() as client:
        client.post(
            "/v1/content",
            headers=bearer(platform),
            json={"content_id": "post-9", "account_id": "uploader-9"},
        ).raise_for_status()
        case_id = client.post(
            "/v1/reports",
            headers=bearer(platform),
            json={
                "content_id": "post-9",
                "category": "csam",
                "reporter_role": "parent_guardian",
                "depicted_minor": True,
                # A link as long as they come: the report's XML must still fit its page.
                "content_url": "https://platform.example/p/9?ref=" + "x" * 900,
            },
        ).json()["case_id"]
        client.post(f"/v1/cases/{case_id}/claim", headers=bearer(lead)).raise_for_status()
        client.post(
            f"/v1/cases/{case_id}/decisions",
            headers=bearer(lead),
            json={"outcome": "violation", "category": "csam", "reason": "a child, sexual"},
        ).raise_for_status()

        def drafted():
            with container.uow(readonly=True) as uow:
                return uow.filings.get(case_id)

        wait_until(drafted, timeout=30, what="the draft")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/login?next=/console/ncmec")
        page.get_by_label("Name").fill("cleo")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/console/ncmec")
        row = page.locator("tbody tr").first
        assert "drafted" in row.inner_text()
        page.get_by_role("link", name=f"TD-{case_id:07d}").click()
        assert page.get_by_text("<incidentType>", exact=False).first.is_visible()
        assert fits_its_page(page), "the report's XML widens the page"
        page.get_by_label("Classification of").select_option("B2")
        page.get_by_role("button", name="Save the draft").click()
        screenshot(page, shots / "ncmec-report.png")
        page.get_by_role("button", name="File with NCMEC").click()

        def filed():
            page.reload()
            return "filed" in page.locator("#ncmec-state").inner_text()

        wait_until(filed, timeout=30, what="the report filed")
        page.goto(f"{live_server.url}/console/ncmec")
        [report_id] = ncmec.state.reports
        assert str(report_id) in page.locator("tbody tr").first.inner_text()
        screenshot(page, shots / "ncmec-list.png")
    finally:
        context.close()
    assert (shots / "ncmec-list.png").stat().st_size > 10_000
