"""Matching: hash banks, signal types as plug-ins (``signals``), their indexes (PDQ within a
distance; exact values; whole videos by vPDQ's rule) and what a match means. Imports only
``media`` types."""

from takedown.matching.banks import (
    BANK_NAME,
    DEFAULT_PDQ_THRESHOLD,
    VIDEO_FRAME_SHARE,
    Bank,
    BankEntriesAdded,
    BankEntry,
    BankPolicy,
    ContentMatched,
    EntryQuarantined,
    InvalidSignal,
    Match,
    SignalType,
    Verdict,
    acts_alone,
    confirming,
    verdict_for,
    video_matches,
    without_allowed,
)
from takedown.matching.content import ContentItem, ExposureReading
from takedown.matching.indexes import BankIndexes, IndexedEntry
from takedown.matching.pdq_index import EXACT_UP_TO, PdqIndex, hashes_to_words
from takedown.matching.signals import (
    SIGNALS,
    Indexing,
    Signal,
    from_exchange,
    name_in,
    normalize,
    registry_values,
    upload_values,
)

__all__ = [
    "BANK_NAME",
    "DEFAULT_PDQ_THRESHOLD",
    "EXACT_UP_TO",
    "SIGNALS",
    "VIDEO_FRAME_SHARE",
    "Bank",
    "BankEntriesAdded",
    "BankEntry",
    "BankIndexes",
    "BankPolicy",
    "ContentItem",
    "ContentMatched",
    "EntryQuarantined",
    "ExposureReading",
    "IndexedEntry",
    "Indexing",
    "InvalidSignal",
    "Match",
    "PdqIndex",
    "Signal",
    "SignalType",
    "Verdict",
    "acts_alone",
    "confirming",
    "from_exchange",
    "hashes_to_words",
    "name_in",
    "normalize",
    "registry_values",
    "upload_values",
    "verdict_for",
    "video_matches",
    "without_allowed",
]
