"""The banks page over real HTTP, as a lead uses it: a bank made and configured, a list
imported, a file exchange added and synced by the running lane, a quarantined entry enabled;
a senior reviewer reads it without the forms, a reviewer cannot open it."""

import re

from takedown.identity import Role
from takedown.store.types import utcnow
from tests.conftest import add_staff, console_login
from tests.waiting import wait_until

PDQ = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22"


def token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page
    return found.group(1)


def test_a_lead_runs_banks_and_exchanges_from_the_console(live_server, container, tmp_path):
    add_staff(container, "lead", Role.child_safety_lead, token=False)
    with live_server.client() as c:
        console_login(c, "lead")
        page = c.get("/console/banks")
        assert page.status_code == 200 and "No bank yet." in page.text
        csrf = token(page.text)
        made = c.post(
            "/console/banks", data={"name": "partner", "policy": "block", "csrf_token": csrf}
        )
        assert made.status_code == 303
        bad = c.post(
            "/console/banks", data={"name": "partner", "policy": "block", "csrf_token": csrf}
        )
        assert bad.status_code == 409 and "exists" in bad.text
        saved = c.post(
            "/console/banks/partner",
            data={"policy": "review", "threshold": "20", "enabled": "on", "csrf_token": csrf},
        )
        assert saved.status_code == 303

        listed = f"signal_type,value\npdq,{PDQ}\nmd5,{'ab' * 16}\nmd5,zz\n"
        imported = c.post(
            "/console/banks/partner/import",
            data={"csrf_token": csrf},
            files={"file": ("partner.csv", listed.encode(), "text/csv")},
        )
        assert imported.status_code == 303
        shown = c.get(imported.headers["location"]).text
        assert "partner.csv into partner: 2 added, 0 there already, 1 not hashes." in shown
        assert "within 20 bits" not in shown  # a lead gets the form: the value is in it
        assert 'value="20"' in shown

        hashes = tmp_path / "shared.txt"
        hashes.write_text(f"sha256,{'cd' * 32}\n")
        added = c.post(
            "/console/exchanges",
            data={
                "name": "shared-list",
                "kind": "file",
                "bank": "partner",
                "url": str(hashes),
                "csrf_token": csrf,
            },
        )
        assert added.status_code == 303
        wait_until(
            lambda: "1 / 1 / 0" in c.get("/console/banks").text,
            what="the lane's first sync of the list",
        )
        requested = c.post("/console/exchanges/shared-list/sync", data={"csrf_token": csrf})
        assert requested.status_code == 303
        missing = c.post("/console/exchanges/nope/sync", data={"csrf_token": csrf})
        assert missing.status_code == 404

        with container.uow() as uow:
            bank = uow.banks.get_by_name("partner")
            [entry] = [
                e for e in uow.bank_entries.page(bank.id, after_id=0, limit=5) if e.value == PDQ
            ]
            uow.bank_entries.set_quarantined(entry.id, utcnow())
            uow.commit()
        page = c.get("/console/banks").text
        assert "1 quarantined" in page and f"Enable entry {entry.id}" in page
        enabled = c.post(
            f"/console/banks/partner/entries/{entry.id}/enable", data={"csrf_token": csrf}
        )
        assert enabled.status_code == 303
        assert "1 quarantined" not in c.get("/console/banks").text
        refused = c.post("/console/banks", data={"name": "x", "policy": "block"})
        assert refused.status_code == 403  # no CSRF token


def test_a_senior_reviewer_reads_and_a_reviewer_is_refused(live_server, container):
    add_staff(container, "sen", Role.senior_reviewer, token=False)
    add_staff(container, "rev", Role.reviewer, token=False)
    with live_server.client() as c:
        console_login(c, "sen")
        page = c.get("/console/banks")
        assert page.status_code == 200 and "New bank" not in page.text
        made = c.post(
            "/console/banks",
            data={"name": "x", "policy": "block", "csrf_token": token(page.text)},
        )
        assert made.status_code == 403
    with live_server.client() as c:
        console_login(c, "rev")
        assert c.get("/console/banks").status_code == 403


def test_a_link_cannot_put_its_own_words_on_the_banks_page(live_server, container):
    """The page shows a notice only from this session's own redirect: a link made elsewhere
    (``?notice=...``) shows nothing, nor does another session's signed redirect."""
    add_staff(container, "lead", Role.child_safety_lead, token=False)
    add_staff(container, "lead2", Role.child_safety_lead, token=False)
    bait = "Your bank was emptied. Call +1 555 0100 now."
    with live_server.client() as c, live_server.client() as other:
        console_login(c, "lead")
        console_login(other, "lead2")
        crafted = c.get("/console/banks", params={"notice": bait, "signature": "0" * 64})
        assert crafted.status_code == 200 and bait not in crafted.text
        assert 'class="notice"' not in crafted.text
        made = c.post(
            "/console/banks",
            data={
                "name": "mine",
                "policy": "block",
                "csrf_token": token(c.get("/console/banks").text),
            },
        )
        assert made.status_code == 303
        assert "Bank mine created." in c.get(made.headers["location"]).text
        # The same redirect, opened by another session, says nothing.
        assert "Bank mine created." not in other.get(made.headers["location"]).text
