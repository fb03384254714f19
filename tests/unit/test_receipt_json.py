"""The report route's answer, encoded from a dict, is exactly ``ReportReceipt``'s JSON (the
schema the API documents)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from takedown.api.reports import ReportReceipt, receipt_json
from takedown.api.schemas import model_json
from takedown.cases import CaseStatus, Priority
from takedown.services.reports import Receipt

times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(
    ids=st.tuples(st.integers(1, 2**53), st.integers(1, 2**53)),
    times=st.tuples(times, times, st.none() | times),
    priority=st.sampled_from(list(Priority)),
    status=st.sampled_from(list(CaseStatus)),
    missing=st.none() | st.lists(st.sampled_from(["signature", "contact_email"]), max_size=2),
    url=st.text(max_size=40),
)
def test_the_answer_is_the_documented_receipt(
    ids: tuple[int, int],
    times: tuple[datetime, datetime, datetime | None],
    priority: Priority,
    status: CaseStatus,
    missing: list[str] | None,
    url: str,
) -> None:
    receipt = Receipt(
        report_id=ids[0],
        case_id=ids[1],
        case_number=f"TD-{ids[1]:07d}",
        status_token="token",
        acknowledged_at=times[0],
        priority=priority,
        respond_by=times[1],
        remove_by=times[2],
        case_status=status,
        missing_for_valid=missing,
    )
    documented = ReportReceipt(
        report_id=receipt.report_id,
        case_id=receipt.case_id,
        case_number=receipt.case_number,
        status_url=url,
        acknowledged_at=receipt.acknowledged_at,
        priority=str(receipt.priority),
        respond_by=receipt.respond_by,
        remove_by=receipt.remove_by,
        case_status=str(receipt.case_status),
        missing_for_valid_request=receipt.missing_for_valid,
    )
    assert receipt_json(url, receipt) == model_json(documented)
