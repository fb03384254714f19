"""The content registry's item: a piece of a platform's content that was scanned or
registered, with the hashes of its media and where it came from; and the exposure the
platform reports for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


# Made for every report: slotted and not frozen, for speed; still treated as a value, never
# changed (docs/developing.md, "Domain").
@dataclass(slots=True)
class ContentItem:
    id: int
    content_id: str
    account_id: str  # '' when no platform told us whose it is (a report of an unknown id)
    parent_content_id: str | None  # what it reposts, if anything
    media_kind: str | None
    pdq: str | None
    pdq_quality: int | None
    md5: str | None
    sha256: str | None
    first_seen_at: datetime
    last_scanned_at: datetime | None
    # The last case about this item that was closed with no violation: a new report opens a
    # case linked to it.
    closed_case_id: int | None = None


@dataclass(frozen=True, slots=True)
class ExposureReading:
    """The platform's latest view and repost counts for an item, and the reading before
    (None when this is the first)."""

    views: int
    reposts: int
    at: datetime
    previous_views: int | None
    previous_reposts: int | None
    previous_at: datetime | None
