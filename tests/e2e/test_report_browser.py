"""The public report form and the status page in a real browser (Debian's chromium through
Playwright), with JavaScript off and driven by labels and the keyboard: fill, submit, open the
status link, reply."""

import pytest

from tests.conftest import make_settings
from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]
expect = pytest.importorskip("playwright.sync_api").expect


@pytest.fixture
def settings(database_url, tmp_path):
    """The platform's own name and help page, and the default support resources."""
    return make_settings(
        database_url,
        tmp_path,
        platform_name="Example Social",
        platform_help_url="https://help.example.social/safety",
    )


def test_a_reporter_files_a_report_opens_the_status_page_and_replies(
    live_server, page_without_js, shots
):
    page = page_without_js
    page.goto(f"{live_server.url}/report")
    assert page.get_by_role("heading", name="Report content").is_visible()
    assert page.get_by_text("on Example Social that should not be here").is_visible()
    assert page.get_by_text("we never ask for an identity document").is_visible()

    page.get_by_label("Link to the content").fill("https://platform.example/v/123")
    page.get_by_label("An intimate image of someone shared without their consent").check()
    page.get_by_label("I am the person shown", exact=True).check()
    page.get_by_label("No", exact=True).check()
    page.get_by_label("Your e-mail address").fill("ana@example.org")
    page.get_by_label("Your full name, as your signature").fill("Ana Example")
    page.get_by_label("I believe in good faith").check()
    page.get_by_label("What should we know? (optional)").fill("It was posted by my ex.")
    # Keyboard only: tab to the button and press Enter.
    page.get_by_role("button", name="Send report").focus()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Thank you. We received your report.")).to_be_visible()
    number = page.locator("#case-number").inner_text()
    assert number.startswith("TD-")
    assert page.get_by_text("removed by").is_visible()
    # The platform's name and help page, and where the reporter finds support.
    assert page.locator("header .brand").inner_text() == "Example Social · safety"
    assert page.locator("#platform-help").get_attribute("href") == (
        "https://help.example.social/safety"
    )
    support = page.locator("#support")
    for name in ("NCMEC Take It Down", "NCMEC CyberTipline", "Cyber Civil Rights Initiative"):
        assert support.get_by_role("link", name=name).is_visible()
    assert "844-878-2274" in support.inner_text()
    screenshot(page, shots / "report-received.png", full_page=True)
    link = page.locator("#status-link")
    status_url = link.get_attribute("href")
    assert status_url and "/status/" in status_url

    link.click()
    expect(page.get_by_role("heading", name=f"Case {number}")).to_be_visible()
    assert "48 hours" in page.locator("#next-step").inner_text()
    assert page.locator("#support").get_by_role("link", name="NCMEC Take It Down").is_visible()
    promised = page.locator("#promises").inner_text()
    assert "A person to look at your report by" in promised and "not done yet" in promised
    assert "legal 48-hour deadline" in promised
    assert page.get_by_text("No updates yet.").is_visible()

    page.get_by_label("Your message").fill("Here is a second link: https://platform.example/v/124")
    page.get_by_role("button", name="Send", exact=True).click()
    messages = page.locator("#messages")
    expect(messages).to_contain_text("second link")
    assert page.url.startswith(status_url)
    assert "second link" in messages.inner_text()
    assert "You" in messages.inner_text()


def test_the_form_names_what_is_missing_without_losing_what_was_typed(live_server, page_without_js):
    page = page_without_js
    page.goto(f"{live_server.url}/report")
    page.get_by_label("What should we know? (optional)").fill("please keep this text")
    page.get_by_role("button", name="Send report").click()
    problems = page.get_by_role("alert")
    expect(problems).to_be_visible()
    assert "Choose what the content is." in problems.inner_text()
    assert "Choose who you are." in problems.inner_text()
    assert page.get_by_label("What should we know? (optional)").input_value() == (
        "please keep this text"
    )
