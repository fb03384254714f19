"""What a final decision does in its own transaction, whoever made it: a reviewer
(``services.review.decide``) or a bank match at intake (``services.reports.intake``). These
are the in-transaction reactions ``flows.reactions`` names for ``CaseConfirmed``,
``CaseClosed`` and ``ViolationOverturned``; what follows after commit is the worker's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from takedown.cases import CaseFacts, CaseStatus, Decision
from takedown.services import enforcement, filing
from takedown.services.enforcement import EnforcementContext
from takedown.services.reports import notices
from takedown.store.uow import UnitOfWork


@dataclass(frozen=True)
class DecisionContext:
    """``enforcement``: a violation becomes actions on the platform (None: none, as in a
    process that only records). ``email``: reporters who gave an address are told."""

    enforcement: EnforcementContext | None
    email: bool


def react(
    uow: UnitOfWork,
    *,
    case_id: int,
    status: CaseStatus,
    decision: Decision,
    content_ids: list[str],
    ctx: DecisionContext,
    now: datetime,
    facts: CaseFacts,
) -> None:
    """A final decision's reactions, in ``uow``'s transaction (no commit): a confirmed
    violation's actions written, its media banked and a CSAM case's report drafted
    (``enforcement.enforce``); a violation overturned undone and its unsent report withdrawn;
    a closed case's items closed; the case's reporters' e-mails queued."""
    if ctx.enforcement is not None:
        if status is CaseStatus.confirmed:
            enforcement.enforce(
                uow,
                case_id=case_id,
                decision=decision,
                content_ids=content_ids,
                ctx=ctx.enforcement,
                facts=facts,
            )
        else:  # closed: undo an overturned violation, or an interim restriction
            enforcement.undo(uow, case_id=case_id, decision=decision)
            filing.withdraw(uow, case_id=case_id, now=now)
    if status is CaseStatus.closed:
        uow.review.close_items(case_id)
    if ctx.email:
        addresses = uow.reports.contact_emails(case_id)
        merged = uow.case_links.merged_into(case_id) if addresses else []
        for address in addresses:
            uow.publish(
                notices.decision_notice(
                    case_id=case_id, to=address, decision=decision, merged=merged
                )
            )
