"""Reports: intake (``intake``), the reporter's status page and replies (``status``), the
platform's exposure counts (``exposure``), the reporter's secrets (``links``) and what
reporters are told (``notices``). The package's public face is re-exported here."""

from takedown.services.reports.exposure import ExposurePolicy, StatsResult, record_stats
from takedown.services.reports.intake import (
    MAX_IDEMPOTENCY_KEY,
    PUBLIC_ACTOR,
    IntakeContext,
    Prepared,
    Receipt,
    ReportCreate,
    StoreReport,
    file_report,
    prepare,
    store,
    submit,
)
from takedown.services.reports.links import (
    anonymous_reporter,
    checked_form_key,
    form_key,
    status_digest,
    status_key,
    status_token,
    status_url,
    unstamped_status_token,
)
from takedown.services.reports.notices import next_step, removal_notice
from takedown.services.reports.status import StatusView, reply, status

__all__ = [
    "MAX_IDEMPOTENCY_KEY",
    "PUBLIC_ACTOR",
    "ExposurePolicy",
    "IntakeContext",
    "Prepared",
    "Receipt",
    "ReportCreate",
    "StatsResult",
    "StatusView",
    "StoreReport",
    "anonymous_reporter",
    "checked_form_key",
    "file_report",
    "form_key",
    "next_step",
    "prepare",
    "record_stats",
    "removal_notice",
    "reply",
    "status",
    "status_digest",
    "status_key",
    "status_token",
    "status_url",
    "store",
    "submit",
    "unstamped_status_token",
]
