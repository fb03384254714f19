"""What reporters are told, in plain words: the next step and its time on the receipt and
the status page, and the e-mails to reporters who gave an address (sent by the worker,
``cases.ReporterEmailQueued``)."""

from __future__ import annotations

from datetime import datetime

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


def removal_notice(*, case_id: int, to: str, copies: int) -> ReporterEmailQueued:
    """The e-mail that tells a reporter the content they reported was taken down."""
    number = case_number(case_id)
    others = (
        f" Every copy we found is being taken down with it ({copies} in all)." if copies > 1 else ""
    )
    return ReporterEmailQueued(
        case_id=case_id,
        to=to,
        subject=f"The content you reported ({number}) was removed",
        body=f"The content you reported in case {number} was removed.{others}\n"
        "Your status page (the link in our first e-mail) shows it.\n",
    )


def decision_notice(*, case_id: int, to: str, decision: Decision) -> ReporterEmailQueued:
    """The e-mail that tells a reporter a case they reported was decided: the statement of
    reasons, as the reviewer sent it (or the automatic confirmation's)."""
    number = case_number(case_id)
    return ReporterEmailQueued(
        case_id=case_id,
        to=to,
        subject=f"Update on your report {number}",
        body=f"There is a decision on case {number}.\n\n{decision.statement}\n\n"
        "Your status page (the link in our first e-mail) shows the decision, and is where you "
        "can reply or appeal.\n",
    )
