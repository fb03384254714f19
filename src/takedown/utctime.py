"""UTC times as naive text, ``YYYY-MM-DD HH:MM:SS.ffffff``: how SQLite stores them, and how the
audit chain hashes them. Imports nothing of ours.

Why not ``isoformat``: intake writes several times a report, and ``datetime.isoformat`` builds
its text with ``printf`` (about 9,000 instructions; 16,000 with the ``+00:00`` of an aware
time, and ``replace(tzinfo=None)`` to drop it costs as much again). Here the text up to the
second is made once a second and kept; a time costs a subtraction, a lookup and a short
f-string, about 6,000 instructions (callgrind, one call at a time).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECONDS: dict[tuple[int, int, str], str] = {}  # (days, seconds, separator) -> text to the second
_KEEP = 4096  # seconds remembered; past that the memory starts again


def utc_text(value: datetime, sep: str = " ") -> str:
    """``value`` (aware, any zone) as naive UTC text, always with microseconds, as
    ``value.astimezone(UTC).replace(tzinfo=None).isoformat(sep, "microseconds")`` gives it."""
    if value.tzinfo is None:
        raise ValueError("naive datetime given where a UTC time is needed")
    since = value - _EPOCH  # in UTC whatever the zone; a third of isoformat's instructions
    key = (since.days, since.seconds, sep)
    head = _SECONDS.get(key)
    if head is None:
        if len(_SECONDS) >= _KEEP:
            _SECONDS.clear()
        whole = _EPOCH + timedelta(days=key[0], seconds=key[1])
        head = _SECONDS[key] = whole.replace(tzinfo=None).isoformat(sep)
    return f"{head}.{since.microseconds:06d}"
