"""Each case's clocks row (``store.clock_repos``) on SQLite and PostgreSQL. It is kept as the
case's events happen, on every path that makes them: a person's look, a decision by a person
or by a hash match, an appeal's decision, a removal delivered to the webhook or acknowledged
on the pull API (twice, too), a filing and a merge. After each, the row equals the one worked
out again from the events' own tables, and report intake writes none."""

from __future__ import annotations

from datetime import timedelta

import pytest

from takedown.bootstrap import default_registry
from takedown.cases import Category, Outcome
from takedown.clock import MovableClock
from takedown.identity import Role
from takedown.server.container import Container
from takedown.services import review, transparency
from takedown.store import migrate
from takedown.store.clock_repos import delivered_sql
from tests.conftest import OPERATOR
from tests.integration.test_case_links import merge
from tests.integration.test_reports import PLATFORM, scan_and_bank, submit
from tests.integration.test_review_service import decide, staff


@pytest.fixture
def container(settings, db):
    """A frozen clock: every duration below is exact to the second."""
    return Container(
        settings=settings, db=db, registry=default_registry(), clock=MovableClock(frozen=True)
    )


COLUMNS = "opened_at, priority, category, look_s, decision_s, removal_s, removals_pending, filing_s"


def row(uow, case_id):
    return uow.raw.one(
        f"SELECT {COLUMNS} FROM case_clocks WHERE case_id = :c",
        {"c": case_id},
    )


def kept(container, case_id):
    """The case's clocks row as kept, after checking it equals the row worked out again."""
    with container.uow() as uow:  # not committed: the rebuilt row is thrown away
        found = row(uow, case_id)
        uow.case_clocks.recompute([case_id])
        assert row(uow, case_id) == found
    return found


def removal_clock(container, case_id):
    with container.uow(readonly=True) as uow:
        found = uow.raw.all(
            "SELECT removal_s FROM case_clocks WHERE case_id = :c AND removals_pending = 0",
            {"c": case_id},
        )
    return found[0][0] if found else None


def test_the_clocks_row_is_kept_on_every_path_and_equals_its_rebuild(container):
    clock = container.clock
    rev = staff(container, "rev", Role.reviewer)
    x = submit(container, PLATFORM, content_id="x1", category=Category.policy).case_id
    opened = clock.now()
    assert kept(container, x) is None  # intake writes no clocks
    clock.advance(3600)
    y = submit(container, PLATFORM, content_id="y1", category=Category.policy).case_id

    # A person looks at Y, then merges it into X: Y's look goes with Y, which counts no more.
    clock.advance(300)
    decide(container, rev, y, Outcome.need_more_info, reason="which post?")
    assert kept(container, y)[3] == 300
    clock.advance(300)
    merge(container, rev, y, str(x))
    assert kept(container, y) is None
    assert kept(container, x) is None  # X itself has had no clock yet

    # X decided at 1 h 10 min: two removals planned (x1, y1), neither done.
    clock.advance(0)
    enforcing = container.review_settings
    decide(container, rev, x, Outcome.violation, category=Category.policy, settings=enforcing)
    decided_s = round((clock.now() - opened).total_seconds())
    assert kept(container, x)[3:] == (decided_s, decided_s, None, 2, None)
    with container.uow(readonly=True) as uow:
        removes = [a for a in uow.actions.for_case(x) if a.type == "remove"]
    assert sorted(a.content_id for a in removes) == ["x1", "y1"]

    # The webhook takes x1 a minute later (and again: a retried batch counts once).
    clock.advance(60)
    for _ in range(2):
        with container.uow() as uow:
            uow.actions.delivered([removes[0].id], at=clock.now())
            uow.commit()
        assert kept(container, x)[5:7] == (decided_s + 60, 1)
    assert removal_clock(container, x) is None  # one copy is still up

    # The platform acknowledges y1 on the pull API two minutes after that (and again).
    clock.advance(120)
    for _ in range(2):
        with container.uow() as uow:
            assert uow.actions.ack(removes[1].action_id, at=clock.now()) is not None
            uow.commit()
        assert kept(container, x)[5:7] == (decided_s + 180, 0)
    assert removal_clock(container, x) == decided_s + 180

    # An appeal's decision leaves the first decision the one counted.
    clock.advance(3600)
    review.platform_appeal(
        uow=container.uow(), actor=PLATFORM, content_id="x1", appellant="uploader",
        text="it is mine", now=clock.now(), policy=container.review_settings.policy,
    )  # fmt: skip
    ben = staff(container, "ben", Role.reviewer)
    decide(container, ben, x, Outcome.violation, category=Category.policy, settings=enforcing)
    assert kept(container, x)[4] == decided_s

    r = transparency.report(
        uow=container.uow(readonly=True), actor=OPERATOR,
        start=opened - timedelta(minutes=1), end=clock.now() + timedelta(minutes=1),
    )  # fmt: skip
    assert (r.to_decision.cases, r.to_decision.median_s) == (1, float(decided_s))
    assert (r.to_removal.cases, r.to_removal.median_s) == (1, float(decided_s + 180))


def test_an_automatic_decision_and_a_filing_keep_the_clocks(container):
    """An upload a hash list knows is confirmed when reported, at once: a decision at 0 s by
    intake's own path; its CyberTipline report's filing counts when NCMEC takes it."""
    clock = container.clock
    scan_and_bank(container, "e", "acct-e")
    e = submit(container, PLATFORM, content_id="e", category=Category.policy).case_id
    assert kept(container, e)[4] == 0
    assert kept(container, e)[6] >= 1  # its removal planned, not yet done
    clock.advance(600)
    with container.uow() as uow:
        filing = uow.filings.get(e)
        assert filing is not None
        uow.filings.save(filing.done(clock.now()))
        uow.commit()
    assert kept(container, e)[7] == 600


def test_an_undecided_ncii_request_counts_with_no_clock(container):
    """A report no one has looked at yet is a notice and an NCII request, with no clock."""
    submit(
        container, PLATFORM, content_id="n", category=Category.ncii,
        reporter_role="depicted_person", signature="A Person", good_faith_statement=True,
        contact_email="n@example.org",
    )  # fmt: skip
    now = container.clock.now()
    r = transparency.report(
        uow=container.uow(readonly=True), actor=OPERATOR,
        start=now - timedelta(hours=1), end=now + timedelta(hours=1),
    )  # fmt: skip
    assert (r.ncii_requests, r.ncii_decided_within_deadline) == (1, 0)
    assert r.to_first_look.cases == r.to_decision.cases == 0


def test_the_migration_fills_the_clocks_the_product_would_have_kept(container, db):
    """A database from before ``case_clocks`` gets every case's clocks from its history."""
    from alembic import command

    clock = container.clock
    rev = staff(container, "rev", Role.reviewer)
    kept_case = submit(container, PLATFORM, content_id="m1", category=Category.policy).case_id
    submit(container, PLATFORM, content_id="m2", category=Category.policy)  # waits: no clock
    clock.advance(600)
    decide(container, rev, kept_case, Outcome.violation, category=Category.policy,
           settings=container.review_settings)  # fmt: skip
    with container.uow() as uow:
        ids = [a.id for a in uow.actions.for_case(kept_case) if a.type == "remove"]
        uow.actions.delivered(ids, at=clock.now())
        uow.commit()
    scan_and_bank(container, "m3", "acct-m3")
    auto = submit(container, PLATFORM, content_id="m3", category=Category.policy).case_id

    def rows():
        with container.uow(readonly=True) as uow:
            return uow.raw.all(f"SELECT case_id, {COLUMNS} FROM case_clocks ORDER BY case_id")

    before = rows()
    assert [r[0] for r in before] == [kept_case, auto]  # the waiting case has no clock
    command.downgrade(migrate._config(db), "0021")
    migrate.upgrade(db)
    assert rows() == before


def test_a_delivery_counts_its_removals_by_the_actions_ids_alone(container, db):
    """A batch of 500 delivered actions reads those 500 rows, never every removal there is
    (``ix_actions_counts``): a takedown of 100,000 copies is delivered in 200 batches."""
    if not db.is_sqlite:
        pytest.skip("PostgreSQL counts the rows its own UPDATE changed (RETURNING)")
    marks = ", ".join(f":v{n}" for n in range(500))
    names = {f"v{n}": n + 1 for n in range(500)}
    with container.uow() as uow:
        clocks, _ = delivered_sql(uow.raw, f"id IN ({marks}) AND state = 'pending'", attempt=True)
        plan = uow.raw.all(f"EXPLAIN QUERY PLAN {clocks}", {"at": "2026-01-01", **names})
    details = " ".join(str(row[-1]) for row in plan)
    assert "ix_actions_counts" not in details and "PRIMARY KEY" in details
