"""A case's facts: folding a report in keeps everything the report does not change, and the
stored JSON gives back the same facts. ``CaseFacts.with_report`` names every field itself (it
runs for every report), so these tests list the fields from the dataclass: a field added later
and forgotten there fails here."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from takedown.cases import CaseFacts, Category, ReporterRole, ReportFacts

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _full_facts() -> CaseFacts:
    """Facts with no field at its default."""
    values = {
        "categories": frozenset({Category.ncii}),
        "roles": frozenset({ReporterRole.depicted_person}),
        "csam_minor": True,
        "depicted_minor": True,
        "police_case_number": True,
        "reporters": 2,
        "reports": 3,
        "block_and_report_match": True,
        "fast_exposure": True,
        "uploader_prior_removals": 4,
        "first_report_at": AT,
        "first_valid_ncii_at": AT + timedelta(minutes=5),
        "previous_case": 7,
        "decided_category": Category.csam,
        "decided_csam": True,
        "merged_into": 9,
    }
    assert set(values) == {f.name for f in dataclasses.fields(CaseFacts)}, "a new field"
    facts = CaseFacts(**values)
    for f in dataclasses.fields(CaseFacts):
        assert getattr(facts, f.name) != f.default, f.name
    return facts


def test_a_report_keeps_every_fact_it_does_not_change():
    before = _full_facts()
    report = ReportFacts(
        category=Category.policy,
        reporter_role=ReporterRole.user,
        depicted_minor=None,
        police_case_number=False,
        valid_ncii_request=False,
        received_at=AT + timedelta(hours=1),
        new_reporter=True,
    )
    after = before.with_report(report)
    changed = {
        f.name
        for f in dataclasses.fields(CaseFacts)
        if getattr(after, f.name) != getattr(before, f.name)
    }
    assert changed == {"categories", "roles", "reporters", "reports"}
    assert after.categories == {Category.ncii, Category.policy}
    assert after.roles == {ReporterRole.depicted_person, ReporterRole.user}
    assert (after.reporters, after.reports) == (3, 4)


def test_an_earlier_report_moves_the_first_dates_back():
    before = _full_facts()
    earlier = AT - timedelta(hours=2)
    after = before.with_report(
        ReportFacts(
            category=Category.ncii,
            reporter_role=ReporterRole.depicted_person,
            depicted_minor=False,
            police_case_number=False,
            valid_ncii_request=True,
            received_at=earlier,
            new_reporter=False,
        )
    )
    assert after.first_report_at == earlier
    assert after.first_valid_ncii_at == earlier
    assert after.reporters == before.reporters


def test_stored_facts_read_back_the_same():
    facts = _full_facts()
    assert CaseFacts.from_json(facts.as_json()) == facts
    assert CaseFacts.from_json(CaseFacts().as_json()) == CaseFacts()


def test_joined_facts_are_those_of_one_case_that_heard_every_report():
    kept = CaseFacts(
        categories=frozenset({Category.policy}),
        roles=frozenset({ReporterRole.user}),
        reporters=1,
        reports=1,
        first_report_at=AT,
        decided_category=Category.policy,
    )
    other = _full_facts()
    joined = kept.joined(other, reporters=3)
    assert joined.categories == {Category.policy, Category.ncii}
    assert joined.roles == {ReporterRole.user, ReporterRole.depicted_person}
    assert (joined.reporters, joined.reports) == (3, 4)
    assert joined.csam_minor and joined.depicted_minor and joined.police_case_number
    assert joined.block_and_report_match and joined.fast_exposure and joined.decided_csam
    assert joined.uploader_prior_removals == 4 and joined.previous_case == 7
    assert joined.first_report_at == AT and joined.first_valid_ncii_at == other.first_valid_ncii_at
    assert joined.minor_safety  # a protection of either holds on the kept case
    # What the kept case's decision set stays its own; it was not merged anywhere.
    assert joined.decided_category is Category.policy and joined.merged_into is None
    assert CaseFacts.from_json(joined.as_json()) == joined
    assert "merged_into" not in kept.as_json()  # left out of every row but a merged case's
