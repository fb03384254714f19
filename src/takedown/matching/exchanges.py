"""Hash exchanges: the outside lists a bank is kept in step with (NCMEC's hash sharing,
StopNCII, a file or URL), and the one port every exchange's client is. Pure: no SQL, no HTTP.

An exchange hands over its list as pages. Each page carries the checkpoint to resume from
after it, so a sync that dies between pages starts again at the page it had not stored, not
at the beginning. An entry on a page is one hash of one record of the exchange: its id
there (``external_id``), the hash, its tags, and whether the exchange still stands behind it
(``active``: False for StopNCII's Withdrawn and Deleted, NCMEC's deleted entries). A record the
client cannot read is not an entry: it is one of the page's ``problems``, kept with the
exchange's errors, and the rest of the page goes on.

Exceptions::

    ExchangeError            the exchange could not be read (refused, down, unreadable answer)
     └── ExchangeRefused     it answered, and the answer was no (a 4xx: credentials, rights)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from takedown.matching.banks import SignalType

EXCHANGE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MAX_PROBLEMS = 50  # the errors an exchange keeps on record, newest first


class ExchangeKind(StrEnum):
    ncmec = "ncmec"
    stopncii = "stopncii"
    threatexchange = "threatexchange"
    file = "file"


class Feedback(StrEnum):
    """What a reviewer's decision says about a match with an exchange's entry."""

    confirmed = "confirmed"  # it is what the exchange says (StopNCII Blocked, NCMEC upvote)
    rejected = "rejected"  # it is not (StopNCII NotBlocked, NCMEC downvote)


class ExchangeError(Exception):
    """The exchange could not be read or written; the sync is tried again later."""


class ExchangeRefused(ExchangeError):
    """The exchange answered no (wrong credentials, no rights): retrying will not help until
    someone fixes the configuration."""


@dataclass(frozen=True)
class ExchangeEntry:
    external_id: str
    signal_type: SignalType
    value: str  # normalized (``banks.normalize``)
    active: bool = True
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Page:
    """One page of an exchange's changes. ``removed``: ids of the exchange's records deleted
    whole (NCMEC's deleted entries name only the id): every hash of theirs stops matching.
    ``complete``: the page is the exchange's whole list (a file), so the hashes this exchange
    gave before and that it no longer lists are withdrawn."""

    entries: list[ExchangeEntry]
    checkpoint: dict[str, Any]  # where the next pass resumes once this page is stored
    problems: list[str] = field(default_factory=list)  # records skipped, and why
    removed: list[str] = field(default_factory=list)
    complete: bool = False


def merge_pages(pages: list[Page]) -> Page:
    """Consecutive pages as one, to store in one transaction: their entries in order (a later
    record of a hash still stands over an earlier), the last one's checkpoint."""
    if len(pages) == 1:
        return pages[0]
    return Page(
        entries=[e for p in pages for e in p.entries],
        checkpoint=pages[-1].checkpoint,
        problems=[x for p in pages for x in p.problems],
        removed=[x for p in pages for x in p.removed],
        complete=any(p.complete for p in pages),
    )


@dataclass(frozen=True)
class FeedbackItem:
    external_id: str
    signal_type: SignalType
    value: str
    verdict: Feedback


class ExchangeClient(Protocol):
    """What every exchange's client does. ``pages`` yields the changes since ``checkpoint``
    (None: from the start) until the exchange has no more; it raises ``ExchangeError`` when it
    cannot go on, after the pages it did yield. ``send_feedback`` raises ``ExchangeError``
    when the exchange did not take it; an exchange with no feedback says so in
    ``takes_feedback``. ``check`` tries the address and the credentials."""

    takes_feedback: bool

    def pages(self, checkpoint: Mapping[str, Any] | None, now: datetime) -> Iterator[Page]: ...

    def send_feedback(self, item: FeedbackItem) -> None: ...

    def check(self) -> str:
        """One cheap request with the credentials: what the exchange says of us (its member
        name, say). Raises ``ExchangeError`` or ``ExchangeRefused``."""
        ...


@dataclass(frozen=True)
class Exchange:
    """An exchange as configured, with where its sync stands. Its credentials are not here:
    only the sync reads them."""

    id: int
    name: str
    kind: ExchangeKind
    bank_id: int
    bank: str
    url: str
    enabled: bool
    interval_seconds: int
    checkpoint: dict[str, Any]
    created_at: datetime
    last_fetch_at: datetime | None
    last_success_at: datetime | None
    next_run_at: datetime | None
    attempts: int
    fetched: int
    added: int
    withdrawn: int
    errors: list[dict[str, str]]  # {"at", "error"}, newest first
    has_credentials: bool = False

    @property
    def failing(self) -> bool:
        """Its last pass failed (a pass that succeeds sets both times to its end)."""
        return self.last_fetch_at is not None and self.last_success_at != self.last_fetch_at


@dataclass(frozen=True)
class EntriesWithdrawn:
    """An exchange withdrew entries of a bank (they stopped matching in the same commit): the
    open cases an automatic report opened on them are flagged for their reviewer."""

    event_type: ClassVar[str] = "matching.entries_withdrawn"
    bank_id: int
    exchange: str
    entry_ids: list[int]


@dataclass(frozen=True)
class ExchangeFeedbackOwed:
    """A decision owes exchanges feedback on the entries its case's media matched; the
    ``exchanges`` lane sends it."""

    event_type: ClassVar[str] = "matching.exchange_feedback_owed"
    case_id: int
    owed: int


def merge_problems(old: list[dict[str, str]], new: list[str], at: datetime) -> list[dict[str, str]]:
    """The exchange's error list with ``new`` in front, at most ``MAX_PROBLEMS``."""
    stamped = [{"at": at.isoformat(), "error": p[:500]} for p in reversed(new)]
    return (stamped + old)[:MAX_PROBLEMS]
