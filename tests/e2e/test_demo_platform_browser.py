"""The demo platform (examples/demo_platform) beside a running takedown, in a real browser:
post an image, repost it, report it, decide the case in the console; both posts are gone
from the platform and the same image is refused when uploaded again."""

from __future__ import annotations

import importlib.util
import sys
import threading
from pathlib import Path

import pytest
import uvicorn

from takedown.identity import Role, Scope
from tests.conftest import PASSWORD, add_key, add_staff, free_port, make_settings
from tests.media_support import at_megapixels, encode, photo
from tests.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]
APP = Path(__file__).resolve().parents[2] / "examples" / "demo_platform" / "app.py"
SECRET = "demo-platform-secret-for-tests"


def _platform_module():
    spec = importlib.util.spec_from_file_location("demo_platform_app", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def platform_port():
    return free_port()


@pytest.fixture
def settings(database_url, tmp_path, platform_port):
    url = f"http://127.0.0.1:{platform_port}"
    return make_settings(
        database_url,
        tmp_path,
        platform_media_url=f"{url}/media/{{content_id}}",
        platform_webhook_url=f"{url}/takedown/actions",
        platform_resolve_url=f"{url}/takedown/resolve",
        platform_webhook_secret=SECRET,
        review_sample_percent=0,
    )


@pytest.fixture
def platform(live_server, container, platform_port, tmp_path):
    key = add_key(container, "demo platform", Scope.scan, Scope.report)[1]
    module = _platform_module()
    app = module.create_app(
        module.Config(
            takedown_url=live_server.url,
            api_key=key,
            secret=SECRET,
            data_dir=tmp_path / "platform",
        )
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=platform_port, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=15, what="the demo platform's start")
    yield f"http://127.0.0.1:{platform_port}"
    server.should_exit = True
    thread.join(15)


def test_post_repost_report_decide_and_every_copy_is_gone(
    live_server, container, platform, page, tmp_path
):
    add_staff(container, "lead", Role.child_safety_lead, token=False)
    image = tmp_path / "holiday.jpg"
    image.write_bytes(encode(at_megapixels(photo("coffee.png"), 0.4), quality=90))

    page.goto(platform)
    page.get_by_label("Image").set_input_files(str(image))
    page.get_by_label("Caption").fill("my holiday")
    page.get_by_role("button", name="Post").click()
    assert "Posted post-" in page.get_by_role("status").inner_text()
    page.locator(".post").first.get_by_role("button", name="Repost").click()
    assert page.locator(".post").count() == 2
    original = page.locator(".post").nth(1)
    original.get_by_label("What is wrong").select_option("policy")
    original.get_by_role("button", name="Report").click()
    receipt = page.get_by_role("status").inner_text()
    case_number = receipt.split("case ")[1].split(".")[0]

    console = page.context.browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
    console.goto(f"{live_server.url}/login?next=/console/queue")
    console.get_by_label("Name").fill("lead")
    console.get_by_label("Password").fill(PASSWORD)
    console.get_by_role("button", name="Log in").click()
    console.get_by_role("link", name=case_number).click()
    console.get_by_role("button", name="Claim this case").click()
    console.locator("img.blurred").first.wait_for()
    console.get_by_role("radio", name="Violation", exact=True).check()
    console.locator("#category").select_option("policy")
    console.get_by_label("Reason (policy, or why not)").fill("against our rules")
    console.get_by_role("button", name="Decide").click()
    assert console.locator("h1 .state").inner_text() == "confirmed"

    def gone() -> bool:
        page.goto(platform)
        return page.locator(".post.removed").count() == 2

    wait_until(gone, timeout=30, what="both posts removed on the platform")
    page.get_by_label("Image").set_input_files(str(image))
    page.get_by_role("button", name="Post").click()
    assert "This upload was blocked" in page.get_by_role("alert").inner_text()
    page.goto(f"{platform}/admin")
    assert page.locator("#actions tr").count() >= 3  # two removals and a strike, with the header


def test_the_demo_platform_resolves_its_links_for_reports(live_server, container, platform):
    """A report giving only a post's link on the demo platform is about that post: the
    platform's resolve call names it, so the report's case holds the post, not the link."""
    import re

    import httpx

    key = add_key(container, "reporter", Scope.report)[1]
    image = encode(photo("astronaut.png").resize((320, 240)), "JPEG")
    with httpx.Client(base_url=platform, timeout=30) as site:
        posted = site.post("/post", files={"image": ("a.jpg", image, "image/jpeg")})
        assert posted.status_code == 200, posted.text
        post_id = re.search(r"Posted (post-[0-9a-f]+)", posted.text).group(1)
    with live_server.client() as client:
        answer = client.post(
            "/v1/reports",
            headers={"Authorization": f"Bearer {key}"},
            json={
                "content_url": f"{platform}/view/{post_id}",
                "category": "ncii",
                "reporter_role": "depicted_person",
            },
        )
        assert answer.status_code == 201, answer.text
    with container.uow(readonly=True) as uow:
        items = uow.cases.items(answer.json()["case_id"])
    assert [i.content_id for i in items] == [post_id]
