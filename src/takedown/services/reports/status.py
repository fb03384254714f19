"""The reporter's status page: what happened to their report, their replies and appeals."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from takedown.cases import (
    NCII_REQUIREMENTS,
    Case,
    CaseStatus,
    Category,
    Decision,
    ReviewPolicy,
    missing_for_valid_ncii,
)
from takedown.cases.records import CaseMessage, Report
from takedown.services import audit, ratelimits
from takedown.services.case_changes import appeal_case
from takedown.services.errors import Conflict, InvalidInput, NotFound
from takedown.services.platform_links import is_unresolved
from takedown.services.reports.intake import MAX_MESSAGE, PUBLIC_ACTOR
from takedown.services.reports.links import status_digest
from takedown.services.reports.notices import Promise, next_step, promises
from takedown.services.text import clean_text
from takedown.store.types import utcnow
from takedown.store.uow import UnitOfWork


@dataclass(frozen=True)
class Update:
    """One entry of the status page's thread: a decision, or a message."""

    author: str  # reporter | staff | system
    kind: str  # decision | reply | appeal
    body: str
    at: datetime


@dataclass(frozen=True)
class StatusView:
    report: Report
    case: Case
    decisions: list[Decision]  # every reporter of the case sees them, oldest first
    messages: list[CaseMessage]  # this reporter's thread
    next_step: str
    can_appeal: bool
    missing_for_valid: list[str] = field(default_factory=list)
    promises: list[Promise] = field(default_factory=list)  # its deadlines, kept or not

    @property
    def updates(self) -> list[Update]:
        """The decisions and this reporter's thread, in the order they happened."""
        entries = [
            Update("system" if d.automated else "staff", "decision", d.statement, d.decided_at)
            for d in self.decisions
        ] + [Update(m.author, m.kind, m.body, m.at) for m in self.messages]
        return sorted(entries, key=lambda u: u.at)


def _report_for_token(uow: UnitOfWork, token: str) -> Report:
    if not token or len(token) > 64:
        raise NotFound("no report has this status link")
    report = uow.reports.by_status_digest(status_digest(token))
    if report is None:
        raise NotFound("no report has this status link")
    return report


def status(*, uow: UnitOfWork, token: str, now: datetime | None = None) -> StatusView:
    """What a reporter sees at their status link. Raises ``NotFound`` for an unknown token."""
    now = now or utcnow()
    with uow:
        report = _report_for_token(uow, token)
        found = uow.cases.get(report.case_id)
        assert found is not None
        case = uow.cases.with_review(found)
        decisions = uow.decisions.for_case(case.id)
        messages = uow.case_messages.for_report(case.id, report.id)
        removals = [
            a
            for a in uow.actions.for_case(case.id)
            if a.type == "remove" and a.state == "delivered"
        ]
    removed_at = next((a.delivered_at for a in removals if a.content_id == report.content_id), None)
    if removed_at is None and is_unresolved(report.content_id) and removals:
        # A report by a link the platform could not place, on a case that removed content
        # (a reviewer merged it there): the case's first removal is what it asked for.
        removed_at = min((a.delivered_at for a in removals if a.delivered_at), default=None)
    missing: list[str] = []
    if report.category is Category.ncii and report.valid_request is False:
        missing = [
            NCII_REQUIREMENTS[m]
            for m in missing_for_valid_ncii(
                reporter_role=report.reporter_role,
                signature=report.signature,
                good_faith_statement=report.good_faith_statement,
                contact_email=report.contact_email,
            )
        ]
    return StatusView(
        report=report,
        case=case,
        decisions=decisions,
        messages=messages,
        next_step=next_step(
            status=case.status,
            respond_by=case.respond_by,
            remove_by=case.remove_by,
            waiting_for_valid_request=bool(missing),
            removed_at=removed_at,
            copies_removed=len(removals),
        ),
        can_appeal=case.status in (CaseStatus.confirmed, CaseStatus.closed),
        missing_for_valid=missing,
        promises=promises(
            status=case.status,
            respond_by=case.respond_by,
            remove_by=case.remove_by,
            looked_at=min(
                (t for t in (case.first_look_at, *(d.decided_at for d in decisions)) if t),
                default=None,
            ),
            removed_at=removed_at,
            now=now,
        ),
    )


def reply(
    uow: UnitOfWork,
    *,
    token: str,
    body: str,
    appeal: bool = False,
    attempt: ratelimits.Attempt | None = None,
    now: datetime | None = None,
    policy: ReviewPolicy | None = None,
) -> CaseMessage:
    """A reporter's reply (or appeal of a decision) from their status page; a work function
    (no commit). An appeal reopens the decided case as ``appealed``, for someone other than
    its decider (``cases.review``), within ``policy.appeal_within``. ``attempt``: counted
    against its rate limit once the reply is stored. Raises ``NotFound``, ``InvalidInput`` or
    ``Conflict`` (an appeal before any decision, or too late)."""
    text = clean_text(body, "message", MAX_MESSAGE)
    if not text:
        raise InvalidInput("write a message", field="message")
    report = _report_for_token(uow, token)
    now = now or utcnow()
    if appeal:
        case = uow.cases.get(report.case_id)
        assert case is not None
        if case.status not in (CaseStatus.confirmed, CaseStatus.closed):
            if case.status is CaseStatus.appealed:
                raise Conflict("this decision is already under appeal; send a reply instead")
            raise Conflict("there is no decision to appeal yet; send a reply instead")
        appeal_case(
            uow,
            case,
            appellant="reporter",
            actor=PUBLIC_ACTOR,
            now=now,
            policy=policy or ReviewPolicy(),
        )
    kind = "appeal" if appeal else "reply"
    message_id = uow.case_messages.add(
        case_id=report.case_id, report_id=report.id, author="reporter", kind=kind, body=text, at=now
    )
    audit.record(
        uow,
        actor=PUBLIC_ACTOR,
        action=f"report.{kind}",
        target_type="report",
        target_id=report.id,
        details={"case_id": report.case_id, "message_id": message_id},
        at=now,
    )
    if attempt is not None:
        attempt.count(uow)
    return CaseMessage(
        id=message_id,
        case_id=report.case_id,
        report_id=report.id,
        author="reporter",
        kind=kind,
        body=text,
        at=now,
    )
