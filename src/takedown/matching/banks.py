"""Hash banks, their entries, and what a match means.

A bank is a named list of hashes with a policy on match. An entry is one hash (a signal type
and its value) with where it came from. Pure: no SQL, no HTTP.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from takedown.media.pdq import WEAK_QUALITY


class SignalType(StrEnum):
    """Stable names, as rows, config and exchange files store them."""

    pdq = "pdq"
    md5 = "md5"
    sha256 = "sha256"
    video_md5 = "video_md5"  # MD5 of a video file's bytes, as NCMEC and StopNCII share it
    vpdq = "vpdq"  # a video's frames (Meta's vPDQ); the entry's value is their SHA-256


class BankPolicy(StrEnum):
    block_and_report = "block_and_report"  # block, and a confirmed case goes to NCMEC
    block = "block"
    review = "review"  # queue for a person
    log = "log"  # record only
    allow = "allow"  # known-benign content: an item that matches it matches no other bank


class Verdict(StrEnum):
    allow = "allow"
    review = "review"
    block = "block"


class InvalidSignal(ValueError):
    """A hash value that is not of its signal type's form."""


FOREVER = datetime(9999, 12, 31, tzinfo=UTC)  # "disabled until" with no end
BANK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
DEFAULT_PDQ_THRESHOLD = 31


@dataclass(frozen=True)
class Bank:
    id: int
    name: str
    description: str
    policy: BankPolicy
    pdq_threshold: int
    enabled: bool
    created_at: datetime


@dataclass(frozen=True)
class BankEntry:
    id: int
    bank_id: int
    signal_type: SignalType
    value: str
    source: str
    note: str
    added_at: datetime
    disabled_until: datetime | None
    quarantined_at: datetime | None = None

    def active(self, now: datetime) -> bool:
        return self.disabled_until is None or self.disabled_until <= now


@dataclass(frozen=True)
class Match:
    bank: str
    policy: BankPolicy
    signal_type: SignalType
    entry_id: int
    distance: int


def without_allowed(matches: list[Match]) -> list[Match]:
    """An item that matches an ``allow`` bank (hashes of content known to be benign, which
    others' lists have flagged by mistake) matches nothing else: only the allow bank's own
    matches are kept, for the record."""
    if any(m.policy is BankPolicy.allow for m in matches):
        return [m for m in matches if m.policy is BankPolicy.allow]
    return matches


def acts_alone(match: Match, *, pdq_quality: int | None) -> bool:
    """Whether ``match`` may act without a person: a PDQ match on a weak hash (quality under
    ``WEAK_QUALITY``) never does. Exact MD5 and SHA-256 matches always may."""
    return not (
        match.signal_type is SignalType.pdq
        and pdq_quality is not None
        and pdq_quality < WEAK_QUALITY
    )


def confirming(matches: list[Match], *, pdq_quality: int | None) -> list[Match]:
    """The matches that confirm a case on their own: those with a ``block_and_report`` bank
    that may act without a person (``acts_alone``)."""
    return [
        m
        for m in matches
        if m.policy is BankPolicy.block_and_report and acts_alone(m, pdq_quality=pdq_quality)
    ]


def verdict_for(matches: list[Match], *, pdq_quality: int | None) -> Verdict:
    """The strongest policy among the matches decides.

    A PDQ match on a weak hash (quality < 50) never acts on its own: at most it asks for a
    person (``review``). Exact MD5 and SHA-256 matches are not affected by image quality.
    """
    verdict = Verdict.allow
    for match in matches:
        if match.policy in (BankPolicy.block_and_report, BankPolicy.block):
            if acts_alone(match, pdq_quality=pdq_quality):
                return Verdict.block
            verdict = Verdict.review
        elif match.policy is BankPolicy.review:
            verdict = Verdict.review
    return verdict


@dataclass(frozen=True)
class BankEntriesAdded:
    """A bank gained entries (``first_entry_id`` to ``last_entry_id``): the registry's items
    registered before are searched for them (retroactive matching)."""

    event_type: ClassVar[str] = "matching.bank_entries_added"
    bank_id: int
    first_entry_id: int
    last_entry_id: int


@dataclass(frozen=True)
class EntryQuarantined:
    """An entry from outside matched more uploads in an hour than the flood limit: its matches
    ask a person from now on (every process's indexes take it at once)."""

    event_type: ClassVar[str] = "matching.entry_quarantined"
    entry_id: int
    uploads_last_hour: int


@dataclass(frozen=True)
class ContentMatched:
    """A scanned or looked-up item matched a bank (published for cases and enforcement)."""

    event_type: ClassVar[str] = "matching.content_matched"
    content_id: str
    account_id: str
    verdict: str
    matches: list[dict[str, Any]]


VIDEO_FRAME_SHARE = 0.5
"""A video matches a bank when at least this share of its sampled frames match the bank."""


def video_matches(
    frame_matches: list[list[Match]], *, share: float = VIDEO_FRAME_SHARE
) -> tuple[list[Match], dict[str, int]]:
    """Bank matches of a video from its frames' PDQ matches (vPDQ's rule).

    Returns the matches of every bank that at least ``share`` of the frames match (each entry
    once, at its best distance), and per bank how many frames matched it.
    """
    frames = len(frame_matches)
    per_bank: dict[str, int] = {}
    best: dict[tuple[str, int], Match] = {}
    for matches in frame_matches:
        for bank in {m.bank for m in matches}:
            per_bank[bank] = per_bank.get(bank, 0) + 1
        for m in matches:
            key = (m.bank, m.entry_id)
            if key not in best or m.distance < best[key].distance:
                best[key] = m
    enough = {b for b, n in per_bank.items() if frames and n / frames >= share}
    kept = [m for (bank, _), m in best.items() if bank in enough]
    return sorted(kept, key=lambda m: (m.distance, m.bank, m.entry_id)), per_bank
