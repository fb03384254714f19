"""The case aggregate, with no database: what receiving a report, exposure and a decision do
to a case, and the invariants no sequence of reports can break."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from takedown.cases import (
    LEGAL_NCII_REMOVAL,
    Case,
    CaseConfirmed,
    CaseNotOpen,
    CasePriorityChanged,
    CaseStatus,
    Category,
    Decision,
    IncomingReport,
    Outcome,
    Priority,
    ReporterRole,
    ReportFacts,
    TriagePolicy,
)
from takedown.matching import BankPolicy, Match, SignalType

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
POLICY = TriagePolicy()
BANK_MATCH = Match(
    bank="known",
    policy=BankPolicy.block_and_report,
    signal_type=SignalType.md5,
    entry_id=7,
    distance=0,
)


def incoming(
    *,
    at: datetime = T0,
    category: Category = Category.policy,
    role: ReporterRole = ReporterRole.user,
    minor: bool | None = None,
    police: bool = False,
    valid_ncii: bool = False,
    new_reporter: bool = True,
    item_on_case: bool = False,
    matches: list[Match] | None = None,
    content_id: str = "item-1",
) -> IncomingReport:
    return IncomingReport(
        facts=ReportFacts(
            category=category,
            reporter_role=role,
            depicted_minor=minor,
            police_case_number=police,
            valid_ncii_request=valid_ncii,
            received_at=at,
            new_reporter=new_reporter,
        ),
        content_id=content_id,
        item_on_case=item_on_case,
        confirming_matches=matches or [],
    )


def opened(report: IncomingReport | None = None, case_id: int = 1) -> Case:
    change = Case.open_with(case_id, report or incoming(), policy=POLICY)
    assert change.events == [] or all(isinstance(e, CaseConfirmed) for e in change.events)
    return change.case


def test_a_first_report_opens_a_case_on_its_clock():
    change = Case.open_with(
        5, incoming(category=Category.ncii, role=ReporterRole.user), policy=POLICY
    )
    case = change.case
    assert (case.id, case.status, case.priority) == (5, CaseStatus.open, Priority.p1)
    assert case.respond_by == T0 + POLICY.respond_within[Priority.p1]
    assert case.remove_by is None  # not a valid removal request
    assert case.opened_at == case.updated_at == T0
    assert change.adds_item and change.events == [] and change.decision is None


def test_a_valid_ncii_request_starts_the_48_hour_clock():
    case = opened(
        incoming(category=Category.ncii, role=ReporterRole.depicted_person, valid_ncii=True)
    )
    assert case.remove_by == T0 + LEGAL_NCII_REMOVAL


def test_a_report_that_raises_the_case_raises_an_event_and_moves_the_clock_earlier():
    case = opened()
    later = T0 + timedelta(hours=2)
    change = case.receive(incoming(at=later, category=Category.csam, minor=True), policy=POLICY)
    after = change.case
    assert after.priority is Priority.p0
    assert after.respond_by == later + POLICY.respond_within[Priority.p0]
    assert after.respond_by < case.respond_by
    [event] = change.events
    assert isinstance(event, CasePriorityChanged)
    assert (event.case_id, event.old, event.new) == (1, "P2", "P0")
    assert "csam_minor" in event.reasons
    assert case.priority is Priority.p2  # the case it came from is unchanged


def test_a_reporter_heard_before_does_not_count_again():
    case = opened()
    again = case.receive(incoming(new_reporter=False, item_on_case=True), policy=POLICY)
    assert again.case.facts.reporters == 1 and again.case.facts.reports == 2
    assert not again.adds_item
    other = case.receive(incoming(new_reporter=True), policy=POLICY)
    assert other.case.facts.reporters == 2


def test_a_block_and_report_match_confirms_an_open_case_automatically():
    change = Case.open_with(3, incoming(matches=[BANK_MATCH]), policy=POLICY)
    case = change.case
    assert case.status is CaseStatus.confirmed and case.confirmed_at == T0
    assert case.priority is Priority.p0 and case.facts.block_and_report_match
    decision = change.decision
    assert decision is not None
    assert (decision.outcome, decision.category, decision.automated) == (
        Outcome.violation,
        Category.csam,
        True,
    )
    assert decision.decided_by == "matcher" and "known" in decision.reason
    assert decision.grounds == (
        {"bank": "known", "signal_type": "md5", "entry_id": 7, "distance": 0},
    )
    [event] = change.events
    assert event == CaseConfirmed(
        case_id=3, content_ids=["item-1"], automated=True, reason=decision.reason
    )


def test_a_confirmed_case_is_not_confirmed_again():
    case = Case.open_with(3, incoming(matches=[BANK_MATCH]), policy=POLICY).case
    change = case.receive(
        incoming(at=T0 + timedelta(minutes=5), matches=[BANK_MATCH]), policy=POLICY
    )
    assert change.decision is None and change.events == []
    assert change.case.confirmed_at == T0
    with pytest.raises(CaseNotOpen):
        case.confirm(Decision.by_bank_match([BANK_MATCH], at=T0), content_ids=["item-1"])


def test_only_a_violation_confirms():
    case = opened()
    no = Decision(
        outcome=Outcome.no_violation,
        category=Category.policy,
        reason="not against the rules",
        statement="We looked and it breaks no rule.",
        decided_by="reviewer",
        decided_at=T0,
        automated=False,
    )
    with pytest.raises(ValueError, match="violation"):
        case.confirm(no, content_ids=["item-1"])


def test_fast_exposure_raises_a_case_once():
    case = opened()
    change = case.record_exposure(fast=True, policy=POLICY, now=T0 + timedelta(hours=1))
    assert change.case.facts.fast_exposure
    assert change.case.priority is Priority.p1
    [event] = change.events
    assert isinstance(event, CasePriorityChanged) and "fast_exposure" in event.reasons
    again = change.case.record_exposure(fast=True, policy=POLICY, now=T0 + timedelta(hours=2))
    assert again.case is change.case and again.events == []
    assert case.record_exposure(fast=False, policy=POLICY, now=T0).case is case


def test_a_more_lenient_policy_later_never_lowers_a_case():
    case = opened(incoming(category=Category.ncii, role=ReporterRole.depicted_person, police=True))
    assert case.priority is Priority.p0  # ncii (P1) raised by the person shown and a police number
    lenient = TriagePolicy(points_per_level=10)
    change = case.receive(incoming(at=T0 + timedelta(minutes=1)), policy=lenient)
    assert change.case.priority is Priority.p0 and change.events == []


reports = st.builds(
    dict,
    minutes=st.integers(min_value=0, max_value=60 * 24 * 7),
    category=st.sampled_from(Category),
    role=st.sampled_from(ReporterRole),
    minor=st.sampled_from([None, True, False]),
    police=st.booleans(),
    valid_ncii=st.booleans(),
    new_reporter=st.booleans(),
    match=st.booleans(),
)


def _incoming(spec: dict, at: datetime) -> IncomingReport:
    return incoming(
        at=at,
        category=spec["category"],
        role=spec["role"],
        minor=spec["minor"],
        police=spec["police"],
        valid_ncii=spec["valid_ncii"] and spec["category"] is Category.ncii,
        new_reporter=spec["new_reporter"],
        matches=[BANK_MATCH] if spec["match"] else None,
    )


@settings(max_examples=300, deadline=None)
@given(first=reports, rest=st.lists(reports, max_size=12), exposure_at=st.integers(0, 12))
def test_no_sequence_of_reports_lowers_a_case_or_moves_its_clocks_later(first, rest, exposure_at):
    at = T0
    case = Case.open_with(1, _incoming(first, at), policy=POLICY).case
    confirmations = int(case.status is CaseStatus.confirmed)
    for i, spec in enumerate(rest):
        at += timedelta(minutes=spec["minutes"])
        if i == exposure_at:
            change = case.record_exposure(fast=True, policy=POLICY, now=at)
        else:
            change = case.receive(_incoming(spec, at), policy=POLICY)
        after = change.case
        assert after.priority.level <= case.priority.level  # never drops
        assert after.respond_by <= case.respond_by  # never later
        if case.remove_by is not None:
            assert after.remove_by is not None and after.remove_by <= case.remove_by
        if after.remove_by is not None:
            first_valid = after.facts.first_valid_ncii_at
            assert first_valid is not None
            assert after.remove_by <= first_valid + LEGAL_NCII_REMOVAL
        if case.status is CaseStatus.confirmed:
            assert after.status is CaseStatus.confirmed
            assert after.confirmed_at == case.confirmed_at
        confirmations += sum(isinstance(e, CaseConfirmed) for e in change.events)
        changed = [e for e in change.events if isinstance(e, CasePriorityChanged)]
        assert len(changed) == int(after.priority is not case.priority)
        case = after
    assert confirmations == int(case.status is CaseStatus.confirmed)
