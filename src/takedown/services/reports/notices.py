"""What reporters are told, in plain words: the next step and its time on the receipt and
the status page, and the e-mails to reporters who gave an address (sent by the worker,
``cases.ReporterEmailQueued``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from takedown.cases import CaseStatus, Decision, ReporterEmailQueued, case_number


def _when(at: datetime) -> str:
    return at.strftime("%d %B %Y, %H:%M UTC")


def next_step(
    *,
    status: CaseStatus,
    respond_by: datetime,
    remove_by: datetime | None,
    waiting_for_valid_request: bool = False,
    removed_at: datetime | None = None,
    copies_removed: int = 0,
) -> str:
    """What happens next and by when, in plain words: the acknowledgment page and the status
    page both say it."""
    if status is CaseStatus.confirmed and removed_at is not None:
        others = copies_removed - 1
        copies = f", with {others} other cop{'y' if others == 1 else 'ies'}" if others > 0 else ""
        return (
            f"We confirmed that this content breaks the law or our rules and removed it{copies} "
            f"on {_when(removed_at)}. The accounts that shared it were dealt with, and a new "
            "upload of it is blocked."
        )
    if status is CaseStatus.confirmed:
        return (
            "We confirmed that this content breaks the law or our rules. Removing it, with "
            "every copy we can find, and acting on the account that shared it are the next "
            "steps; this page will say when they are done."
        )
    if status is CaseStatus.closed:
        return "This case is closed. You can appeal the decision below."
    if status is CaseStatus.appealed:
        return (
            "The decision was appealed. Someone on our safety team who did not make it is "
            f"reviewing it again, by {_when(respond_by)}."
        )
    text = f"A person on our safety team will look at your report by {_when(respond_by)}."
    if remove_by is not None:
        text += (
            f" If the image is what you describe, it will be removed by {_when(remove_by)} at "
            "the latest: the law gives us 48 hours from a valid request."
        )
    elif waiting_for_valid_request:
        text += (
            " For the legal 48-hour removal deadline to apply, we still need what is listed "
            "below; you can send it as a reply."
        )
    return text


def acknowledgment(
    *,
    case_id: int,
    to: str,
    status: CaseStatus,
    respond_by: datetime,
    remove_by: datetime | None,
    status_link: str | None,
) -> ReporterEmailQueued:
    """The e-mail that acknowledges a report: its case number, the next step, and the
    private status link (when the installation knows its public address)."""
    lines = [
        f"We received your report. Your case number is {case_number(case_id)}.",
        "",
        next_step(status=status, respond_by=respond_by, remove_by=remove_by),
        "",
    ]
    if status_link:
        lines += [
            "See what happens to your report, reply or appeal at your private status page:",
            status_link,
            "Keep this link to yourself: anyone with it can read the status.",
        ]
    return ReporterEmailQueued(
        case_id=case_id,
        to=to,
        subject=f"Your report {case_number(case_id)} was received",
        body="\n".join(lines) + "\n",
    )


def joined_from(case_id: int, merged: Sequence[int]) -> str:
    """A sentence for the reporters of a case others were merged into: each of them knows
    only the number their own report was given, which may be one of those."""
    if not merged:
        return ""
    numbers = [case_number(m) for m in merged]
    if len(numbers) == 1:
        given, joined = f"the number {numbers[0]}", "that case was"
    else:
        given = f"one of the numbers {', '.join(numbers[:-1])} or {numbers[-1]}"
        joined = "those cases were"
    return (
        f"If your report was given {given}: {joined} joined to case {case_number(case_id)} "
        "by a reviewer, so this is about your report too.\n"
    )


def removal_notice(
    *, case_id: int, to: str, copies: int, merged: Sequence[int] = ()
) -> ReporterEmailQueued:
    """The e-mail that tells a reporter the content they reported was taken down (``merged``:
    the cases merged into this one, which its reporters may know it by)."""
    number = case_number(case_id)
    others = (
        f" Every copy we found is being taken down with it ({copies} in all)." if copies > 1 else ""
    )
    return ReporterEmailQueued(
        case_id=case_id,
        to=to,
        subject=f"The content you reported ({number}) was removed",
        body=f"The content you reported in case {number} was removed.{others}\n"
        f"{joined_from(case_id, merged)}"
        "Your status page (the link in our first e-mail) shows it.\n",
    )


def decision_notice(
    *, case_id: int, to: str, decision: Decision, merged: Sequence[int] = ()
) -> ReporterEmailQueued:
    """The e-mail that tells a reporter a case they reported was decided: the statement of
    reasons, as the reviewer sent it (or the automatic confirmation's); ``merged`` as for
    ``removal_notice``."""
    number = case_number(case_id)
    joined = joined_from(case_id, merged)
    return ReporterEmailQueued(
        case_id=case_id,
        to=to,
        subject=f"Update on your report {number}",
        body=f"There is a decision on case {number}.\n{joined}\n{decision.statement}\n\n"
        "Your status page (the link in our first e-mail) shows the decision, and is where you "
        "can reply or appeal.\n",
    )


@dataclass(frozen=True)
class Promise:
    """A deadline the reporter was given, and what became of it: ``met`` (done in time),
    ``late`` (done, after it), ``missed`` (not done, and past it), ``open`` (not done yet, not
    due yet) or ``void`` (nothing to do: no removal after "no violation")."""

    what: str  # look | remove
    due: datetime
    state: str
    done_at: datetime | None
    by: timedelta | None  # how early, or how late

    @property
    def words(self) -> str:
        task = {
            "look": "A person to look at your report",
            "remove": "The image removed (the legal 48-hour deadline)",
        }[self.what]
        due = _when(self.due)
        if self.state == "void":
            return f"{task} by {due}: not needed, as we found no violation."
        if self.state == "open":
            return f"{task} by {due}: not done yet; {_span(self.by)} left."
        if self.state == "missed":
            return f"{task} by {due}: missed. It is {_span(self.by)} overdue and not done yet."
        done = _when(self.done_at) if self.done_at else ""
        if self.state == "late":
            return f"{task} by {due}: done on {done}, {_span(self.by)} late."
        return f"{task} by {due}: done on {done}, in time."


def _span(value: timedelta | None) -> str:
    seconds = int(abs(value.total_seconds())) if value is not None else 0
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes = rest // 60
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min"]
    return " ".join(p for p in parts if p) if seconds >= 60 else "less than a minute"


def promises(
    *,
    status: CaseStatus,
    respond_by: datetime,
    remove_by: datetime | None,
    looked_at: datetime | None,
    removed_at: datetime | None,
    now: datetime,
) -> list[Promise]:
    """Each deadline the status page promised, honestly: whether it was kept and by how much.
    ``looked_at``: when a person first looked (a claim), or a decision was made, whichever
    came first; ``removed_at``: when the platform took the reported content down."""
    found = [_promise("look", respond_by, looked_at, now)]
    if remove_by is not None:
        if status is CaseStatus.closed and removed_at is None:
            found.append(Promise("remove", remove_by, "void", None, None))
        else:
            found.append(_promise("remove", remove_by, removed_at, now))
    return found


def _promise(what: str, due: datetime, done_at: datetime | None, now: datetime) -> Promise:
    if done_at is not None:
        late = done_at > due
        return Promise(what, due, "late" if late else "met", done_at, done_at - due)
    if now > due:
        return Promise(what, due, "missed", None, now - due)
    return Promise(what, due, "open", None, due - now)
