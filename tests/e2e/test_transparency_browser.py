"""The transparency page in a real browser (Playwright with Debian's chromium): a compliance
officer opens it and finds its three charts drawn (no script, nothing from elsewhere), with
their figures; a reviewer is refused. Its screenshot in ``docs/images`` is made here."""

from __future__ import annotations

import pytest

from takedown.identity import Role, Scope
from tests.conftest import add_key, add_staff
from tests.e2e.conftest import screenshot
from tests.e2e.test_review_browser import login
from tests.review_support import bearer, file_report

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]


def test_the_transparency_page_draws_its_charts(live_server, container, pages, shots):
    _, platform = add_key(container, "platform", Scope.report)
    people = (("rev", Role.reviewer), ("lea", Role.child_safety_lead))
    tokens = {name: add_staff(container, name, role) for name, role in people}
    add_staff(container, "cleo", Role.compliance, token=False)
    waiting = None
    with live_server.client() as client:
        for n, (category, role) in enumerate(
            [("policy", "user"), ("ncii", "depicted_person"), ("other_illegal", "user"),
             ("policy", "user"), ("csam", "parent_guardian")]
        ):  # fmt: skip
            case = file_report(client, platform, f"post-{n}", category=category,
                               reporter_role=role)  # fmt: skip
            if n == 3:
                waiting = case  # one still waiting
                continue
            who = tokens["lea"] if category == "csam" else tokens["rev"]
            client.post(f"/v1/cases/{case['case_id']}/claim", headers=bearer(who))
            decided = client.post(
                f"/v1/cases/{case['case_id']}/decisions", headers=bearer(who),
                json={"outcome": "violation", "category": category, "reason": "seen"},
            )  # fmt: skip
            assert decided.status_code == 201, decided.text
    cleo = pages()
    login(cleo, live_server.url, "cleo", then="/console/transparency")
    charts = cleo.locator("svg.chart")
    assert charts.count() == 3
    assert charts.nth(0).locator("rect").count() >= 2  # median and p90 for a priority
    assert charts.nth(1).locator("polyline").count() == 1
    assert charts.nth(2).locator("rect").count() >= 1
    assert "from the first report" in charts.nth(0).get_attribute("aria-label")
    # The waiting case is not yet due: its deadline is neither met nor missed.
    assert "P2\t2\t2" in cleo.locator("table.figures").last.inner_text()
    figures = cleo.locator("#transparency table.figures").inner_text()
    assert "Notices\t5" in figures and "Cases decided\t4" in figures
    with cleo.expect_download() as download:
        cleo.get_by_role("link", name="The figures as CSV").click()
    assert "notices,csam/depicted_person,1" in download.value.path().read_text()
    screenshot(cleo, shots / "transparency.png", full_page=True)

    rev = pages()
    login(rev, live_server.url, "rev")
    assert rev.get_by_role("link", name="Transparency").count() == 0
    rev.goto(f"{live_server.url}/console/transparency")
    assert rev.get_by_role("heading", name="Transparency").count() == 0

    # The lead's view: the live backlog, the overdue case and who holds it, the clocks.
    container.clock.advance(2 * 86_400)
    with live_server.client() as client:
        held = client.post(f"/v1/cases/{waiting['case_id']}/claim", headers=bearer(tokens["rev"]))
        assert held.is_success
    lea = pages()
    login(lea, live_server.url, "lea", then="/console/lead")
    backlog = lea.locator("#backlog tbody").inner_text()
    assert backlog.startswith("P2\t1\t1\t")
    overdue = lea.locator("#overdue tbody").inner_text()
    assert waiting["case_number"] in overdue and "rev" in overdue
    clocks = lea.locator("#clocks tbody").inner_text()
    assert "the last day" in clocks and "the last week" in clocks
