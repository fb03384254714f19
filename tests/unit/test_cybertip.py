"""The CyberTipline report's XML and the filing's rules, with no database: every element is
where NCMEC's order puts it (checked by the strict server's own lists, not only by the
schema shipped), the schema refuses what is out of order, and a filing never submits twice."""

from __future__ import annotations

import os
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from takedown.authorities import (
    Contact,
    FileAnnotation,
    Filing,
    FilingRefused,
    FilingState,
    FilingStep,
    IncidentType,
    IndustryClassification,
    IpEvent,
    LawEnforcement,
    ReportAnnotation,
    ReportedUser,
    SchemaInvalid,
    Tip,
    TipFile,
    Victim,
    file_details_xml,
    report_xml,
    shipped,
)
from takedown.retry import RetryPolicy
from tests.ncmec_support import problems

AT = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
RETRY = RetryPolicy(max_attempts=3, backoff_seconds=2, jitter=0)
REPORTER = Contact(first_name="Trust and Safety", last_name="Team", email="ts@example.org")


def _full() -> Tip:
    return Tip(
        incident_type=IncidentType.child_pornography,
        incident_at=AT,
        incident_description="When the first copy was uploaded.",
        reporter=REPORTER,
        platform="Example",
        escalate="A child may be in danger now.",
        annotations=frozenset({ReportAnnotation.sextortion, ReportAnnotation.csam_solicitation}),
        urls=("https://example.org/p/1", "https://example.org/p/2"),
        law_enforcement=LawEnforcement(agency="Springfield PD", case_number="2026-1"),
        reported=ReportedUser(
            esp_identifier="u-1",
            esp_service="Example",
            screen_name="someone",
            display_names=("Some One",),
            profile_urls=("https://example.org/u/1",),
            ip_events=(IpEvent("203.0.113.9", at=AT, port=443),),
            prior_reports=(123, 456),
            disabled_at=AT,
            additional_info="Other accounts: u-2.",
        ),
        victims=(Victim(person=Contact(email="kid@example.org"), additional_info="Reported it."),),
        batched_viral=True,
        terms_of_service="https://example.org/terms",
        additional_info="takedown case TD-0000042: 3 report(s) from the platform's users and "
        "systems. Confirmed by a reviewer on 2026-12-03 14:20 UTC: a child, sexual. 2,227 "
        "copies taken down.",
    )


def _file() -> TipFile:
    return TipFile(
        original_file_name="a.jpg",
        uploaded_at=AT,
        location="https://example.org/p/1",
        viewed_by_esp=True,
        publicly_available=True,
        classification=IndustryClassification.A2,
        annotations=frozenset({FileAnnotation.viral, FileAnnotation.generative_ai}),
        hashes=(("MD5", "0" * 32), ("SHA256", "1" * 64)),
        ip_events=(IpEvent("203.0.113.9"),),
        additional_info="PDQ ff.",
    )


def test_a_full_report_and_its_file_details_fit_the_schema_and_ncmecs_order():
    for document in (report_xml(_full()), file_details_xml(7_000_001, "f1", _file())):
        shipped().validate(document)
        assert problems(etree.fromstring(document)) == []
    report = etree.fromstring(report_xml(_full()))
    assert [c.tag for c in report] == [
        "batchedReport", "incidentSummary", "internetDetails", "lawEnforcement", "reporter",
        "personOrUserReported", "victim", "additionalInfo",
    ]  # fmt: skip
    assert [c.tag for c in report.find("incidentSummary/reportAnnotations")] == [
        "sextortion",
        "csamSolicitation",
    ]
    assert report.findtext("personOrUserReported/priorCTReports") == "123"
    assert report.find("personOrUserReported/accountTemporarilyDisabled").get("disabledDate")


def test_a_minimal_report_leaves_out_what_it_does_not_know():
    tip = Tip(incident_type=IncidentType.child_pornography, incident_at=AT, reporter=REPORTER)
    document = report_xml(tip)
    shipped().validate(document)
    assert [c.tag for c in etree.fromstring(document)] == ["incidentSummary", "reporter"]
    assert b"<platform" not in document and b"additionalInfo" not in document


def test_the_schema_refuses_elements_out_of_order_and_missing_ones():
    document = report_xml(_full())
    swapped = document.replace(b"<platform>Example</platform>", b"").replace(
        b"<incidentType>", b"<platform>Example</platform><incidentType>"
    )
    with pytest.raises(SchemaInvalid, match="platform"):
        shipped().validate(swapped)
    assert problems(etree.fromstring(swapped))
    without_email = report_xml(replace(_full(), reporter=Contact(first_name="x")))
    assert problems(etree.fromstring(without_email)) == ["reportingPerson: <email> is required"]
    with pytest.raises(SchemaInvalid, match="well-formed"):
        shipped().validate(b"<report><incidentSummary>")


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(min_size=1, max_size=200),
    annotations=st.sets(st.sampled_from(list(ReportAnnotation))),
    files=st.sets(st.sampled_from(list(FileAnnotation))),
    classification=st.none() | st.sampled_from(list(IndustryClassification)),
)
def test_any_text_and_any_tags_still_fit(text, annotations, files, classification):
    printable = "".join(ch for ch in text if ch.isprintable()) or "x"
    tip = replace(_full(), additional_info=printable, annotations=frozenset(annotations))
    shipped().validate(report_xml(tip))
    details = replace(_file(), annotations=frozenset(files), classification=classification)
    shipped().validate(file_details_xml(1, "f", replace(details, additional_info=printable)))


any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=60)


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(any_text.filter(str.strip), min_size=12, max_size=12))
def test_any_unicode_in_every_text_still_makes_a_document_ncmec_takes(texts):
    """Surrogates, U+FFFE, U+FFFF and control characters anywhere a report's words reach
    (the reporter's, the platform's account details, the reviewer's): the document is
    written and fits the schema, the characters XML cannot carry replaced."""
    t = iter(texts)
    full = _full()
    assert full.reported is not None
    tip = replace(
        full,
        incident_description=next(t),
        escalate=next(t),
        additional_info=next(t),
        law_enforcement=LawEnforcement(agency=next(t), case_number=next(t)),
        reported=replace(
            full.reported,
            screen_name=next(t),
            display_names=(next(t),),
            additional_info=next(t),
            ip_events=(IpEvent(next(t), event="Login"),),
        ),
        victims=(Victim(person=Contact(first_name=next(t), email="v@example.org")),),
    )
    document = report_xml(tip)
    etree.fromstring(document)  # well-formed whatever came in
    file = replace(_file(), original_file_name=next(t), additional_info=next(t))
    etree.fromstring(file_details_xml(1, "f", file))


@settings(max_examples=300, deadline=None)
@given(text=any_text)
def test_text_entering_takedown_is_refused_or_fit_for_a_document(text):
    from takedown.services.errors import InvalidInput
    from takedown.services.reports.intake import clean_text

    try:
        kept = clean_text(text, "description", 10_000)
    except InvalidInput as refused:
        assert refused.field == "description"
        return
    document = report_xml(replace(_full(), additional_info=kept))
    shipped().validate(document)
    if kept is not None:  # nothing accepted needed replacing: it is filed as it was given
        assert etree.fromstring(document).findtext("additionalInfo") == kept


def _filing() -> Filing:
    return Filing(case_id=1, state=FilingState.drafted, drafted_at=AT)


def test_a_filing_walks_submit_files_finish_and_files_once():
    filing = _filing()
    assert filing.next_step(files_left=1) is FilingStep.none
    filing = filing.request(AT)
    assert filing.state is FilingState.filing and filing.next_step(1) is FilingStep.submit
    assert filing.request(AT + timedelta(seconds=1)) is filing  # idempotent
    sending = filing.sending_submit(AT)
    with pytest.raises(FilingRefused):
        sending.sending_submit(AT)  # never a second /submit while the first is unanswered
    assert sending.submit_unknown
    done = sending.submitted(7_000_001)
    assert not done.submit_unknown and done.next_step(1) is FilingStep.files
    assert done.next_step(0) is FilingStep.finish
    filed = done.done(AT)
    assert filed.state is FilingState.filed and filed.request(AT) is filed


def test_an_unanswered_submit_needs_a_person_who_settles_it():
    waiting = _filing().request(AT).sending_submit(AT).unanswered_submit("lost")
    assert waiting.state is FilingState.needs_attention and waiting.request(AT) is waiting
    found = waiting.resolve(AT, report_id=42)
    assert found.state is FilingState.filing and found.report_id == 42
    assert found.next_step(1) is FilingStep.files
    again = waiting.resolve(AT, report_id=None)
    assert again.next_step(0) is FilingStep.submit and not again.submit_unknown
    with pytest.raises(FilingRefused):
        _filing().resolve(AT, report_id=1)


def test_retries_back_off_and_end_failed_keeping_the_report_id():
    filing = _filing().request(AT).sending_submit(AT).submitted(9)
    first = filing.retry_later("503", AT, policy=RETRY)
    second = first.retry_later("503", AT, policy=RETRY)
    assert first.next_attempt_at == AT + timedelta(seconds=2)
    assert second.next_attempt_at == AT + timedelta(seconds=4)
    failed = second.retry_later("503", AT, policy=RETRY)
    assert failed.state is FilingState.failed and failed.report_id == 9
    resumed = failed.request(AT)
    assert resumed.state is FilingState.filing and resumed.next_step(1) is FilingStep.files
    refused = _filing().request(AT).sending_submit(AT).refused("code 4100")
    assert refused.state is FilingState.failed and not refused.submit_unknown
    assert refused.overdue(AT + timedelta(hours=25), timedelta(hours=24))


EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def test_the_sample_documents_in_the_docs_are_what_takedown_writes():
    """``docs/examples`` holds the report and file details of a sample case; rewrite them
    with ``TAKEDOWN_UPDATE_EXAMPLES=1`` after a change to what takedown writes."""
    documents = {
        "cybertip-report.xml": report_xml(_full()),
        "cybertip-file-details.xml": file_details_xml(7_000_001, "f1", _file()),
    }
    for name, document in documents.items():
        path = EXAMPLES / name
        if os.environ.get("TAKEDOWN_UPDATE_EXAMPLES") == "1":
            path.write_bytes(document)
        assert path.read_bytes() == document, f"{name} is stale"


def test_an_overturned_violation_withdraws_only_what_was_not_sent():
    draft = _filing()
    withdrawn = draft.withdraw("overturned")
    assert withdrawn.state is FilingState.withdrawn and withdrawn.settled
    assert not withdrawn.overdue(AT + timedelta(days=3), timedelta(hours=24))
    assert withdrawn.request(AT) is withdrawn
    sent = draft.request(AT).sending_submit(AT)
    assert sent.withdraw("overturned") is sent  # NCMEC may have it: a person retracts it
    assert sent.submitted(5).withdraw("overturned").state is FilingState.filing
