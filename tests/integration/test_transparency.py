"""The transparency report (``services.transparency``) on SQLite and PostgreSQL, against a
known history: every report, look, decision, removal, appeal and filing at a chosen second on
a frozen clock, and every figure checked against the value worked out here by hand."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import date, timedelta

import pytest

from takedown.bootstrap import default_registry
from takedown.cases import Category, Outcome, ReporterRole
from takedown.clock import MovableClock
from takedown.identity import Forbidden, Principal, PrincipalKind, Role, Scope
from takedown.server.container import Container
from takedown.services import case_links, dsa_template, review, transparency
from takedown.services.errors import InvalidInput
from tests.conftest import OPERATOR
from tests.integration.test_reports import PLATFORM, scan_and_bank, submit
from tests.integration.test_review_service import staff

HOUR, DAY = 3600, 86_400
FLAGGER = Principal(
    kind=PrincipalKind.api_key, subject_id=3, name="flagger",
    scopes=frozenset({Scope.trusted_flagger}),
)  # fmt: skip
POLICE = Principal(
    kind=PrincipalKind.api_key, subject_id=4, name="police",
    scopes=frozenset({Scope.law_enforcement}),
)  # fmt: skip


@pytest.fixture
def container(settings, db):
    """A frozen clock: every time below is exact to the second."""
    return Container(
        settings=settings, db=db, registry=default_registry(), clock=MovableClock(frozen=True)
    )


def test_every_figure_of_a_known_history(container):
    clock = container.clock
    t0 = clock.now()

    def at(seconds: float) -> None:
        clock.advance((t0 + timedelta(seconds=seconds) - clock.now()).total_seconds())

    settings = container.review_settings
    ana = staff(container, "ana", Role.reviewer)
    ben = staff(container, "ben", Role.reviewer)
    lea = staff(container, "lea", Role.child_safety_lead, child_safety=True)
    sam = staff(container, "sam", Role.senior_reviewer, child_safety=True)
    rev = staff(container, "rev", Role.reviewer, child_safety=True)

    def look(actor, case_id, seconds):
        at(seconds)
        review.claim(uow=container.uow(), actor=actor, case_id=case_id, now=clock.now(),
                     settings=settings)  # fmt: skip

    def decide(actor, case_id, seconds, outcome, category=None):
        look(actor, case_id, seconds)  # the claim renewed: its first look stays the first
        review.decide(
            uow=container.uow(), actor=actor, case_id=case_id, now=clock.now(),
            decision_in=review.DecisionIn(outcome=outcome, reason="why", category=category),
            settings=settings,
        )  # fmt: skip

    def removed(case_id, seconds):
        at(seconds)
        with container.uow() as uow:
            ids = [a.id for a in uow.actions.for_case(case_id) if a.state == "pending"]
            uow.actions.delivered(ids, at=clock.now())
            uow.commit()

    # A: a policy report from the platform's button, another from the public page.
    a = submit(container, PLATFORM, content_id="a", category=Category.policy).case_id
    at(600)
    submit(container, None, content_id="a", category=Category.policy, contact_email="p@e.org")
    look(ana, a, HOUR)
    decide(ana, a, 2 * HOUR, Outcome.violation, Category.policy)
    removed(a, 3 * HOUR)
    # B: a valid NCII removal request by the person shown.
    at(DAY)
    b = submit(
        container, PLATFORM, content_id="b", category=Category.ncii,
        reporter_role=ReporterRole.depicted_person, signature="A Person",
        good_faith_statement=True, contact_email="b@example.org",
    ).case_id  # fmt: skip
    look(ana, b, DAY + 30 * 60)
    decide(ana, b, DAY + HOUR, Outcome.violation, Category.ncii)
    removed(b, DAY + 90 * 60)
    # C: a trusted flagger's notice, found to break nothing.
    at(2 * DAY)
    c = submit(
        container, FLAGGER, content_id="c", category=Category.other_illegal,
        reporter_role=ReporterRole.trusted_flagger,
    ).case_id  # fmt: skip
    look(ben, c, 2 * DAY + 2 * HOUR)
    decide(ben, c, 2 * DAY + 4 * HOUR, Outcome.no_violation)
    # D: CSAM reported by the police, confirmed, removed and filed with NCMEC.
    at(3 * DAY)
    d = submit(
        container, POLICE, content_id="d", category=Category.csam, depicted_minor=True,
        reporter_role=ReporterRole.law_enforcement, police_agency="Police Scotland",
        police_case_number="CR/1",
    ).case_id  # fmt: skip
    look(lea, d, 3 * DAY + 10 * 60)
    decide(lea, d, 3 * DAY + 20 * 60, Outcome.violation, Category.csam)
    removed(d, 3 * DAY + HOUR)
    at(3 * DAY + 2 * HOUR)  # NCMEC accepts the report (the filer's last step: test_filing)
    with container.uow() as uow:
        filing = uow.filings.get(d)
        assert filing is not None
        uow.filings.save(filing.done(clock.now()))
        uow.commit()
    # E: an upload a hash list knows, confirmed automatically when reported.
    at(4 * DAY)
    scan_and_bank(container, "e", "acct-e")
    e = submit(container, PLATFORM, content_id="e", category=Category.policy).case_id
    removed(e, 4 * DAY + 5 * 60)

    # Appeals: A's upheld by someone else after 6 h; E's overturned by two people after 2 h.
    def appeal(content, seconds):
        at(seconds)
        review.platform_appeal(
            uow=container.uow(), actor=PLATFORM, content_id=content, appellant="uploader",
            text="it is mine and fine", now=clock.now(), policy=settings.policy,
        )  # fmt: skip

    appeal("a", 5 * DAY)
    look(ben, a, 5 * DAY + HOUR)
    decide(ben, a, 5 * DAY + 6 * HOUR, Outcome.violation, Category.policy)
    appeal("e", 6 * DAY)
    look(rev, e, 6 * DAY + 30 * 60)
    decide(rev, e, 6 * DAY + HOUR, Outcome.no_violation)  # a proposal: a minor's case
    look(sam, e, 6 * DAY + 90 * 60)
    decide(sam, e, 6 * DAY + 2 * HOUR, Outcome.no_violation)
    at(7 * DAY)

    r = transparency.report(
        uow=container.uow(readonly=True), actor=OPERATOR,
        start=t0 - timedelta(hours=1), end=t0 + timedelta(days=30),
    )  # fmt: skip
    zero = dict.fromkeys(transparency.SOURCES, 0)
    assert r.notices == {
        "policy": {**zero, "platform_button": 2, "public_page": 1},
        "ncii": {**zero, "depicted_person": 1},
        "other_illegal": {**zero, "trusted_flagger": 1},
        "csam": {**zero, "police": 1},
    }
    assert r.automated_detections == 0
    assert r.actions == {
        "remove": {"law": 3, "terms": 1},  # B, D, E; A
        "suspend_account": {"law": 1, "terms": 0},  # E's uploader
        "restore": {"law": 1, "terms": 0},  # E's copy, after the appeal
    }
    assert r.decisions == {
        "human_violation": 4,  # A, B, D, A on appeal
        "human_no_violation": 2,  # C, E on appeal (its proposal is not a decision)
        "automated_violation": 1,  # E
    }
    # Looks from each opening: D 10 min, B 30 min, A 1 h, C 2 h, and E, first claimed on its
    # appeal, 2 d 30 min: p90 = 7200 + 0.6 * (174,600 - 7200).
    assert r.to_first_look == transparency.Clock(5, 3600.0, 107_640.0)
    # First decisions: E 0, D 20 min, B 1 h, A 2 h, C 4 h: p90 = 7200 + 0.6 * 7200.
    assert r.to_decision == transparency.Clock(5, 3600.0, 11_520.0)
    # Last removals: E 5 min, D 1 h, B 1 h 30 min, A 3 h: p90 = 5400 + 0.7 * 5400.
    assert r.to_removal == transparency.Clock(4, 4500.0, 9180.0)
    assert r.to_filing == transparency.Clock(1, 7200.0, 7200.0)
    assert (r.ncii_requests, r.ncii_decided_within_deadline) == (1, 1)
    assert r.ncii_share_within_deadline == 1.0
    assert (r.appeals, r.appeals_decided, r.reversals) == (2, 2, 1)
    assert r.appeal_to_decision == transparency.Clock(2, 14_400.0, 20_160.0)
    assert r.ncmec_reports_filed == 1
    assert (r.automated_violations, r.automated_reversed) == (1, 1)
    assert r.automated_error_rate == 1.0
    assert sum(c.cases for c in r.to_decision_by_priority.values()) == 5

    figures = transparency.figures_csv(r).splitlines()
    assert figures[0] == "figure,breakdown,value"
    assert "to_removal_s,p90,9180.0" in figures and "notices,csam/police,1" in figures
    # A later period holds only what happened in it: the appeals' decisions are before it.
    later = transparency.report(
        uow=container.uow(readonly=True), actor=OPERATOR,
        start=t0 + timedelta(days=6, hours=3), end=t0 + timedelta(days=30),
    )  # fmt: skip
    assert later.notices == {} and later.decisions == {} and later.to_decision.cases == 0

    # The harmonised template of Regulation 2024/2835 for the same period.
    template = dsa_template.build(
        uow=container.uow(readonly=True), actor=OPERATOR,
        start=t0 - timedelta(hours=1), end=t0 + timedelta(days=30), provider="Example",
        published=date(2027, 2, 1),
    )  # fmt: skip
    parts = {name: list(csv.DictReader(io.StringIO(text))) for name, text in
             template.parts.items()}  # fmt: skip
    summary = {row["Indicator"]: row["Value"] for row in parts["Part_1_summary.csv"]}
    assert summary["Name of the service provider"] == "Example"
    assert summary["Date of the publication of the report"] == "2027-02-01"
    notices = {row["Category of illegal content"]: row for row in parts["Part_4_notices.csv"]
               if row["Category of illegal content"] != "KEYWORD_OTHER"}  # fmt: skip
    received, flagged = (
        "Number of notices received ",
        "Number of notices received from Trusted flaggers",
    )
    law = "Number of actions taken on the basis of the law"
    median = "Median time to take action"
    # B (NCII), C (trusted flagger, unspecified illegal), D (CSAM): A and E's reports are
    # under the terms; E's upload matched a hash list, but it was also reported.
    assert (notices["TOTAL"][received], notices["TOTAL"][flagged]) == ("3", "1")
    assert notices["KEYWORD_NON_CONSENSUAL_IMAGE_SHARING"][received] == "1"
    assert notices["STATEMENT_CATEGORY_PROTECTION_OF_MINORS"][received] == "1"
    assert notices["STATEMENT_CATEGORY_NOT_SPECIFIED_NOTICE"][flagged] == "1"
    assert notices["KEYWORD_HATE_SPEECH"][received] == ""  # a category takedown does not handle
    # Law: B's removal, D's, E's and E's uploader's suspension (E was reported, so not own
    # initiative); restorations restrict nothing.
    assert notices["TOTAL"][law] == "4"
    assert notices["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"][law] == "3"
    # First decisions of the illegal categories: E 0, D 20 min, B 1 h, C 4 h: median 40 min.
    assert notices["TOTAL"][median] == "0.67"
    assert notices["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"][median] == "0.17"  # E 0, D 20 min
    own = {row["Category of illegal content"]: row
           for row in parts["Part_5_own_initiative_illegal.csv"]}  # fmt: skip
    assert own["TOTAL"]["Number of measures taken at the provider's own initiative "] == "0"

    def appeal(indicator, scope):
        rows = parts["Part_7_appeals_and_recidivism.csv"]
        found = [r for r in rows if r["Indicator"].startswith(indicator) and r["Scope"] == scope]
        assert len(found) == 1, (indicator, scope)
        return found[0]["Value"]

    assert appeal("Number of complaints submitted", "Total number") == "2"
    assert appeal("Number of complaints submitted", "Decisions reversed") == "1"
    assert appeal("Number of complaints submitted", "Median time") == "4.00"
    assert appeal("Complaint regarding a decision to remove", "Decisions upheld") == "1"
    assert appeal("Complaint regarding a decision not to take", "Total number") == "0"
    assert appeal("Number of suspensions enacted for the provision of manifestly illegal",
                  "Total number") == "1"  # fmt: skip
    automated = {(row["Indicator"], row["Scope"]): row["Value"]
                 for row in parts["Part_8_automated_means.csv"]}  # fmt: skip
    # E's removal and suspension by no person; A's, B's and D's removals by people.
    assert automated[("Number of measures solely taken by automated means ", "Total number")] == "2"
    assert automated[("Number of measures not taken by automated means", "Total number")] == "3"
    assert automated[("Accuracy of the automated means - Accuracy", "Total number")] == "0.0000"
    with zipfile.ZipFile(io.BytesIO(template.zip_bytes())) as z:
        assert sorted(z.namelist()) == sorted(template.parts)


def test_only_those_who_may_read_figures_get_them_and_the_period_is_checked(container):
    now = container.clock.now()
    reviewer = staff(container, "rev", Role.reviewer)
    with pytest.raises(Forbidden):
        transparency.report(uow=container.uow(), actor=reviewer, start=now, end=now + timedelta(1))
    compliance = staff(container, "cleo", Role.compliance)
    empty = transparency.report(
        uow=container.uow(), actor=compliance, start=now, end=now + timedelta(days=1)
    )
    assert empty.to_decision == transparency.Clock(0, None, None) and empty.appeals == 0
    assert empty.ncii_share_within_deadline is None
    for start, end in ((now, now), (now, now + timedelta(days=366 * 5 + 1))):
        with pytest.raises(InvalidInput):
            transparency.report(uow=container.uow(), actor=compliance, start=start, end=end)


def test_the_consoles_deadlines_count_a_look_or_a_decision_by_the_time_to_respond(container):
    """The transparency page's deadlines met (``dashboard``): a case is met when a person
    looked at it or it was decided by its time to respond (to the second), due once that
    time has come or it was looked at; a case neither due nor looked at counts in neither,
    and a case merged away not at all."""
    clock = container.clock
    t0 = clock.now()
    settings = container.review_settings
    ana = staff(container, "ana", Role.reviewer)
    compliance = staff(container, "cleo", Role.compliance)

    def at(when):
        clock.advance((when - clock.now()).total_seconds())

    def opened(content_id, seconds):
        at(t0 + timedelta(seconds=seconds))
        receipt = submit(container, PLATFORM, content_id=content_id, category=Category.policy)
        with container.uow(readonly=True) as uow:
            return receipt.case_id, uow.cases.get(receipt.case_id).respond_by

    def look(case_id, when):
        at(when)
        review.claim(uow=container.uow(), actor=ana, case_id=case_id, now=clock.now(),
                     settings=settings)  # fmt: skip
        review.release(uow=container.uow(), actor=ana, case_id=case_id, now=clock.now())

    met, late = opened("met", 0), opened("late", 10)
    decided, missed = opened("decided", 20), opened("missed", 30)
    look(met[0], met[1] - timedelta(seconds=1))
    look(late[0], late[1] + timedelta(seconds=1))
    at(decided[1])
    review.claim(uow=container.uow(), actor=ana, case_id=decided[0], now=clock.now(),
                 settings=settings)  # fmt: skip
    review.decide(
        uow=container.uow(), actor=ana, case_id=decided[0], now=clock.now(),
        decision_in=review.DecisionIn(outcome=Outcome.no_violation, reason="fine"),
        settings=settings,
    )  # fmt: skip
    # Opened after the others' deadlines and not due by the time the page is read.
    waiting = opened("waiting", (late[1] - t0).total_seconds() + 60)
    merged = opened("merged", (late[1] - t0).total_seconds() + 70)
    case_links.merge(
        uow=container.uow(), actor=ana, case_id=merged[0], into=str(waiting[0]), note="same",
        now=clock.now(), policy=container.triage_policy,
    )  # fmt: skip
    assert clock.now() < waiting[1] and missed[1] < clock.now()
    day = t0.replace(hour=0, minute=0, second=0, microsecond=0)
    page = transparency.dashboard(
        uow=container.uow(), actor=compliance, start=day, end=day + timedelta(days=3),
        now=clock.now(),
    )  # fmt: skip
    # Every one a policy report from the platform, of one priority: met, late, decided (at its
    # time to the second) and missed are due; met and decided were in time.
    assert list(page.deadlines.values()) == [(4, 2)], page.deadlines
