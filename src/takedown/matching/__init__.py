"""Matching: hash banks, their indexes (PDQ within a distance, exact; MD5 and SHA-256 exact)
and what a match means. Imports only ``media`` types."""

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
    normalize,
    verdict_for,
    video_matches,
    without_allowed,
)
from takedown.matching.content import ContentItem, ExposureReading
from takedown.matching.indexes import BankIndexes, IndexedEntry
from takedown.matching.pdq_index import EXACT_UP_TO, PdqIndex, hashes_to_words

__all__ = [
    "BANK_NAME",
    "DEFAULT_PDQ_THRESHOLD",
    "EXACT_UP_TO",
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
    "InvalidSignal",
    "Match",
    "PdqIndex",
    "SignalType",
    "Verdict",
    "acts_alone",
    "confirming",
    "hashes_to_words",
    "normalize",
    "verdict_for",
    "video_matches",
    "without_allowed",
]
