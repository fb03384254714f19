"""One case's filing with an authority: its state, and the rules that keep it filed once.

A confirmed CSAM case drafts its report (``drafted``). Filing it (``filing``) takes steps,
each stored before it is taken: ``/submit`` (which makes the report and its id), each file's
``/upload`` and ``/fileinfo``, then ``/finish`` (``filed``). The one step never repeated
blindly is ``/submit``: ``submit_sent_at`` is stored before it is sent and cleared when its
answer is, so a filing found with it set and no report id had an answer nobody saw, and goes
to ``needs_attention`` for a person to check with NCMEC, never to a second ``/submit``.
Steps after ``/submit`` are retried with back-off and resume from the stored report id.
``failed`` is a refusal (the report as written, or the credentials) or retries run out; the
compliance user fixes what was wrong and files again. ``withdrawn``: the violation was
overturned before anything was sent.

``Channel`` is what the filer needs of an authority's API; ``ChannelRefused`` and
``ChannelUnavailable`` are how a channel says a step did not happen.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar, Protocol

from takedown.retry import RetryPolicy


class FilingState(StrEnum):
    drafted = "drafted"
    filing = "filing"
    filed = "filed"
    failed = "failed"
    needs_attention = "needs_attention"
    withdrawn = "withdrawn"  # the violation was overturned before anything was sent


class FilingStep(StrEnum):
    """What a filing does next."""

    submit = "submit"
    files = "files"
    finish = "finish"
    none = "none"


class FilingRefused(Exception):
    """The change asked of a filing does not fit its state (the message says why)."""


class ChannelRefused(Exception):
    """The authority answered and refused the step (``code``: its response code, or the HTTP
    status). Nothing was made by it; sending the same again would be refused again."""

    def __init__(self, message: str, *, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class ChannelUnavailable(Exception):
    """The step's outcome is not known: a time-out, a 5xx, a dropped connection. ``sent`` is
    False only when the request surely never reached the authority (a refused connection)."""

    def __init__(self, message: str, *, sent: bool = True) -> None:
        super().__init__(message)
        self.sent = sent


@dataclass(frozen=True)
class FilingRequested:
    """A case's report is to be filed now (the filer wakes on its commit)."""

    event_type: ClassVar[str] = "ncmec.filing_requested"
    case_id: int
    auto: bool


@dataclass(frozen=True)
class ReportFiled:
    """NCMEC has the case's report, finished, with its files."""

    event_type: ClassVar[str] = "ncmec.report_filed"
    case_id: int
    report_id: int
    files: int


@dataclass(frozen=True)
class Uploaded:
    file_id: str
    md5: str | None  # the digest the authority computed, to check against the file's


class Channel(Protocol):
    """An authority's reporting API (NCMEC's: ``services.ncmec.NcmecClient``)."""

    def schema(self) -> bytes | None:
        """The authority's current schema, or None where it serves none."""

    def submit(self, report: bytes) -> int:
        """Open a report; its id."""

    def upload(self, report_id: int, file_name: str, data: bytes) -> Uploaded: ...

    def file_info(self, details: bytes) -> None: ...

    def finish(self, report_id: int) -> None: ...

    def retract(self, report_id: int) -> None: ...


@dataclass(frozen=True)
class Filing:
    """A case's report to NCMEC, as the store keeps it."""

    case_id: int
    state: FilingState
    drafted_at: datetime
    report_id: int | None = None
    requested_at: datetime | None = None
    filed_at: datetime | None = None
    submit_sent_at: datetime | None = None
    error: str | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    auto: bool = False  # filed without waiting for a person (``TAKEDOWN_NCMEC_AUTO_FILE``)

    def next_step(self, files_left: int) -> FilingStep:
        if self.state is not FilingState.filing:
            return FilingStep.none
        if self.report_id is None:
            return FilingStep.submit
        return FilingStep.files if files_left else FilingStep.finish

    def request(self, now: datetime, *, auto: bool = False) -> Filing:
        """File it: a draft or a failed filing starts (a failed one resumes from its report
        id where it has one); one filing, filed or needing attention is left as it is."""
        if self.state not in (FilingState.drafted, FilingState.failed):
            return self
        return replace(
            self,
            state=FilingState.filing,
            requested_at=self.requested_at or now,
            error=None,
            attempts=0,
            next_attempt_at=now,
            auto=auto,
        )

    def sending_submit(self, now: datetime) -> Filing:
        if self.submit_sent_at is not None and self.report_id is None:
            raise FilingRefused("/submit was sent before and its answer is not known")
        return replace(self, submit_sent_at=now)

    def submitted(self, report_id: int) -> Filing:
        return replace(self, report_id=report_id, submit_sent_at=None, error=None, attempts=0)

    def unanswered_submit(self, error: str) -> Filing:
        """``/submit`` was sent and no answer was stored: a person checks with NCMEC."""
        return replace(self, state=FilingState.needs_attention, error=error)

    @property
    def editable(self) -> bool:
        """Its draft may still change: not filing, and nothing sent to NCMEC yet."""
        return (
            self.state in (FilingState.drafted, FilingState.failed)
            and self.report_id is None
            and self.submit_sent_at is None
        )

    @property
    def reached_authority(self) -> bool:
        """NCMEC has, or may have, this report: it made a report id, or ``/submit`` was sent
        (answered or not). Its evidence is then kept a year from the filing, whatever
        becomes of the case."""
        return (
            self.report_id is not None
            or self.submit_sent_at is not None
            or self.state in (FilingState.filed, FilingState.needs_attention)
        )

    @property
    def submit_unknown(self) -> bool:
        return self.report_id is None and self.submit_sent_at is not None

    def refused(self, error: str) -> Filing:
        """The authority refused a step; with no report id, no report was made."""
        return replace(self, state=FilingState.failed, error=error, submit_sent_at=None)

    def retry_later(self, error: str, now: datetime, *, policy: RetryPolicy) -> Filing:
        """A step that did not happen or whose outcome is unknown, after ``/submit`` (or a
        ``/submit`` that surely never reached the authority): tried again when ``policy``
        says, or ``failed`` (parked for the compliance user) once it says no more."""
        attempts = self.attempts + 1
        sent = self.submit_sent_at if self.report_id is not None else None
        retry_at = policy.next_try(attempts, now)
        if retry_at is None:
            return replace(
                self, state=FilingState.failed, error=error, attempts=attempts, submit_sent_at=sent
            )
        return replace(
            self, error=error, attempts=attempts, next_attempt_at=retry_at, submit_sent_at=sent
        )

    def done(self, now: datetime) -> Filing:
        return replace(self, state=FilingState.filed, filed_at=now, error=None)

    def resolve(self, now: datetime, *, report_id: int | None) -> Filing:
        """A person checked with NCMEC what became of an unanswered ``/submit``: it made
        report ``report_id`` (the filing resumes from it), or it made none (None: the filing
        submits again, on that person's word)."""
        if self.state is not FilingState.needs_attention:
            raise FilingRefused(
                f"only a filing that needs attention is resolved; this one is {self.state}"
            )
        return replace(
            self,
            state=FilingState.filing,
            report_id=report_id,
            submit_sent_at=None,
            error=None,
            attempts=0,
            next_attempt_at=now,
        )

    def withdraw(self, reason: str) -> Filing:
        """The case is no longer a confirmed violation: a report not sent yet is not filed.
        One NCMEC has (or may have) stays as it is, for a person to retract."""
        if self.report_id is not None or self.submit_sent_at is not None:
            return self
        if self.state in (FilingState.filed, FilingState.needs_attention, FilingState.withdrawn):
            return self
        return replace(self, state=FilingState.withdrawn, error=reason, next_attempt_at=None)

    @property
    def settled(self) -> bool:
        """Filed, or withdrawn: nothing is left to do."""
        return self.state in (FilingState.filed, FilingState.withdrawn)

    def overdue(self, now: datetime, within: timedelta) -> bool:
        """Not filed ``within`` its drafting (the filing target)."""
        return not self.settled and now - self.drafted_at > within
