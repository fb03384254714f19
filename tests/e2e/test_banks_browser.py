"""The banks page in a real browser (Playwright with Debian's chromium): a lead makes a bank,
imports a list with its upload's progress bar, sets what a match does, and sees the uploads it
matched; an admin without the child-safety permission sees that a match about a minor happened, not
what it was."""

from __future__ import annotations

import pytest

from takedown.identity import Role, Scope
from takedown.media import hash_image
from tests.conftest import add_key, add_staff
from tests.e2e.conftest import screenshot
from tests.e2e.test_review_browser import login
from tests.media_support import at_megapixels, encode, photo

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]
expect = pytest.importorskip("playwright.sync_api").expect


def _scan(client, key, data, content_id, account):
    answer = client.post(
        "/v1/scan",
        headers={"Authorization": f"Bearer {key}"},
        data={"content_id": content_id, "account_id": account},
        files={"media": ("a.jpg", data, "image/jpeg")},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_lead_imports_a_list_with_progress_and_sees_what_it_matched(
    live_server, container, pages, shots, tmp_path
):
    url = live_server.url
    add_staff(container, "lea", Role.child_safety_lead, token=False)
    add_staff(container, "ada", Role.admin, token=False)  # reads banks; no child-safety grant
    _, platform = add_key(container, "platform", Scope.scan)
    watched = encode(at_megapixels(photo("coffee.png"), 1), quality=92)
    known = encode(at_megapixels(photo("chelsea.png"), 1), quality=92)

    lea = pages()
    login(lea, url, "lea", then="/console/banks")
    for name, policy in (("partner", "review"), ("known", "block_and_report")):
        lea.locator("#new-name").fill(name)
        lea.locator("#new-policy").select_option(policy)
        lea.get_by_role("button", name="Create").click()
        assert name in lea.locator("table").first.inner_text()
    listed = tmp_path / "partner.csv"
    lines = [f"md5,{hash_image(watched).md5}"] + [f"md5,{n:032x}" for n in range(1, 5_000)]
    listed.write_text("signal_type,value\n" + "\n".join(lines) + "\n")
    lea.locator("#file-partner").set_input_files(listed)
    # Sent by the page's script, whose progress bar shows the upload (without it, the form).
    with lea.expect_request(lambda r: r.url.endswith("/import") and r.resource_type == "xhr"):
        lea.get_by_role("button", name="Import into partner").click()
    expect(lea.get_by_role("status")).to_contain_text(
        "partner.csv into partner: 5000 added", timeout=60_000
    )
    known_list = tmp_path / "known.csv"
    known_list.write_text(f"md5,{hash_image(known).md5}\n")
    lea.locator("#file-known").set_input_files(known_list)
    lea.get_by_role("button", name="Import into known").click()
    expect(lea.get_by_role("status")).to_contain_text(
        "known.csv into known: 1 added", timeout=60_000
    )

    with live_server.client() as client:
        assert _scan(client, platform, watched, "upload-watched", "someone")["verdict"] == "review"
        assert _scan(client, platform, known, "upload-known", "uploader")["verdict"] == "block"
    lea.goto(f"{url}/console/banks")
    recent = lea.locator("#recent-matches tbody")
    rows = recent.locator("tr")
    assert rows.count() == 2
    assert "upload-known" in rows.nth(0).inner_text() and "known" in rows.nth(0).inner_text()
    assert rows.nth(0).get_by_role("link").inner_text().startswith("TD-")  # its case
    assert "upload-watched" in rows.nth(1).inner_text() and "review" in rows.nth(1).inner_text()
    assert rows.nth(1).get_by_role("link").count() == 0  # a review match opens no case
    screenshot(lea, shots / "banks.png", full_page=True)

    ada = pages()
    login(ada, url, "ada", then="/console/banks")
    shown = ada.locator("#recent-matches tbody").inner_text()
    assert "upload-watched" in shown
    assert "upload-known" not in shown and "concerning a minor" in shown
