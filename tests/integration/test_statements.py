"""Statements of reasons on SQLite and PostgreSQL: every restricting action a decision makes,
by a person, by a bank match or as an interim restriction, has a complete statement (the
uploader's words in the action, the Transparency Database's form beside it); the database's
form carries no personal data; and the ``transparency`` lane sends them to a local server as
strict as the database (``tests/tdb_support``): retries, duplicates, batches, refusals."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import text

from takedown.cases import CaseFacts, Category, Outcome, ReporterRole
from takedown.cases.enforcement import ActionType
from takedown.cases.reasons import Item, ReasonsPolicy, statement_of_reasons
from takedown.identity import Role
from takedown.services import case_links, reports, scanning
from takedown.services.transparency_db import BATCH, TdbLane, TdbSettings
from tests.conftest import OPERATOR
from tests.integration.test_audit_log import run_cli
from tests.integration.test_reports import PLATFORM, scan_and_bank, submit
from tests.integration.test_review_service import decide, staff
from tests.tdb_support import TransparencyDatabase, problems, serve

PERSONAL = {
    "email": "victim.person@example.org",
    "name": "Victim Person",
    "signature": "Victim Q. Person",
    "description": "my ex posted this, his name is Mallory Example",
    "reference": "TICKET-SECRET-77",
    "url": "https://example.social/p/secret-post-77",
    "content": "post-77-private",
    "account": "acct-mallory-77",
}


def statements(container, case_id):
    with container.uow(readonly=True) as uow:
        return uow.statements.for_case(case_id), uow.actions.for_case(case_id)


def test_every_restriction_of_a_decision_has_a_statement_without_personal_data(container):
    scanning.register_content(
        uow=container.uow(), actor=OPERATOR, content_id=PERSONAL["content"],
        account_id=PERSONAL["account"],
    )  # fmt: skip
    receipt = submit(
        container, PLATFORM, content_id=PERSONAL["content"], content_url=PERSONAL["url"],
        category=Category.ncii, reporter_role=ReporterRole.depicted_person,
        contact_email=PERSONAL["email"], contact_name=PERSONAL["name"],
        signature=PERSONAL["signature"], good_faith_statement=True,
        description=PERSONAL["description"], reporter_reference=PERSONAL["reference"],
    )  # fmt: skip
    lead = staff(container, "lead", Role.child_safety_lead, child_safety=True)
    decide(
        container, lead, receipt.case_id, Outcome.violation, category=Category.ncii,
        reason="an intimate image, shared without consent", settings=container.review_settings,
    )  # fmt: skip
    stored, actions = statements(container, receipt.case_id)
    restricting = [a for a in actions if a.type in ("remove", "restrict", "suspend_account")]
    assert {a.type for a in restricting} == {"remove", "suspend_account"}
    assert sorted(s.puid for s in stored) == sorted(a.action_id for a in restricting)
    for s in stored:
        assert problems(s.fields) == [], s.fields
        assert s.fields["source_type"] == "SOURCE_ARTICLE_16"
        assert s.fields["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
        text = json.dumps(s.fields)
        for what, value in PERSONAL.items():
            assert value not in text, what
    for action in restricting:
        assert "TAKE IT DOWN Act" in action.statement and "appeal" in action.statement
        assert "shared without consent" in action.statement  # the reviewer's reason


def test_a_bank_match_and_an_interim_restriction_state_their_reasons_too(container):
    scan_and_bank(container, "seen", "acct-seen")
    confirmed = submit(container, content_id="seen", category=Category.policy)
    stored, actions = statements(container, confirmed.case_id)
    assert {s.restriction for s in stored} == {"removal", "account_suspension"}
    assert len(stored) == len([a for a in actions if a.type in ("remove", "suspend_account")])
    for s in stored:
        assert problems(s.fields) == []
        assert s.fields["automated_decision"] == "AUTOMATED_DECISION_FULLY"
        assert s.fields["automated_detection"] == "Yes"
        assert s.fields["category_specification"] == ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"]
        assert "known" in s.fields["decision_facts"]  # the bank it matched
    # Interim: a P0 case whose content spreads fast is restricted while it waits.
    urgent = submit(
        container, content_id="spreading", category=Category.csam, depicted_minor=True,
        reporter_role=ReporterRole.parent_guardian,
    )  # fmt: skip
    for views in (10, 500_000):
        container.clock.advance(600)
        with container.uow() as uow:
            reports.record_stats(
                uow=uow, actor=OPERATOR, content_id="spreading", views=views, reposts=0,
                policy=container.triage_policy, now=container.clock.now(),
                reasons=container.reasons_policy,
            )  # fmt: skip
            uow.commit()
    stored, actions = statements(container, urgent.case_id)
    assert [a.type for a in actions] == ["restrict"]
    [interim] = stored
    assert interim.restriction == "disabling" and problems(interim.fields) == []
    assert interim.fields["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_DISABLED"]
    assert "while a report" in actions[0].statement
    # Merged into another case, the restriction and its statement go with it.
    other = submit(
        container, content_id="same-thing", category=Category.csam, depicted_minor=True,
        reporter_role=ReporterRole.parent_guardian,
    )  # fmt: skip
    lead = staff(container, "lead", Role.child_safety_lead, child_safety=True)
    case_links.merge(
        uow=container.uow(), actor=lead, case_id=urgent.case_id, into=str(other.case_id),
        note="", now=container.clock.now(), policy=container.triage_policy,
    )  # fmt: skip
    assert statements(container, urgent.case_id) == ([], [])
    moved, moved_actions = statements(container, other.case_id)
    assert [s.puid for s in moved] == [a.action_id for a in moved_actions] == [interim.puid]


# The lane against a local Transparency Database.

RETRY = replace(TdbSettings("x", "y").retry, max_attempts=3, backoff_seconds=10.0, jitter=0.0)


@pytest.fixture
def tdb():
    database = TransparencyDatabase()
    server, url = serve(database)
    yield database, url
    server.shutdown()
    server.server_close()


def made(container, n: int, *, first: int = 0, case_id: int = 1) -> list[str]:
    """``n`` valid statements, as a decision stores them (each its own template, so one can
    be spoilt alone); gives their puids."""
    rows = []
    with container.uow() as uow:
        for i in range(first, first + n):
            s = statement_of_reasons(
                action_id=f"puid-{i:05d}", action_type=ActionType.remove,
                category=Category.csam, facts=scan_facts(), decision=None, item=Item("image"),
                at=container.clock.now(), policy=ReasonsPolicy(),
            )  # fmt: skip
            assert s is not None
            rows.append((s.puid, str(s.restriction), uow.statements.add_template(s.as_database())))
        uow.statements.add(case_id, rows, at=container.clock.now())
        uow.commit()
    return [r[0] for r in rows]


def scan_facts() -> CaseFacts:
    return CaseFacts(block_and_report_match=True)


def lane(container, url, token="tdb-token"):
    return TdbLane(container.db, TdbSettings(url, token, retry=RETRY), clock=container.clock)


def states(container) -> dict[str, int]:
    with container.uow(readonly=True) as uow:
        return uow.statements.counts()


def drain(the_lane) -> None:
    while the_lane.run_once():
        pass


def test_statements_go_in_calls_of_at_most_a_hundred(container, tdb):
    database, url = tdb
    puids = made(container, 250)
    drain(lane(container, url))
    assert database.calls == [BATCH, BATCH, 50]
    assert sorted(database.stored) == puids
    assert states(container) == {"sent": 250}


def test_a_5xx_is_tried_again_after_the_back_off(container, tdb):
    database, url = tdb
    made(container, 5)
    database.fail_next = 1
    the_lane = lane(container, url)
    the_lane.run_once()
    assert database.answers == [503] and states(container) == {"pending": 5}
    assert the_lane.run_once() == 0  # not yet due
    container.clock.advance(11)
    the_lane.run_once()
    assert database.answers == [503, 201] and states(container) == {"sent": 5}


def test_a_statement_the_database_has_already_is_sent_and_the_rest_go_next(container, tdb):
    database, url = tdb
    puids = made(container, 10)
    for p in puids[:3]:
        database.stored[p] = {"puid": p}  # sent before, say by a process killed before it knew
    drain(lane(container, url))
    assert database.answers == [422, 201]
    assert database.calls == [10, 7]
    assert states(container) == {"sent": 10}


def test_an_invalid_statement_is_refused_alone(container, tdb):
    database, url = tdb
    made(container, 4)
    with container.uow() as uow:  # one statement the database cannot take
        bad = uow.statements.for_case(1)[2]
        uow.session.execute(
            text(
                "UPDATE statement_templates SET fields = :f WHERE id = "
                "(SELECT template_id FROM statements_of_reasons WHERE id = :i)"
            ),
            {"f": json.dumps({**bad.fields, "category": "STATEMENT_CATEGORY_NOPE"}), "i": bad.id},
        )
        uow.commit()
    drain(lane(container, url))
    assert database.answers == [422, 201] and len(database.stored) == 3
    assert states(container) == {"sent": 3, "failed": 1}
    with container.uow(readonly=True) as uow:
        [failed] = [s for s in uow.statements.for_case(1) if s.state == "failed"]
    assert failed.puid == bad.puid and "category" in (failed.last_error or "")


def test_a_refused_token_is_retried_then_parked(container, tdb):
    database, url = tdb
    made(container, 2)
    the_lane = lane(container, url, token="wrong")
    for _ in range(RETRY.max_attempts):
        the_lane.run_once()
        container.clock.advance(3600)
    assert set(database.answers) == {401} and database.stored == {}
    assert states(container) == {"failed": 2}


def test_the_export_writes_a_periods_statements_as_json_and_csv(container, database_url, tmp_path):
    made(container, 3)
    container.clock.advance(3 * 86_400)
    made(container, 2, first=3)
    day = container.clock.now().date()
    out = tmp_path / "statements.json"
    cli = run_cli(
        database_url, tmp_path, "statements", "export", "--from", day.isoformat(),
        "--to", (day + timedelta(days=1)).isoformat(), "--out", str(out),
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    exported = json.loads(out.read_text())["statements"]
    assert [s["puid"] for s in exported] == ["puid-00003", "puid-00004"]
    assert all(problems(s) == [] for s in exported)
    every = run_cli(
        database_url, tmp_path, "statements", "export", "--from", "2020-01-01",
        "--to", "2038-01-01", "--format", "csv",
    )  # fmt: skip
    assert every.returncode == 0, every.stderr
    rows = list(csv.reader(io.StringIO(every.stdout)))
    assert rows[0][0] == "puid" and len(rows) == 6
    assert "exported 5 statements" in every.stderr


def test_the_status_page_says_whether_each_promise_was_kept(container):
    receipt = submit(
        container, PLATFORM, content_id="kept-1", category=Category.ncii,
        reporter_role=ReporterRole.depicted_person, signature="A Person",
        good_faith_statement=True, contact_email="a@example.org",
    )  # fmt: skip
    container.clock.advance(5 * 3600)  # past the time to look (P1: 4 hours)
    view = reports.status(
        uow=container.uow(readonly=True), token=receipt.status_token, now=container.clock.now()
    )
    look, remove = view.promises
    assert (look.state, remove.state) == ("missed", "open")
    assert "1 h 0 min overdue" in look.words
    lead = staff(container, "lead", Role.child_safety_lead, child_safety=True)
    decide(
        container, lead, receipt.case_id, Outcome.violation, category=Category.ncii,
        settings=container.review_settings,
    )  # fmt: skip
    view = reports.status(
        uow=container.uow(readonly=True), token=receipt.status_token, now=container.clock.now()
    )
    look, remove = view.promises
    assert look.state == "late" and "1 h 0 min late" in look.words
    assert remove.state == "open"  # the removal is planned, not yet acknowledged


def test_the_cli_writes_the_harmonised_template_and_refuses_it_on_standard_output(
    container, database_url, tmp_path
):
    made(container, 2)
    year = container.clock.now().year
    period = ("--from", f"{year}-01-01", "--to", f"{year + 1}-01-01")
    out = tmp_path / "template.zip"
    cli = run_cli(
        database_url, tmp_path, "transparency", *period, "--format", "dsa-template",
        "--out", str(out), "--published", "2027-02-01",
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        summary = z.read("Part_1_summary.csv").decode()
    assert len(names) == 6 and "Part_4_notices.csv" in names
    assert f"Ending date of reporting period,{year}-12-31" in summary
    no_out = run_cli(
        database_url, tmp_path, "transparency", *period, "--format", "dsa-template"
    )  # fmt: skip
    assert no_out.returncode != 0 and "--out" in no_out.stderr
