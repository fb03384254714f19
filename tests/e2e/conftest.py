"""Browser fixtures: Playwright driving Debian's chromium (Playwright's own download cannot
reach its host here). Tests that use them skip, with the reason, where chromium is missing."""

import os
import shutil
from pathlib import Path

import pytest

from tests.review_support import platform_media

CHROMIUM = os.environ.get("TAKEDOWN_TEST_CHROMIUM", "/usr/bin/chromium")
DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"


@pytest.fixture
def shots(tmp_path) -> Path:
    """Where a browser test's screenshots go: ``docs/images`` with
    ``TAKEDOWN_UPDATE_SCREENSHOTS=1``, else the test's own folder (so a run leaves the
    repository as it was)."""
    folder = DOCS_IMAGES if os.environ.get("TAKEDOWN_UPDATE_SCREENSHOTS") == "1" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page, path: Path, *, full_page: bool = False) -> None:
    """``page.screenshot``, tried again a few times: under load chromium now and then answers
    a capture with "Unable to capture screenshot", which says nothing about the page."""
    from playwright.sync_api import Error

    for attempt in range(3):
        try:
            page.screenshot(path=str(path), full_page=full_page)
            return
        except Error:
            if attempt == 2:
                raise


@pytest.fixture
def browser():
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.skip(
            f"browser tests need Debian's chromium at {CHROMIUM} (make browser installs "
            "it with apt-get where it can)"
        )
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()


@pytest.fixture
def pages(browser):
    """A page per person, each its own browser context (its own session), at 1280x800."""
    contexts = []

    def open_page():
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def page_without_js(browser):
    """A page with JavaScript off, as some reporters browse (and as the public pages must work)."""
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


@pytest.fixture
def media():
    """A platform's media server (``tests.review_support.platform_media``) for this test."""
    with platform_media() as served:
        yield served
