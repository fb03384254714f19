"""Review in a real browser (Playwright driving Debian's chromium) against a running server:
the queue in deadline order, a claim, blurred media and a reveal, a decision; four eyes on a
case about a minor; a reporter's appeal decided by someone else. The screenshots of the queue
and the case page in ``docs/images`` are made here, at 1280x800: with
``TAKEDOWN_UPDATE_SCREENSHOTS=1`` they are written there, otherwise to the test's own folder
(so a test run leaves the repository as it was)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from takedown.identity import Role, Scope
from takedown.services import accounts
from tests.conftest import OPERATOR, PASSWORD, add_key, add_staff, make_settings
from tests.e2e.conftest import screenshot
from tests.review_support import SECRET, file_report
from tests.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.sqlite_only]


@pytest.fixture
def settings(database_url, tmp_path, media):
    return make_settings(
        database_url,
        tmp_path,
        platform_media_url=media.template,
        platform_webhook_secret=SECRET,
        review_sample_percent=0,
    )


@pytest.fixture
def team(container):
    for name, role in [
        ("ana", Role.reviewer),
        ("ben", Role.reviewer),
        ("sam", Role.senior_reviewer),
        ("tia", Role.senior_reviewer),
    ]:
        add_staff(container, name, role, token=False)
    with container.uow(readonly=True) as uow:
        ids = {u.name: u.id for u in uow.users.list()}
    for name in ids:
        accounts.set_child_safety(
            uow=container.uow(), actor=OPERATOR, user_id=ids[name], granted=True
        )
    return add_key(container, "platform", Scope.report)[1]


def login(page, url: str, name: str, then: str = "/console/queue") -> None:
    page.goto(f"{url}/login?next={then}")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{then}")


def test_a_reviewer_claims_the_top_case_reveals_it_and_decides(
    live_server, team, media, pages, shots
):
    url = live_server.url
    with live_server.client() as client:
        later = file_report(client, team, "post-later", category="policy")
        media.add("post-first", n=2)
        first = file_report(
            client,
            team,
            "post-first",
            category="ncii",
            reporter_role="depicted_person",
            description="a photo of me shared without my consent",
        )
        media.add("post-later", n=3)
    ana = pages()
    login(ana, url, "ana")
    rows = ana.locator("table.queue tbody tr")
    assert rows.count() == 2
    assert first["case_number"] in rows.nth(0).inner_text()
    assert later["case_number"] in rows.nth(1).inner_text()
    screenshot(ana, shots / "review-queue.png")

    rows.nth(0).get_by_role("link").click()
    assert ana.get_by_role("heading", name="before you open it").is_visible()
    ana.get_by_role("link", name="Open the case").click()
    ana.get_by_role("button", name="Claim this case").click()
    assert ana.get_by_text("You hold this case").is_visible()
    blurred = ana.locator("img.blurred")
    blurred.wait_for()
    assert "/blurred/" in blurred.get_attribute("src")
    # Polled from here: the page's CSP forbids the eval that wait_for_function's polling uses.
    wait_until(lambda: blurred.evaluate("img => img.naturalWidth") > 0, what="the rendition")
    screenshot(ana, shots / "review-case.png")
    assert (shots / "review-case.png").stat().st_size > 10_000

    # Hovering reveals nothing; the click does.
    blurred.hover()
    assert ana.locator("img.original").count() == 0
    ana.get_by_role("button", name="Reveal this item").click()
    original = ana.locator("img.original")
    original.wait_for()
    wait_until(lambda: original.evaluate("img => img.naturalWidth") == 640, what="the original")
    assert "Revealed today: 1" in ana.locator("header").inner_text()

    # A second reviewer cannot claim the case ana holds.
    ben = pages()
    login(ben, url, "ben")
    ben.goto(f"{url}/console/cases/{first['case_id']}?proceed=1")
    assert ben.get_by_text("ana holds this case").is_visible()
    assert ben.get_by_role("button", name="Claim this case").count() == 0

    ana.get_by_role("radio", name="Violation", exact=True).check()
    ana.locator("#category").select_option("ncii")
    ana.get_by_label("Reason (policy, or why not)").fill("an intimate image shared without consent")
    statement = ana.get_by_label(
        "Statement of reasons (what the reporters read; edit before sending)"
    )
    assert "without consent" in statement.input_value()  # the template, filled in
    ana.get_by_role("button", name="Decide").click()
    assert ana.locator("h1 .state").inner_text() == "confirmed"
    ana.goto(f"{url}/console/queue")
    assert ana.locator("table.queue tbody tr").count() == 1


def test_a_no_violation_on_csam_stays_open_until_a_senior_agrees(live_server, team, pages):
    url = live_server.url
    with live_server.client() as client:
        case = file_report(client, team, "post-csam", category="csam", depicted_minor=True)
    sam = pages()
    login(sam, url, "sam")
    sam.goto(f"{url}/console/cases/{case['case_id']}?proceed=1")
    sam.get_by_role("button", name="Claim this case").click()
    sam.get_by_role("radio", name="No violation").check()
    sam.get_by_label("Reason (policy, or why not)").fill("an adult in a costume")
    sam.get_by_role("button", name="Decide").click()
    assert sam.locator("h1 .state").inner_text() == "pending second review"
    # The proposer cannot give the second opinion.
    sam.get_by_role("button", name="Claim this case").click()
    assert "own proposal" in sam.get_by_role("alert").inner_text()

    tia = pages()
    login(tia, url, "tia")
    tia.goto(f"{url}/console/queue?state=pending_second_review")
    assert case["case_number"] in tia.locator("table.queue tbody").inner_text()
    tia.goto(f"{url}/console/cases/{case['case_id']}?proceed=1")
    assert "Proposed by sam" in tia.locator("#proposal").inner_text()
    tia.get_by_role("button", name="Claim this case").click()
    tia.get_by_role("radio", name="No violation").check()
    tia.get_by_label("Reason (policy, or why not)").fill("agreed: an adult")
    tia.get_by_role("button", name="Decide").click()
    assert tia.locator("h1 .state").inner_text() == "closed"


def test_a_reporters_reply_reopens_a_decided_case_as_an_appeal(live_server, team, pages):
    url = live_server.url
    with live_server.client() as client:
        receipt = file_report(client, team, "post-appeal", category="policy")
    ana = pages()
    login(ana, url, "ana")
    ana.goto(f"{url}/console/cases/{receipt['case_id']}?proceed=1")
    ana.get_by_role("button", name="Claim this case").click()
    ana.get_by_role("radio", name="No violation").check()
    ana.get_by_label("Reason (policy, or why not)").fill("an ordinary advertisement")
    ana.get_by_role("button", name="Decide").click()
    assert ana.locator("h1 .state").inner_text() == "closed"

    reporter = pages()
    reporter.goto(receipt["status_url"])
    assert "an ordinary advertisement" in reporter.content()
    reporter.get_by_label("Yes, I appeal the decision").check()
    reporter.locator("textarea[name=message]").fill("It is a scam that took my money.")
    reporter.get_by_role("button", name="Send").click()
    assert "appealed" in reporter.content()

    ana.goto(f"{url}/console/cases/{receipt['case_id']}?proceed=1")
    assert ana.locator("h1 .state").inner_text() == "appealed"
    ana.get_by_role("button", name="Claim this case").click()
    ana.get_by_role("radio", name="Violation", exact=True).check()
    ana.get_by_label("Reason (policy, or why not)").fill("a scam")
    ana.get_by_role("button", name="Decide").click()
    assert "someone other than the original decider" in ana.get_by_role("alert").inner_text()

    ana.get_by_role("button", name="Release").click()
    ben = pages()
    login(ben, url, "ben")
    ben.goto(f"{url}/console/cases/{receipt['case_id']}?proceed=1")
    ben.get_by_role("button", name="Claim this case").click()
    ben.get_by_role("radio", name="Violation", exact=True).check()
    ben.locator("#category").select_option("policy")
    ben.get_by_label("Reason (policy, or why not)").fill("a scam, against our rules")
    ben.get_by_role("button", name="Decide").click()
    assert ben.locator("h1 .state").inner_text() == "confirmed"
    reporter.reload()
    assert "a scam, against our rules" in reporter.content()


def test_search_finds_a_case_by_its_content_and_never_a_minors_without_the_permission(
    live_server, team, container, pages, shots
):
    url = live_server.url
    with live_server.client() as client:
        found = file_report(client, team, "post-search", category="policy")
        file_report(client, team, "post-other", category="policy")
        minor = file_report(client, team, "post-minor", category="csam", depicted_minor=True)
    add_staff(container, "uma", Role.reviewer, token=False)  # no child-safety permission
    ana = pages()
    login(ana, url, "ana")
    ana.get_by_role("navigation", name="Main").get_by_role("link", name="Search").click()
    box = ana.get_by_role("searchbox")
    box.fill("post-search")
    box.press("Enter")
    ana.wait_for_url("**/console/search?q=post-search*")
    rows = ana.locator("table.results tbody tr")
    assert rows.count() == 1 and found["case_number"] in rows.nth(0).inner_text()
    box = ana.get_by_role("searchbox")
    box.fill(minor["case_number"])
    box.press("Enter")
    ana.wait_for_url(f"**/console/search?q={minor['case_number']}*")
    assert minor["case_number"] in ana.locator("table.results tbody").inner_text()
    ana.goto(f"{url}/console/cases/{found['case_id']}?proceed=1")  # its timeline
    assert "policy report received" in ana.locator("ol.history").inner_text()
    ana.goto(f"{url}/console/search")  # no search: every case, newest first
    assert ana.locator("table.results tbody tr").count() == 3
    screenshot(ana, shots / "search.png")

    uma = pages()
    login(uma, url, "uma")
    for q in ("post-minor", minor["case_number"]):
        uma.goto(f"{url}/console/search?q={q}")
        assert "No case found." in uma.locator("table.results tbody").inner_text(), q
    uma.goto(f"{url}/console/search")
    assert minor["case_number"] not in uma.locator("table.results").inner_text()
    # The filter forms' "any" is an empty value: no filter, not a refusal.
    uma.get_by_role("button", name="Search").click()
    uma.wait_for_url("**/console/search?q=&state=*")
    assert uma.locator("table.results tbody tr").count() == 2
    uma.goto(f"{url}/console/queue")
    uma.get_by_role("button", name="Filter").click()
    uma.wait_for_url("**/console/queue?category=*")
    assert uma.locator("table.queue tbody tr").count() == 2


def test_the_audit_log_page_filters_verifies_and_exports_without_a_minors_case_for_the_unpermitted(
    live_server, team, container, pages, shots
):
    url = live_server.url
    with live_server.client() as client:
        policy = file_report(client, team, "post-policy", category="policy")
        minor = file_report(client, team, "post-minor", category="csam", depicted_minor=True)
    add_staff(container, "cora", Role.admin, token=False)  # the log, not the child-safety grant
    add_staff(container, "lena", Role.child_safety_lead, token=False)
    ana = pages()
    login(ana, url, "ana")
    for case in (policy, minor):
        ana.goto(f"{url}/console/cases/{case['case_id']}?proceed=1")
        ana.get_by_role("button", name="Claim this case").click()
        ana.wait_for_url(f"**/console/cases/{case['case_id']}*")

    cora = pages()
    login(cora, url, "cora", then="/console/keys")
    cora.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    claims = cora.locator("table.audit tbody tr", has_text="case.claimed")
    assert claims.count() == 2
    text = cora.locator("table.audit").inner_text()
    assert f"case {policy['case_id']}" in text and f"case {minor['case_id']}" not in text
    assert "needs the child-safety permission" in text
    cora.get_by_role("link", name="Verify the chain").click()
    assert "The chain verifies" in cora.locator("#chain").inner_text()
    cora.get_by_label("Action").fill("case.claimed")
    cora.get_by_role("button", name="Filter").click()
    cora.wait_for_url("**/console/audit?action=case.claimed*")
    assert cora.locator("table.audit tbody tr").count() == 2
    screenshot(cora, shots / "audit.png")
    exported = cora.request.get(f"{url}/console/audit/export?action=case.claimed")
    assert exported.ok and exported.headers["content-type"].startswith("application/x-ndjson")
    rows = [json.loads(line) for line in exported.text().splitlines()]
    assert sorted(r["target_id"] or "" for r in rows) == ["", str(policy["case_id"])]
    hidden = next(r for r in rows if r["target_id"] is None)
    assert hidden["details"] == {
        "redacted": "about a case concerning a minor: needs the child-safety permission"
    }
    # Asked by the case's id, the log answers nothing rather than a redacted line.
    by_id = cora.request.get(
        f"{url}/console/audit/export?target_type=case&target_id={minor['case_id']}"
    )
    assert by_id.text() == ""

    lena = pages()
    login(lena, url, "lena")
    lena.goto(f"{url}/console/audit?action=case.claimed")
    assert f"case {minor['case_id']}" in lena.locator("table.audit").inner_text()


def test_the_first_page_shows_each_person_their_work(live_server, team, container, pages):
    url = live_server.url
    with live_server.client() as client:
        held = file_report(client, team, "post-held", category="policy")
        waiting = file_report(client, team, "post-waiting", category="policy")
        minor = file_report(client, team, "post-minor", category="csam", depicted_minor=True)
    add_staff(container, "uma", Role.reviewer, token=False)  # no child-safety permission
    add_staff(container, "lena", Role.child_safety_lead, token=False)
    add_staff(container, "ada", Role.admin, token=False)
    ana = pages()
    login(ana, url, "ana")
    ana.goto(f"{url}/console/cases/{held['case_id']}?proceed=1")
    ana.get_by_role("button", name="Claim this case").click()
    ana.wait_for_url(f"**/console/cases/{held['case_id']}*")
    ana.goto(f"{url}/console")
    mine = ana.locator("h2#mine + table").inner_text()
    assert held["case_number"] in mine and waiting["case_number"] not in mine
    assert minor["case_number"] in ana.locator("h2#next + table").inner_text()

    uma = pages()
    login(uma, url, "uma", then="/console")
    upcoming = uma.locator("h2#next + table").inner_text()
    assert waiting["case_number"] in upcoming and minor["case_number"] not in upcoming
    assert "You hold no case." in uma.locator("h2#mine + table").inner_text()
    assert uma.locator("h2#today").count() == 0 and uma.locator("h2#setup").count() == 0

    lena = pages()
    login(lena, url, "lena")
    lena.goto(f"{url}/console/cases/{waiting['case_id']}?proceed=1")
    lena.get_by_role("button", name="Claim this case").click()
    lena.wait_for_url(f"**/console/cases/{waiting['case_id']}*")
    lena.get_by_role("radio", name="No violation").check()
    lena.get_by_label("Reason (policy, or why not)").fill("allowed satire")
    lena.get_by_role("button", name="Decide").click()
    lena.wait_for_url(f"**/console/cases/{waiting['case_id']}*")
    lena.goto(f"{url}/console")
    assert "lena\t1" in lena.locator("h2#today + table").inner_text()

    ada = pages()
    login(ada, url, "ada", then="/console")
    problems = ada.locator("ul.problems").inner_text()
    assert "No NCMEC account" in problems and "No evidence key" in problems
    assert ada.locator("h2#mine").count() == 0  # an admin reviews no case


def test_the_console_follows_the_systems_dark_setting(live_server, team, browser, shots):
    url = live_server.url
    with live_server.client() as client:
        file_report(client, team, "post-dark", category="policy")
    backgrounds = {}
    for scheme in ("light", "dark"):
        context = browser.new_context(viewport={"width": 1280, "height": 800}, color_scheme=scheme)
        page = context.new_page()
        login(page, url, "ana")
        backgrounds[scheme] = page.evaluate("getComputedStyle(document.body).backgroundColor")
        card = page.evaluate("getComputedStyle(document.querySelector('.card')).color")
        if scheme == "dark":
            screenshot(page, shots / "queue-dark.png")
            assert card == "rgb(227, 231, 236)"  # light text on the dark card
        context.close()
    assert backgrounds == {"light": "rgb(246, 247, 249)", "dark": "rgb(17, 20, 24)"}


def test_a_reviewer_links_and_merges_two_cases_and_both_reporters_see_the_outcome(
    live_server, team, pages, shots
):
    url = live_server.url
    with live_server.client() as client:
        by_id = file_report(client, team, "post-merge", category="policy")
        by_link = file_report(
            client,
            team,
            None,
            content_url="https://example.social/p/post-merge",
            category="policy",
            reference="FLAG-0042",
        )
        other = file_report(client, team, "post-elsewhere", category="policy")
    ana = pages()
    login(ana, url, "ana")
    ana.goto(f"{url}/console/cases/{by_link['case_id']}?proceed=1")
    ana.get_by_label("Link with case").fill(other["case_number"])
    ana.get_by_label("Note").fill("same uploader")
    ana.get_by_role("button", name="Link", exact=True).click()
    assert other["case_number"] in ana.locator("#links").inner_text()
    ana.get_by_label("Merge this case into").fill(by_id["case_number"])
    ana.get_by_label("Why").fill("the link is this post")
    ana.get_by_role("button", name="Merge").click()
    ana.wait_for_url(f"**/console/cases/{by_id['case_id']}?proceed=1")
    assert "merged into this case" in ana.locator("#links").inner_text()
    assert ana.locator("ol.reports > li").count() == 2
    assert "their reference FLAG-0042" in ana.locator("ol.reports").inner_text()
    assert "merged" in ana.locator("ol.history").inner_text()
    screenshot(ana, shots / "case-merged.png")
    # The search finds the kept case by the link reporter's own reference.
    ana.goto(f"{url}/console/search?q=FLAG-0042")
    assert by_id["case_number"] in ana.locator("table.results tbody").inner_text()

    ana.goto(f"{url}/console/cases/{by_id['case_id']}?proceed=1")
    ana.get_by_role("button", name="Claim this case").click()
    ana.get_by_role("radio", name="Violation", exact=True).check()
    ana.locator("#category").select_option("policy")
    ana.get_by_label("Reason (policy, or why not)").fill("spam, against our rules")
    ana.get_by_role("button", name="Decide").click()
    assert ana.locator("h1 .state").inner_text() == "confirmed"
    for receipt in (by_id, by_link):
        reporter = pages()
        reporter.goto(receipt["status_url"])
        assert "spam, against our rules" in reporter.content(), receipt["case_number"]
        assert by_id["case_number"] in reporter.content()
    merged = ana
    merged.goto(f"{url}/console/cases/{by_link['case_id']}?proceed=1")
    assert merged.locator("h1 .state").inner_text() == "merged"
    assert by_id["case_number"] in merged.locator("#merged-into").inner_text()


def test_the_queue_answers_the_keyboard_and_a_lead_assigns_and_holds_in_bulk(
    live_server, team, container, pages, shots
):
    url = live_server.url
    with live_server.client() as client:
        first = file_report(
            client, team, "post-keys-1", category="ncii", reporter_role="depicted_person"
        )
        second = file_report(client, team, "post-keys-2", category="policy")
        minor = file_report(client, team, "post-keys-minor", category="csam", depicted_minor=True)
    add_staff(container, "lea", Role.child_safety_lead, token=False)
    add_staff(container, "uma", Role.reviewer, token=False)  # no child-safety permission
    with container.uow(readonly=True) as uow:
        lea_id = uow.users.get_by_name("lea").id
    accounts.set_child_safety(uow=container.uow(), actor=OPERATOR, user_id=lea_id, granted=True)

    ana = pages()
    login(ana, url, "ana")
    ana.keyboard.press("?")
    dialog = ana.locator("dialog#shortcuts")
    assert dialog.is_visible() and "open the case" in dialog.inner_text()
    screenshot(ana, shots / "queue-shortcuts.png")
    ana.keyboard.press("Escape")
    assert not dialog.is_visible()
    ana.keyboard.press("j")
    ana.keyboard.press("j")
    ana.keyboard.press("k")
    assert ana.locator("tr.current").get_attribute("data-case") == str(
        ana.locator("table.queue tbody tr").nth(0).get_attribute("data-case")
    )
    ana.keyboard.press("o")
    ana.wait_for_url("**/console/cases/*")
    ana.keyboard.press("g")
    ana.keyboard.press("q")
    ana.wait_for_url("**/console/queue")
    assert ana.locator("input[type=checkbox][form=bulk]").count() == 0  # not a lead: no bulk
    ana.keyboard.press("/")
    ana.wait_for_url("**/console/search")

    lea = pages()
    login(lea, url, "lea")
    for receipt in (first, second, minor):
        lea.get_by_label(f"Choose {receipt['case_number']}").check()
    lea.locator("#bulk-action").select_option("assign")
    lea.get_by_label("Reviewer (to assign)").fill("uma")
    lea.get_by_role("button", name="Apply").click()
    result = lea.locator("#bulk-result").inner_text()
    assert result.startswith("2 cases assigned."), result
    assert minor["case_number"] in result  # uma may not see a case about a minor
    rows = {
        r.get_attribute("data-case"): r.inner_text()
        for r in lea.locator("table.queue tbody tr").all()
    }
    assert "uma" in rows[str(first["case_id"])] and "uma" in rows[str(second["case_id"])]
    assert "uma" not in rows[str(minor["case_id"])]
    lea.get_by_label(f"Choose {minor['case_number']}").check()
    lea.locator("#bulk-action").select_option("hold")
    lea.get_by_label("Reason (to hold)").fill("waiting for the police")
    lea.get_by_role("button", name="Apply").click()
    assert lea.locator("#bulk-result").inner_text() == "1 case put on hold."
    assert minor["case_number"] not in lea.locator("table.queue tbody").inner_text()


def test_search_finds_a_case_by_each_of_its_keys(live_server, team, container, pages):
    from takedown.media import hash_image
    from tests.media_support import at_megapixels, encode, photo

    url = live_server.url
    _, scanner = add_key(container, "uploads", Scope.scan)
    image = encode(at_megapixels(photo("coffee.png"), 1), quality=92)
    hashes = hash_image(image)
    with live_server.client() as client:
        scanned = client.post(
            "/v1/scan",
            headers={"Authorization": f"Bearer {scanner}"},
            data={"content_id": "post-keyed", "account_id": "acct-4471"},
            files={"media": ("a.jpg", image, "image/jpeg")},
        )
        assert scanned.status_code == 200, scanned.text
        case = file_report(
            client,
            team,
            "post-keyed",
            content_url="https://example.social/p/post-keyed",
            category="policy",
            reference="TF-2026-0042",
        )
        police = file_report(
            client,
            add_key(container, "police", Scope.law_enforcement)[1],
            "post-keyed",
            category="policy",
            reporter_role="law_enforcement",
            law_enforcement={"agency": "Police Scotland", "case_number": "CR/2026/77"},
        )
        assert police["case_id"] == case["case_id"]
        file_report(client, team, "post-unrelated", category="policy")
    keys = {
        "case number": case["case_number"],
        "case id": str(case["case_id"]),
        "content id": "post-keyed",
        "account id": "acct-4471",
        "content URL": "https://example.social/p/post-keyed",
        "MD5": hashes.md5,
        "SHA-256": hashes.sha256,
        "PDQ hash": hashes.pdq.hex,
        "police case number": "CR/2026/77",
        "reporter's reference": "TF-2026-0042",
    }
    ana = pages()
    login(ana, url, "ana", then="/console/search")
    for name, value in keys.items():
        box = ana.get_by_role("searchbox")
        box.fill(value)
        box.press("Enter")
        ana.wait_for_url(lambda u, v=value: parse_qs(urlsplit(u).query).get("q") == [v])
        rows = ana.locator("table.results tbody tr")
        assert rows.count() == 1, name
        assert case["case_number"] in rows.nth(0).inner_text(), name


def test_long_links_addresses_and_words_stay_inside_their_boxes(
    live_server, team, container, pages
):
    from tests.e2e.test_filing_browser import fits_its_page

    url = live_server.url
    long_link = "https://platform.example/p/1?tracking=" + "a1b2c3" * 200
    long_mail = "someone." + "x" * 150 + "@" + "mail." * 30 + "example.org"
    with live_server.client() as client:
        receipt = file_report(
            client,
            team,
            "post-" + "long" * 60,
            content_url=long_link,
            category="ncii",
            reporter_role="depicted_person",
            contact={"name": "N" * 200, "email": long_mail},
            description="see " + "z" * 3000,
            reference="R" * 128,
        )
    add_staff(container, "lea", Role.child_safety_lead, token=False)
    lea = pages()  # a lead reads reporters' contact details
    login(lea, url, "lea", then=f"/console/cases/{receipt['case_id']}?proceed=1")
    assert long_mail in lea.content()
    assert fits_its_page(lea), "the case page is wider than the window"
    lea.goto(f"{url}/console/search?q=" + "post-" + "long" * 60)
    assert fits_its_page(lea), "the search page is wider than the window"
    reporter = pages()
    reporter.goto(receipt["status_url"])
    assert fits_its_page(reporter), "the status page is wider than the window"
