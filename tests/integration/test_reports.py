"""Report intake on both databases: merging into one case, triage reasons and clocks,
idempotency and concurrency through the group-commit writer, automated confirmation."""

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from takedown.bootstrap import default_registry
from takedown.cases import (
    CaseStatus,
    Category,
    Outcome,
    Priority,
    ReporterRole,
    RoleNotAllowed,
)
from takedown.identity import Principal, PrincipalKind, Scope
from takedown.matching import BankPolicy
from takedown.server.container import Container
from takedown.services import audit, banks, reports, scanning
from takedown.services.errors import InvalidInput, NotFound
from takedown.services.reports import intake
from takedown.store import Database
from takedown.store.group_commit import GroupCommitter
from takedown.store.rawsql import IdBlocks
from takedown.store.types import utcnow
from tests.conftest import OPERATOR, make_settings
from tests.integration.pg_wire import counting_proxy
from tests.media_support import encode, photo

PLATFORM = Principal(
    kind=PrincipalKind.api_key, subject_id=7, name="platform", scopes=frozenset({Scope.report})
)


def submit(container, actor=None, **fields):
    fields.setdefault("content_id", "post-1")
    fields.setdefault("category", Category.csam)
    fields.setdefault("reporter_role", ReporterRole.user)
    return reports.submit(
        uow=container.uow(),
        actor=actor,
        report_in=reports.ReportCreate(**fields),
        ctx=container.intake(),
    )


def reason_codes(container, case_id):
    with container.uow(readonly=True) as uow:
        case = uow.cases.get(case_id)
    return [r["code"] for r in case.reasons], case


def test_three_reports_of_one_item_make_one_p0_case_with_every_reason(container):
    anonymous = submit(container, category=Category.csam, reporter_role=ReporterRole.user)
    minor = submit(
        container,
        category=Category.csam,
        reporter_role=ReporterRole.depicted_person,
        depicted_minor=True,
        police_agency="Metropolitan Police",
        police_case_number="2026/1234",
        contact_email="boy@example.org",
    )
    parent = submit(
        container,
        category=Category.csam,
        reporter_role=ReporterRole.parent_guardian,
        depicted_minor=True,
        contact_email="parent@example.org",
    )
    receipts = [anonymous, minor, parent]
    assert len({r.case_number for r in receipts}) == 1
    assert len({r.report_id for r in receipts}) == 3
    assert len({r.status_token for r in receipts}) == 3
    codes, case = reason_codes(container, anonymous.case_id)
    assert case.priority is Priority.p0
    assert codes == [
        "csam_minor",
        "depicted_person",
        "parent_guardian",
        "police_case_number",
        "more_reporters",
    ]
    assert case.facts.reporters == 3
    # The clock of a P0 case: a person looks within an hour of the first report.
    assert case.respond_by == anonymous.acknowledged_at + timedelta(hours=1)
    assert parent.respond_by == case.respond_by


def test_a_repost_and_an_exact_copy_join_the_open_case(container):
    scanning.register_content(
        uow=container.uow(), actor=OPERATOR, content_id="orig", account_id="u1"
    )
    scanning.register_content(
        uow=container.uow(),
        actor=OPERATOR,
        content_id="repost",
        account_id="u2",
        parent_content_id="orig",
    )
    scanning.register_content(
        uow=container.uow(),
        actor=OPERATOR,
        content_id="quote-of-repost",
        account_id="u3",
        parent_content_id="repost",
    )
    first = submit(container, content_id="repost")
    second = submit(container, content_id="quote-of-repost")
    third = submit(container, content_id="orig")
    assert first.case_id == second.case_id == third.case_id
    md5 = "0" * 31 + "1"
    from takedown.matching import SignalType

    for cid in ("copy-a", "copy-b"):
        scanning.register_content(
            uow=container.uow(),
            actor=OPERATOR,
            content_id=cid,
            account_id="u4",
            hashes={SignalType.md5: md5},
        )
    a = submit(container, content_id="copy-a")
    b = submit(container, content_id="copy-b")
    assert a.case_id == b.case_id != first.case_id
    other = submit(container, content_id="unrelated")
    assert other.case_id not in (a.case_id, first.case_id)
    with container.uow(readonly=True) as uow:
        assert {i.content_id for i in uow.cases.items(first.case_id)} == {
            "repost",
            "quote-of-repost",
            "orig",
        }


def test_near_identical_media_joins_the_case_by_pdq(container):
    image = photo("astronaut.png")
    for cid, data in (("p1", encode(image, quality=90)), ("p2", encode(image, quality=50))):
        scanning.scan_media(
            uow=container.uow(),
            matcher=container.matcher,
            actor=OPERATOR,
            data=data,
            content_id=cid,
            account_id="u",
        )
    a = submit(container, content_id="p1")
    b = submit(container, content_id="p2")
    assert a.case_id == b.case_id


def test_a_csam_report_without_contact_details_is_accepted(container):
    receipt = submit(container, category=Category.csam, reporter_role=ReporterRole.user)
    assert receipt.priority is Priority.p0
    assert receipt.remove_by is None


def test_ncii_remove_by_is_48_hours_after_the_first_valid_request_whatever_follows(container):
    now = utcnow()
    ctx = container.intake()

    def at(minutes, **fields):
        prepared = reports.prepare(
            actor=None,
            report_in=reports.ReportCreate(content_id="img", category=Category.ncii, **fields),
        )
        with container.uow() as uow:
            receipt = reports.store(
                uow,
                prepared,
                reports.IntakeContext(
                    indexes=ctx.indexes,
                    policy=ctx.policy,
                    status_key=ctx.status_key,
                    now=now + timedelta(minutes=minutes),
                ),
            )
            uow.commit()
        return receipt

    invalid = at(0, reporter_role=ReporterRole.user)
    assert invalid.priority is Priority.p1
    assert invalid.remove_by is None
    assert invalid.missing_for_valid == [
        "reporter_role",
        "signature",
        "good_faith_statement",
        "contact",
    ]
    valid = dict(
        reporter_role=ReporterRole.depicted_person,
        signature="Ana Example",
        good_faith_statement=True,
        contact_email="ana@example.org",
    )
    first_valid = at(30, **valid)
    assert first_valid.missing_for_valid == []
    deadline = now + timedelta(minutes=30) + timedelta(hours=48)
    assert first_valid.remove_by == deadline
    # More reports later, valid or not, a raise to P0 by a police report: never later.
    later = at(600, **{**valid, "contact_email": "friend@example.org"})
    police = reports.prepare(
        actor=Principal(
            kind=PrincipalKind.api_key,
            subject_id=9,
            name="police",
            scopes=frozenset({Scope.law_enforcement}),
        ),
        report_in=reports.ReportCreate(
            content_id="img",
            category=Category.ncii,
            reporter_role=ReporterRole.law_enforcement,
            police_agency="FBI",
            police_case_number="X-1",
        ),
    )
    with container.uow() as uow:
        raised = reports.store(uow, police, ctx)
        uow.commit()
    assert later.remove_by == deadline
    assert raised.priority is Priority.p0
    assert raised.remove_by == deadline
    assert raised.respond_by <= utcnow() + timedelta(hours=1)


@pytest.mark.parametrize(
    ("fields", "priority", "respond", "remove"),
    [
        ({"category": Category.csam, "depicted_minor": True}, Priority.p0, 60, None),
        ({"category": Category.ncii}, Priority.p1, 240, None),
        (
            {
                "category": Category.ncii,
                "reporter_role": ReporterRole.depicted_person,
                "signature": "A B",
                "good_faith_statement": True,
                "contact_email": "a@example.org",
            },
            # The depicted person's own valid request: P1 raised by one point stays P1.
            Priority.p1,
            240,
            48 * 60,
        ),
        ({"category": Category.other_illegal}, Priority.p2, 1440, None),
        ({"category": Category.policy}, Priority.p2, 1440, None),
        ({"category": Category.csam, "depicted_minor": False}, Priority.p1, 240, None),
    ],
)
def test_each_policy_row_sets_its_clocks(container, fields, priority, respond, remove):
    fields.setdefault("reporter_role", ReporterRole.user)
    receipt = submit(container, content_id="row", **fields)
    assert receipt.priority is priority
    assert receipt.respond_by == receipt.acknowledged_at + timedelta(minutes=respond)
    if remove is None:
        assert receipt.remove_by is None
    else:
        assert receipt.remove_by == receipt.acknowledged_at + timedelta(minutes=remove)


def test_law_enforcement_and_trusted_flaggers_need_their_keys(container):
    with pytest.raises(RoleNotAllowed):
        submit(
            container,
            actor=None,
            reporter_role=ReporterRole.law_enforcement,
            police_agency="X",
            police_case_number="1",
        )
    with pytest.raises(RoleNotAllowed):
        submit(container, actor=PLATFORM, reporter_role=ReporterRole.trusted_flagger)
    flagger = Principal(
        kind=PrincipalKind.api_key,
        subject_id=3,
        name="flagger",
        scopes=frozenset({Scope.trusted_flagger}),
    )
    receipt = submit(
        container,
        actor=flagger,
        category=Category.policy,
        reporter_role=ReporterRole.trusted_flagger,
    )
    codes, case = reason_codes(container, receipt.case_id)
    assert "trusted_flagger" in codes
    assert case.priority is Priority.p1  # P2 raised one level by a trusted flagger


def test_bad_fields_are_named(container):
    cases = [
        ({"content_id": None}, "content_id"),
        ({"content_id": None, "content_url": "javascript:alert(1)"}, "content_url"),
        ({"content_url": "javascript:alert(1)"}, "content_url"),
        ({"contact_email": "not an address"}, "contact_email"),
        ({"description": "x" * 5001}, "description"),
        ({"police_case_number": "1"}, "police_agency"),
    ]
    for fields, field in cases:
        with pytest.raises(InvalidInput) as info:
            submit(container, **fields)
        assert info.value.field == field


def test_a_link_stands_for_unknown_content_and_is_registered(container):
    receipt = submit(container, content_id=None, content_url="https://example.com/p/1")
    again = submit(container, content_id=None, content_url="https://example.com/p/1")
    assert receipt.case_id == again.case_id
    with container.uow(readonly=True) as uow:
        assert uow.content.get("url:https://example.com/p/1") is not None


def scan_and_bank(container, content_id, account_id, signal_type="md5"):
    """Scan a photo as ``content_id``, then put its exact hash in a new ``block_and_report``
    bank named ``known``: the item is now known CSAM-by-hash."""
    banks.create_bank(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        name="known",
        policy=BankPolicy.block_and_report,
    )
    result = scanning.scan_media(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        data=encode(photo("coffee.png"), quality=90),
        content_id=content_id,
        account_id=account_id,
    )
    banks.add_entries(
        uow=container.uow(),
        matcher=container.matcher,
        actor=OPERATOR,
        bank_name="known",
        items=[banks.EntryIn(signal_type, getattr(result.hashes, signal_type))],
    )


def test_a_block_and_report_match_confirms_the_case_at_once(container):
    scan_and_bank(container, "seen", "acct")
    receipt = submit(container, content_id="seen", category=Category.policy)
    assert receipt.case_status is CaseStatus.confirmed
    assert receipt.priority is Priority.p0
    view = reports.status(uow=container.uow(readonly=True), token=receipt.status_token)
    assert [(d.outcome, d.automated, d.decided_by) for d in view.decisions] == [
        (Outcome.violation, True, "matcher")
    ]
    assert "known" in view.decisions[0].statement
    assert [u.kind for u in view.updates] == ["decision"]
    # The uploader's next reported item carries the prior removal as a reason.
    scanning.register_content(
        uow=container.uow(), actor=OPERATOR, content_id="next", account_id="acct"
    )
    nxt = submit(container, content_id="next", category=Category.policy)
    codes, _ = reason_codes(container, nxt.case_id)
    assert "prior_removals" in codes


def test_status_page_replies_and_appeals(container):
    receipt = submit(container, category=Category.policy)
    view = reports.status(uow=container.uow(readonly=True), token=receipt.status_token)
    assert view.case.number == receipt.case_number
    assert "by" in view.next_step
    assert not view.can_appeal
    with container.uow() as uow:
        reports.reply(uow, token=receipt.status_token, body="More links: https://x.example/2")
        uow.commit()
    from takedown.services.errors import Conflict

    with pytest.raises(Conflict), container.uow() as uow:
        reports.reply(uow, token=receipt.status_token, body="appeal", appeal=True)
    with pytest.raises(NotFound):
        reports.status(uow=container.uow(readonly=True), token="nope")
    view = reports.status(uow=container.uow(readonly=True), token=receipt.status_token)
    assert [(m.author, m.kind) for m in view.messages] == [("reporter", "reply")]


def test_every_report_is_audited_and_published(container):
    submit(container)
    submit(container)
    with container.uow(readonly=True) as uow:
        assert uow.reports.count() == 2
    result = audit.verify(uow=container.uow(readonly=True), actor=OPERATOR)
    assert result.ok
    from sqlalchemy import text

    with container.db.engine.connect() as conn:
        received = conn.execute(
            text("SELECT count(*) FROM outbox WHERE event_type = 'cases.report_received'")
        ).scalar()
        audited = conn.execute(
            text("SELECT count(*) FROM audit_log WHERE action = 'report.received'")
        ).scalar()
    assert received == audited == 2


@pytest.fixture
def writer(container):
    container.writer.start()
    yield container.writer
    container.writer.stop()


def test_status_links_carry_their_time_so_digests_sort_by_it(container):
    receipts = [submit(container, content_id=f"item-{i}") for i in range(5)]
    tokens = [r.status_token for r in receipts]
    for receipt, token in zip(receipts, tokens, strict=True):
        stamp = (receipt.acknowledged_at - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(
            microseconds=1
        )
        assert len(token) == 46 and token[:14] == f"{stamp:014x}"
        assert reports.status_digest(token)[:14] == token[:14]
    digests = [reports.status_digest(t) for t in tokens]
    assert digests == sorted(digests) and len(set(digests)) == 5
    # The time is bound into the MAC: another time, another link, found nowhere.
    forged = f"{int(tokens[0][:14], 16) + 1:014x}" + tokens[0][14:]
    with pytest.raises(NotFound):
        reports.status(uow=container.uow(readonly=True), token=forged)
    view = reports.status(uow=container.uow(readonly=True), token=tokens[2])
    assert view.report.id == receipts[2].report_id


def test_a_link_made_before_links_carried_their_time_still_works_and_replays(container):
    key = container.intake().status_key
    first = submit(container, actor=PLATFORM, content_id="old", idempotency_key="k-old")
    legacy = reports.unstamped_status_token(key, f"api_key:{PLATFORM.subject_id}", "k-old")
    with container.uow() as uow:  # as a report stored by the earlier version would be
        uow.session.execute(
            text("UPDATE reports SET status_digest = :d WHERE id = :id"),
            {"d": hashlib.sha256(legacy.encode()).hexdigest(), "id": first.report_id},
        )
        uow.commit()
    view = reports.status(uow=container.uow(readonly=True), token=legacy)
    assert view.report.id == first.report_id
    again = submit(container, actor=PLATFORM, content_id="old", idempotency_key="k-old")
    assert again.duplicate and again.status_token == legacy


def test_nonces_are_unique_without_a_system_call_each(monkeypatch):
    import secrets

    def no_randomness(*_args):
        raise AssertionError("a nonce drew randomness")

    monkeypatch.setattr(secrets, "token_hex", no_randomness)
    monkeypatch.setattr(secrets, "token_bytes", no_randomness)
    nonces = [next(intake._NONCES) for _ in range(1000)]
    assert len(set(nonces)) == 1000
    assert {n.split(":")[0] for n in nonces} == {intake._NONCE_PREFIX}


def test_fifty_parallel_submissions_of_one_idempotency_key_give_one_report(container, writer):
    prepared = reports.prepare(
        actor=PLATFORM,
        report_in=reports.ReportCreate(
            content_id="hot",
            category=Category.csam,
            reporter_role=ReporterRole.user,
            idempotency_key="abc",
        ),
    )
    ctx = container.intake()
    with ThreadPoolExecutor(16) as pool:
        receipts = list(
            pool.map(lambda _: writer.call(reports.StoreReport(prepared, ctx)), range(50))
        )
    assert len({r.report_id for r in receipts}) == 1
    assert len({r.status_token for r in receipts}) == 1
    assert sum(not r.duplicate for r in receipts) == 1
    with container.uow(readonly=True) as uow:
        assert uow.reports.count() == 1


def test_five_hundred_parallel_reports_about_one_item_give_one_case(container, writer):
    ctx = container.intake()

    def one(i):
        prepared = reports.prepare(
            actor=None,
            report_in=reports.ReportCreate(
                content_id="viral",
                category=Category.csam,
                reporter_role=ReporterRole.user,
                contact_email=f"r{i}@example.org",
            ),
        )
        return writer.call(reports.StoreReport(prepared, ctx))

    with ThreadPoolExecutor(32) as pool:
        receipts = list(pool.map(one, range(500)))
    assert len({r.case_id for r in receipts}) == 1
    with container.uow(readonly=True) as uow:
        assert uow.reports.count() == 500
        case = uow.cases.get(receipts[0].case_id)
    assert case.facts.reporters == 500
    assert writer.groups < 500  # they were committed in groups


def _family_reports(prefix: str) -> list[dict]:
    """Reports whose answers depend on the ones before them: the same item twice, the same
    reporter twice on one case, a repost chain, two exact copies, and unrelated items."""
    user, minor, parent = (
        ReporterRole.user,
        ReporterRole.depicted_person,
        ReporterRole.parent_guardian,
    )
    rows = [
        ("new", Category.policy, user, "a"),
        ("new", Category.policy, user, "b"),
        ("repost", Category.csam, user, "c"),
        ("orig", Category.csam, minor, "a"),
        ("copy-a", Category.ncii, user, "d"),
        ("copy-b", Category.ncii, parent, "d"),
        ("new", Category.policy, minor, "a"),
        ("quote", Category.other_illegal, user, None),
        ("other", Category.policy, user, "e"),
        ("copy-a", Category.ncii, user, "e"),
        ("new-2", Category.csam, parent, "f"),
        ("new-2", Category.csam, parent, "f"),
        ("quote", Category.csam, minor, "g"),
    ]
    return [
        {
            "content_id": f"{prefix}{content}",
            "category": category,
            "reporter_role": role,
            "contact_email": f"{who}@example.org" if who else None,
            "depicted_minor": True if role is minor else None,
        }
        for content, category, role, who in rows
    ]


def _register_family(container, prefix: str) -> None:
    from takedown.matching import SignalType

    for content, parent in (("orig", None), ("repost", "orig"), ("quote", "repost")):
        scanning.register_content(
            uow=container.uow(),
            actor=OPERATOR,
            content_id=f"{prefix}{content}",
            account_id="u1",
            parent_content_id=f"{prefix}{parent}" if parent else None,
        )
    md5 = (prefix.encode().hex() + "0" * 32)[:32]
    for content in ("copy-a", "copy-b"):
        scanning.register_content(
            uow=container.uow(),
            actor=OPERATOR,
            content_id=f"{prefix}{content}",
            account_id="u2",
            hashes={SignalType.md5: md5},
        )


def _outcome(container, receipts) -> list[tuple]:
    """Each report's case (numbered by first appearance), priority and case state."""
    numbers: dict[int, int] = {}
    out = []
    for receipt in receipts:
        with container.uow(readonly=True) as uow:
            case = uow.cases.get(receipt.case_id)
        number = numbers.setdefault(receipt.case_id, len(numbers))
        out.append(
            (
                number,
                receipt.priority,
                receipt.remove_by is not None,
                case.priority,
                [r["code"] for r in case.reasons],
                case.facts.reporters,
                case.facts.reports,
            )
        )
    return out


def test_reports_committed_together_see_each_other_as_one_at_a_time(container, monkeypatch):
    """A group's items and cases are looked up in one statement before its reports are
    written (PostgreSQL); each report must still see the ones before it in the group."""
    from takedown.store import case_repos
    from takedown.store.group_commit import run_works
    from takedown.store.rawsql import RawSql

    ctx = container.intake()
    _register_family(container, "one-")
    alone = []
    for fields in _family_reports("one-"):
        prepared = reports.prepare(actor=PLATFORM, report_in=reports.ReportCreate(**fields))
        with container.uow() as uow:
            alone.append(reports.store(uow, prepared, ctx))
            uow.commit()

    _register_family(container, "all-")
    single_lookups = []
    one = RawSql.one

    def counting(self, sql, params=None):
        if sql in (case_repos._INTAKE_LOOKUP_PG, case_repos._INTAKE_LOOKUP_SQLITE):
            single_lookups.append(params["content_id"])
        return one(self, sql, params)

    monkeypatch.setattr(RawSql, "one", counting)
    works = [
        reports.StoreReport(
            reports.prepare(actor=PLATFORM, report_in=reports.ReportCreate(**fields)), ctx
        )
        for fields in _family_reports("all-")
    ]
    with container.uow() as uow:
        together = run_works(uow, works)
        uow.commit()
    assert _outcome(container, together) == _outcome(container, alone)
    assert len({r.case_id for r in together}) == 5
    if container.db.is_sqlite:
        assert len(single_lookups) == len(works)  # no round trips to save
    else:
        # Only the reports whose item or case an earlier one in the group wrote look again.
        assert 0 < len(single_lookups) < len(works) - 4


def test_a_group_of_reports_costs_the_same_round_trips_whatever_its_size(database_url, tmp_path):
    """PostgreSQL: the writer's round trips are paid per group, not per report (the lookups
    of the whole group in one, the waiting writes with the next read or the commit). Counted
    on the wire, by a proxy in front of the server."""
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite has no round trips")
    with counting_proxy(database_url) as (url, trips):
        db = Database(url)
        db.ids = IdBlocks(block=1000)  # no group runs out of ids mid-test
        container = Container(
            settings=make_settings(url, tmp_path), db=db, registry=default_registry()
        )
        ctx = container.intake()
        writer = GroupCommitter(db)
        writer.start()
        try:
            counts = {}
            for size in (1, 2, 16, 2, 16):
                hold = threading.Event()
                held = writer.submit(lambda _uow: hold.wait(10))  # a group of its own, no I/O
                works = [
                    reports.StoreReport(
                        reports.prepare(
                            actor=PLATFORM,
                            report_in=reports.ReportCreate(
                                content_id=f"trips-{size}-{len(counts)}-{i}",
                                category=Category.csam,
                                reporter_role=ReporterRole.user,
                            ),
                        ),
                        ctx,
                    )
                    for i in range(size)
                ]
                futures = [writer.submit(work) for work in works]
                trips.take()
                hold.set()
                held.result(timeout=10)
                receipts = [f.result(timeout=10) for f in futures]
                counts[(size, len(counts))] = trips.take()
                assert len({r.case_id for r in receipts}) == size
        finally:
            writer.stop()
            db.dispose()
    # The first group also fetches its ids and prepares its statements. Every later one:
    # BEGIN with the group's lookups; the audit head's row lock, with the writes waiting so
    # far; the audit entries and COMMIT.
    assert list(counts.values())[1:] == [3, 3, 3, 3], counts


def _decision_notices(container, case_id) -> list[str]:
    from takedown.store.models import OutboxRow

    with container.uow(readonly=True) as uow:
        rows = uow.session.query(OutboxRow).filter(OutboxRow.event_type == "cases.reporter_email")
        return [
            r.payload["to"]
            for r in rows
            if r.payload.get("case_id") == case_id
            and r.payload.get("subject", "").startswith("Update")
        ]


def test_a_report_joining_a_decided_case_tells_its_reporter_the_decision(container):
    """Whoever reports a case after it was decided hears the decision, as those before did."""
    from dataclasses import replace

    scan_and_bank(container, "post-1", "u1")
    ctx = replace(container.intake(), email=True)

    def report(email: str) -> reports.Receipt:
        return reports.submit(
            uow=container.uow(),
            actor=None,
            report_in=reports.ReportCreate(
                content_id="post-1",
                category=Category.csam,
                reporter_role=ReporterRole.user,
                contact_email=email,
            ),
            ctx=ctx,
        )

    first = report("first@example.org")
    assert first.case_status is CaseStatus.confirmed
    later = report("later@example.org")
    assert later.case_id == first.case_id
    assert sorted(_decision_notices(container, first.case_id)) == [
        "first@example.org",
        "later@example.org",
    ]


def test_two_transactions_that_find_a_case_open_decide_it_once(container):
    """Intake locks a case before a report's automatic decision: a transaction that found
    the case open while another was deciding it waits, then folds its report into the
    decided case, with no second decision (and no second round of notices)."""
    submit(container, content_id="post-1", category=Category.policy)  # an open case about it
    with container.uow(readonly=True) as uow:
        [case_id] = uow.cases.case_ids_for_content("post-1")
    scan_and_bank(container, "post-1", "u1")  # now a bank confirms any report about it
    ctx = container.intake()
    holding, release = threading.Event(), threading.Event()
    outcomes: list[reports.Receipt] = []

    def report(key: str, hold: bool) -> None:
        prepared = reports.prepare(
            actor=None,
            report_in=reports.ReportCreate(
                content_id="post-1",
                category=Category.csam,
                reporter_role=ReporterRole.user,
                idempotency_key=key,
            ),
            anonymous_reporter=key,
        )
        with container.uow() as uow:
            outcomes.append(reports.store(uow, prepared, ctx))
            if hold:
                holding.set()
                release.wait(10)
            uow.commit()

    first = threading.Thread(target=report, args=("a", True))
    first.start()
    assert holding.wait(10)
    second = threading.Thread(target=report, args=("b", False))
    second.start()
    second.join(1.0)
    assert second.is_alive()  # it waits for the deciding transaction
    release.set()
    first.join(10)
    second.join(10)
    with container.uow(readonly=True) as uow:
        decisions = uow.decisions.for_case(case_id)
    assert len(decisions) == 1
    assert [o.case_id for o in outcomes] == [case_id, case_id]
