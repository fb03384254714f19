"""Review: the queue, the case page, claims, decisions, holds, appeals and quality samples.

Every function checks who is acting before it reads anything: the permission
(``cases:read`` to look, ``cases:review`` to act, ``cases:lead`` for a lead's powers), then
the review rules of ``cases.review`` on the case itself, whatever adapter called (the console
or the JSON API). A case about a minor that the actor may not see is answered as if it
did not exist (``NotFound``), on every read, list, claim, decision and message, so its number
tells nothing either. A refusal by a review rule is a ``Conflict`` naming the rule
(``ReviewConflict.rule``). Every claim, release, decision, hold, message and appeal is in the
audit log.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from datetime import datetime

from takedown.authorities import Filing
from takedown.cases import (
    Case,
    CaseStatus,
    Category,
    Decision,
    Outcome,
    Priority,
    Reviewer,
    ReviewPolicy,
    ReviewRefused,
    case_number,
)
from takedown.cases.records import (
    CaseItem,
    CaseLink,
    CaseMessage,
    CaseSearch,
    QaSample,
    QueueEntry,
    QueueFilter,
    Report,
    readable_state,
)
from takedown.cases.review import AppealDecided
from takedown.identity import Permission, Principal, Role, require
from takedown.matching import ExposureReading
from takedown.services import audit, decisions
from takedown.services.case_changes import ReviewConflict, appeal_case, save_change
from takedown.services.enforcement import EnforcementContext
from takedown.services.errors import Conflict, InvalidInput, NotFound
from takedown.services.reports.intake import MAX_MESSAGE
from takedown.services.text import clean_text
from takedown.store.review_repos import Cursor
from takedown.store.uow import UnitOfWork

PAGE_SIZE = 50
MAX_REASON = 2_000
MAX_STATEMENT = 10_000
# Roles that read reporters' contact details (to answer them, or to file with NCMEC).
CONTACT_ROLES = frozenset({Role.child_safety_lead, Role.compliance})


@dataclass(frozen=True)
class ReviewSettings:
    policy: ReviewPolicy = field(default_factory=ReviewPolicy)
    sample_share: float = 0.05  # of single-reviewer decisions, drawn for a second look
    email: bool = False  # tell reporters who gave an address
    # Confirmed violations become actions in the decision's transaction (None: none).
    enforcement: EnforcementContext | None = None


@dataclass(frozen=True)
class QueuePage:
    entries: list[QueueEntry]
    next: str | None  # the cursor of the next page
    counts: dict[str, int]


@dataclass(frozen=True)
class DecisionIn:
    outcome: Outcome
    reason: str
    category: Category | None = None
    statement: str | None = None
    escalate_to: str | None = None  # lead | law_enforcement
    classification: str | None = None  # a CSAM violation's: A1, A2, B1 or B2


@dataclass(frozen=True)
class CaseView:
    case: Case
    reports: list[Report]  # contact details only for roles that need them
    items: list[CaseItem]
    exposure: dict[str, ExposureReading]
    reposts: dict[str, list[str]]
    decisions: list[Decision]
    messages: list[CaseMessage]
    history: list[HistoryEntry]  # oldest first
    claimed_by_me: bool
    may_decide: bool
    previous_case: int | None
    media_kinds: dict[str, str | None]  # by content id: image, video, or None (not scanned)
    now: datetime
    ncmec: Filing | None = None  # the case's CyberTipline report, once drafted
    links: list[CaseLink] = field(default_factory=list)  # those the actor may see

    @property
    def held(self) -> bool:
        """Someone holds an unexpired claim on the case."""
        claim = self.case.claim_by
        return claim is not None and claim.until > self.now

    @property
    def state(self) -> str:
        """The state clients read (``in_review`` while someone holds an open case)."""
        return readable_state(self.case.status, claimed=self.held)


def reviewer_for(actor: Principal, permission: Permission = Permission.cases_review) -> Reviewer:
    require(actor, permission)
    return Reviewer.of(actor)


def load_visible(uow: UnitOfWork, case_id: int, reviewer: Reviewer) -> Case:
    case = uow.cases.get(case_id)
    if case is None or not case.may_see(reviewer):
        raise NotFound(f"no case {case_number(case_id)}")
    return uow.cases.with_review(case)


def visible_links(uow: UnitOfWork, case_id: int, reviewer: Reviewer) -> list[CaseLink]:
    """The cases linked to ``case_id``, less those about a minor the reviewer may not see."""
    found = uow.case_links.for_case(case_id)
    if reviewer.child_safety or not found:
        return found
    hidden = uow.cases.minor_safety_among({link.case_id for link in found})
    return [link for link in found if link.case_id not in hidden]


# Reading.


def encode_cursor(entry: QueueEntry) -> str:
    return f"{entry.respond_by.isoformat()}|{entry.priority}|{entry.case_id}"


def decode_cursor(cursor: str | None) -> Cursor | None:
    if not cursor:
        return None
    try:
        due, priority, case_id = cursor.split("|")
        parsed = datetime.fromisoformat(due)
        if parsed.tzinfo is None or priority not in {p.value for p in Priority}:
            raise ValueError(cursor)
        return parsed, priority, int(case_id)
    except ValueError:
        raise InvalidInput("not a cursor this queue gave", field="after") from None


def queue(
    *,
    uow: UnitOfWork,
    actor: Principal,
    filters: QueueFilter,
    now: datetime,
    after: str | None = None,
    limit: int = PAGE_SIZE,
    with_counts: bool = True,
) -> QueuePage:
    """A page of the cases waiting for a person, deadline first, then priority; cases about
    minors only for those with the child-safety permission. ``with_counts`` False leaves the
    counts out (empty), for a caller that only wants the next case."""
    reviewer = reviewer_for(actor, Permission.cases_read)
    cursor = decode_cursor(after)
    limit = max(1, min(limit, 200))
    with uow:
        entries = uow.review.queue(
            minor_safety=reviewer.child_safety,
            filters=filters,
            now=now,
            after=cursor,
            limit=limit + 1,
        )
        counts = (
            uow.review.counts(minor_safety=reviewer.child_safety, now=now) if with_counts else {}
        )
    more = len(entries) > limit
    entries = entries[:limit]
    return QueuePage(
        entries=entries,
        next=encode_cursor(entries[-1]) if more and entries else None,
        counts=counts,
    )


@dataclass(frozen=True)
class Day:
    """A person's work today, for the console's first page: the cases they hold, what the
    queue gives next, its counts and, for a lead, the team's decisions since midnight (UTC)."""

    mine: list[QueueEntry]
    next: list[QueueEntry]
    counts: dict[str, int]
    decided_today: list[tuple[str, int]]


def my_day(*, uow: UnitOfWork, actor: Principal, now: datetime, limit: int = 5) -> Day:
    reviewer = reviewer_for(actor, Permission.cases_read)
    seen = reviewer.child_safety
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with uow:
        mine = (
            uow.review.claimed_by(actor.subject_id, minor_safety=seen, now=now, limit=50)
            if actor.subject_id is not None
            else []
        )
        queued = uow.review.queue(
            minor_safety=seen, filters=QueueFilter(), now=now, after=None, limit=limit
        )
        counts = uow.review.counts(minor_safety=seen, now=now)
        decided = (
            uow.review.decided_since(midnight, minor_safety=seen)
            if actor.can(Permission.cases_lead)
            else []
        )
    return Day(mine=mine, next=queued, counts=counts, decided_today=decided)


MAX_SEARCH = 2048  # characters of a search's text (a content URL may be long)


@dataclass(frozen=True)
class SearchPage:
    entries: list[QueueEntry]
    next: str | None  # the cursor of the next page


def search(
    *,
    uow: UnitOfWork,
    actor: Principal,
    query: CaseSearch,
    now: datetime,
    after: str | None = None,
    limit: int = PAGE_SIZE,
) -> SearchPage:
    """A page of every case, open or closed, that ``query`` finds, newest first. Cases about
    minors only for those with the child-safety permission, as everywhere else: a search by
    their content, account or hash finds nothing for anyone else."""
    reviewer = reviewer_for(actor, Permission.cases_read)
    text = (query.text or "").strip()
    if len(text) > MAX_SEARCH:
        raise InvalidInput(f"a search is at most {MAX_SEARCH} characters", field="q")
    before_id = None
    if after:
        if not after.isdigit():
            raise InvalidInput("not a cursor this search gave", field="after")
        before_id = int(after)
    limit = max(1, min(limit, 200))
    with uow:
        entries = uow.review.search(
            replace(query, text=text or None),
            minor_safety=reviewer.child_safety,
            now=now,
            before_id=before_id,
            limit=limit + 1,
        )
    more = len(entries) > limit
    entries = entries[:limit]
    return SearchPage(entries=entries, next=str(entries[-1].case_id) if more else None)


def listed(
    *, uow: UnitOfWork, actor: Principal, status: CaseStatus, limit: int = PAGE_SIZE
) -> list[QueueEntry]:
    """A lead's list: the cases on hold, waiting for a second opinion, or appealed."""
    reviewer = reviewer_for(actor, Permission.cases_read)
    with uow:
        return uow.review.listed(status, minor_safety=reviewer.child_safety, limit=limit)


@dataclass(frozen=True)
class HistoryEntry:
    """A line of a case's timeline."""

    at: datetime
    kind: str  # ``report``, ``actions``, or the audit log's action (``case.claimed``, …)
    by: str
    summary: str


HISTORY_LIMIT = 500  # the case's newest audit entries the timeline shows
# Details the timeline repeats: what was decided and where it went, never a free text (a
# reason may name a person) nor anything sealed.
_SHOWN_DETAILS = ("outcome", "category", "to", "case", "state", "policy", "items")


def case_history(*, uow: UnitOfWork, actor: Principal, case_id: int) -> list[HistoryEntry]:
    """A case's whole history as one timeline, oldest first: its reports, everything done to
    it (the audit log's claims, decisions, holds, appeals, messages, reveals, evidence and
    filing), and its actions on the platform, planned and delivered. ``NotFound`` for a case
    the actor may not see, as everywhere."""
    reviewer = reviewer_for(actor, Permission.cases_read)
    with uow:
        load_visible(uow, case_id, reviewer)
        return _history(uow, case_id, uow.reports.for_case(case_id))


def _history(uow: UnitOfWork, case_id: int, reports: list[Report]) -> list[HistoryEntry]:
    entries: list[HistoryEntry] = []

    def add(at: datetime, kind: str, by: str, summary: str) -> None:
        entries.append(HistoryEntry(at, kind, by, summary))

    for r in reports:
        role, source = r.reporter_role.replace("_", " "), r.source.replace("_", " ")
        add(r.received_at, "report", f"a {role}", f"{r.category} report received ({source})")
    for e in uow.audit.list(target_type="case", target_id=str(case_id), limit=HISTORY_LIMIT):
        shown = [f"{k}: {e.details[k]}" for k in _SHOWN_DETAILS if e.details.get(k) is not None]
        summary = e.action.split(".", 1)[-1].replace("_", " ")
        add(e.at, e.action, e.actor_name, summary + (f" ({', '.join(shown)})" if shown else ""))
    planned: dict[str, list[datetime]] = {}
    delivered: dict[str, list[datetime]] = {}
    failed: dict[str, int] = {}
    for action in uow.actions.for_case(case_id):
        planned.setdefault(action.type, []).append(action.created_at)
        if action.delivered_at is not None:
            delivered.setdefault(action.type, []).append(action.delivered_at)
        elif action.state == "failed":
            failed[action.type] = failed.get(action.type, 0) + 1
    for kind, times in planned.items():
        name = kind.replace("_", " ")
        add(min(times), "actions", "takedown", f"{len(times)} × {name} planned")
        if kind in delivered:
            done = delivered[kind]
            add(max(done), "actions", "the platform", f"{len(done)} × {name} delivered")
        if failed.get(kind):
            add(max(times), "actions", "takedown", f"{failed[kind]} × {name} failed")
    return sorted(entries, key=lambda h: h.at)


def case_view(*, uow: UnitOfWork, actor: Principal, case_id: int, now: datetime) -> CaseView:
    """Everything the case page shows. Raises ``NotFound`` for a case the actor may not see."""
    reviewer = reviewer_for(actor, Permission.cases_read)
    with uow:
        case = load_visible(uow, case_id, reviewer)
        reports = uow.reports.for_case(case_id)
        items = uow.cases.items(case_id)
        exposure = {}
        reposts = {}
        kinds: dict[str, str | None] = {}
        for item in items:
            registered = uow.content.get(item.content_id)
            kinds[item.content_id] = registered.media_kind if registered else None
            reading = uow.content_stats.latest(item.content_id)
            if reading is not None:
                exposure[item.content_id] = reading
            children = uow.content.reposts_of(item.content_id, limit=20)
            if children:
                reposts[item.content_id] = children
        decisions = uow.decisions.for_case(case_id)
        messages = uow.case_messages.for_case(case_id)
        history = _history(uow, case_id, reports)
        ncmec = uow.filings.get(case_id)
        linked = visible_links(uow, case_id, reviewer)
    if actor.role not in CONTACT_ROLES:
        reports = [_without_contact(r) for r in reports]
    claim = case.claim_by
    mine = claim is not None and claim.user_id == reviewer.user_id and claim.until > now
    return CaseView(
        case=case,
        reports=reports,
        items=items,
        exposure=exposure,
        reposts=reposts,
        decisions=decisions,
        messages=messages,
        history=history,
        claimed_by_me=mine,
        may_decide=mine and actor.can(Permission.cases_review),
        previous_case=case.facts.previous_case,
        media_kinds=kinds,
        now=now,
        ncmec=ncmec,
        links=linked,
    )


def _without_contact(report: Report) -> Report:
    return replace(report, contact_name=None, contact_email=None, signature=None)


# Acting.


def claim(
    *,
    uow: UnitOfWork,
    actor: Principal,
    case_id: int,
    now: datetime,
    settings: ReviewSettings,
) -> Case:
    """Claim a case (or renew one's claim) for ``settings.policy.claim_for``."""
    reviewer = reviewer_for(actor)
    with uow:
        case = load_visible(uow, case_id, reviewer)
        renewing = case.claim_by is not None and case.claim_by.user_id == reviewer.user_id
        try:
            change = case.claim(reviewer, now=now, policy=settings.policy)
        except ReviewRefused as refused:
            raise ReviewConflict(refused) from None
        after = save_change(
            uow,
            case,
            change,
            actor=actor,
            action="case.claim_renewed" if renewing else "case.claimed",
            details={"until": change.case.claim_by.until.isoformat()}
            if change.case.claim_by
            else {},
            now=now,
        )
        uow.commit()
    return after


def release(*, uow: UnitOfWork, actor: Principal, case_id: int, now: datetime) -> Case:
    reviewer = reviewer_for(actor)
    with uow:
        case = load_visible(uow, case_id, reviewer)
        try:
            change = case.release(reviewer)
        except ReviewRefused as refused:
            raise ReviewConflict(refused) from None
        if change.case is case:
            return case
        held = case.claim_by
        after = save_change(
            uow,
            case,
            change,
            actor=actor,
            action="case.released",
            details={"holder": held.name if held else None},
            now=now,
        )
        uow.commit()
    return after


def assign(
    *,
    uow: UnitOfWork,
    actor: Principal,
    case_id: int,
    to_user: str,
    now: datetime,
    settings: ReviewSettings,
) -> Case:
    """A lead gives a case to a reviewer (who must be allowed to see and claim it)."""
    lead = reviewer_for(actor, Permission.cases_lead)
    with uow:
        case = load_visible(uow, case_id, lead)
        user = uow.users.get_by_name(to_user)
        if user is None or not user.active:
            raise NotFound(f"no active user named {to_user!r}")
        target = Principal(
            kind=actor.kind,
            subject_id=user.id,
            name=user.name,
            role=user.role,
            child_safety_grant=user.child_safety,
        )
        if not target.can(Permission.cases_review):
            raise InvalidInput(f"{user.name} does not review cases", field="to")
        try:
            change = case.assign(lead, Reviewer.of(target), now=now, policy=settings.policy)
        except ReviewRefused as refused:
            raise ReviewConflict(refused) from None
        after = save_change(
            uow,
            case,
            change,
            actor=actor,
            action="case.assigned",
            details={"to": user.name},
            now=now,
        )
        uow.commit()
    return after


def hold(*, uow: UnitOfWork, actor: Principal, case_id: int, reason: str, now: datetime) -> Case:
    lead = reviewer_for(actor, Permission.cases_lead)
    text = clean_text(reason, "reason", MAX_REASON)
    if not text:
        raise InvalidInput("say why the case is on hold", field="reason")
    with uow:
        case = load_visible(uow, case_id, lead)
        try:
            change = case.hold(lead, reason=text, now=now)
        except ReviewRefused as refused:
            raise ReviewConflict(refused) from None
        after = save_change(
            uow, case, change, actor=actor, action="case.held", details={"reason": text}, now=now
        )
        uow.commit()
    return after


def resume(*, uow: UnitOfWork, actor: Principal, case_id: int, now: datetime) -> Case:
    lead = reviewer_for(actor, Permission.cases_lead)
    with uow:
        case = load_visible(uow, case_id, lead)
        try:
            change = case.resume(lead, now=now)
        except ReviewRefused as refused:
            raise ReviewConflict(refused) from None
        after = save_change(
            uow, case, change, actor=actor, action="case.resumed", details={}, now=now
        )
        uow.commit()
    return after


def decide(
    *,
    uow: UnitOfWork,
    actor: Principal,
    case_id: int,
    decision_in: DecisionIn,
    now: datetime,
    settings: ReviewSettings,
    rng: random.Random | None = None,
) -> Case:
    """A reviewer's decision under their claim (``cases.review``): a violation confirms, a
    no-violation closes, a minor-safety no-violation or downgrade waits for a senior,
    escalations and questions keep the case open. Reporters read the statement of reasons on
    their status page (and by e-mail). Raises ``NotFound``, ``InvalidInput`` or
    ``ReviewConflict``."""
    reviewer = reviewer_for(actor)
    reason = clean_text(decision_in.reason, "reason", MAX_REASON)
    if not reason:
        raise InvalidInput("give the reason for the decision", field="reason")
    statement = clean_text(decision_in.statement or "", "statement_of_reasons", MAX_STATEMENT)
    outcome = decision_in.outcome
    if outcome is Outcome.escalate and decision_in.escalate_to not in (
        None,
        "lead",
        "law_enforcement",
    ):
        raise InvalidInput("escalate to lead or law_enforcement", field="escalate_to")
    with uow:
        case = load_visible(uow, case_id, reviewer)
        category = decision_in.category or case.category
        if outcome is Outcome.violation and decision_in.category is None:
            raise InvalidInput("a violation names its category", field="category")
        classification = decision_in.classification or None
        if classification is not None and (
            outcome is not Outcome.violation or category is not Category.csam
        ):
            raise InvalidInput(
                "an industry classification is given only with a CSAM violation",
                field="classification",
            )
        if classification not in (None, "A1", "A2", "B1", "B2"):
            raise InvalidInput("classify as A1, A2, B1 or B2", field="classification")
        decision = Decision(
            outcome=outcome,
            category=category,
            reason=reason,
            statement=statement or default_statement(outcome, category, reason),
            decided_by=reviewer.name,
            decided_at=now,
            automated=False,
            escalate_to=decision_in.escalate_to if outcome is Outcome.escalate else None,
            classification=classification,
        )
        items = uow.cases.items(case_id)
        try:
            change = case.decide(
                decision, reviewer, content_ids=[i.content_id for i in items], now=now
            )
        except ReviewRefused as refused:
            raise ReviewConflict(refused) from None
        after = change.case
        details: dict[str, object] = {
            "outcome": str(outcome),
            "category": str(category),
            "reason": reason,
            "status": str(after.status),
        }
        if decision.escalate_to:
            details["escalate_to"] = decision.escalate_to
        if decision.classification:
            details["classification"] = decision.classification
        action = "case.decided"
        if after.status is CaseStatus.pending_second_review:
            action = "case.proposed"
        elif outcome in (Outcome.escalate, Outcome.need_more_info):
            action = f"case.{outcome}"
        save_change(uow, case, change, actor=actor, action=action, details=details, now=now)
        made = change.decision
        appeal_outcome = next(
            (e.outcome for e in change.events if isinstance(e, AppealDecided)), None
        )
        if made is not None and appeal_outcome is not None:
            made = replace(made, statement=f"{_ON_APPEAL[appeal_outcome]} {made.statement}")
        final = made is not None and after.status in (CaseStatus.confirmed, CaseStatus.closed)
        if made is not None:
            uow.decisions.add(after.id, made)
        if outcome is Outcome.need_more_info:
            uow.case_messages.add(
                case_id=after.id,
                report_id=None,
                author="staff",
                kind="question",
                body=decision.statement,
                at=now,
            )
        if final and made is not None:
            reactions = decisions.DecisionContext(
                enforcement=settings.enforcement, email=settings.email
            )
            decisions.react(
                uow,
                case_id=after.id,
                status=after.status,
                decision=made,
                content_ids=[i.content_id for i in items],
                ctx=reactions,
                now=now,
                facts=after.facts,
            )
            single = after.second_by is None and case.status is not CaseStatus.appealed
            draw = (rng or random).random()
            if single and draw < settings.sample_share:
                uow.review.add_sample(
                    case_id=after.id,
                    decided_by=reviewer.name,
                    category=str(category),
                    outcome=str(outcome),
                    at=now,
                )
        uow.commit()
    return after


_ON_APPEAL = {
    "upheld": "On appeal, someone who had not decided it reviewed the case again and upheld "
    "the decision.",
    "overturned": "On appeal, someone who had not decided it reviewed the case again and "
    "overturned the decision.",
}

STATEMENTS = {
    Outcome.violation: "We reviewed the reported content and found that it breaks {rule}: "
    "{reason}. It will be removed, with every copy we can find, and we act on the account "
    "that shared it.",
    Outcome.no_violation: "We reviewed the reported content and did not find that it breaks "
    "the law or our rules: {reason}. If you think we are wrong, you can appeal this decision "
    "from your status page.",
    Outcome.escalate: "Your report has been passed to a senior member of our safety team, who "
    "will look at it; the time given for an answer still holds.",
    Outcome.need_more_info: "We need more information to decide: {reason}. Please answer from "
    "your status page.",
}
_RULES = {
    Category.csam: "the law against child sexual abuse material",
    Category.ncii: "the law and our rules against sharing intimate images without consent",
    Category.other_illegal: "the law",
    Category.policy: "our rules",
}


def default_statement(outcome: Outcome, category: Category, reason: str) -> str:
    """The statement of reasons a reviewer starts from (they may edit it before sending):
    what the reporters read on their status page and in the e-mail."""
    return STATEMENTS[outcome].format(rule=_RULES[category], reason=reason.rstrip("."))


def message_reporters(
    *, uow: UnitOfWork, actor: Principal, case_id: int, body: str, now: datetime
) -> CaseMessage:
    """A message from staff to every reporter of the case (shown on their status pages)."""
    reviewer = reviewer_for(actor)
    text = clean_text(body, "message", MAX_MESSAGE)
    if not text:
        raise InvalidInput("write a message", field="message")
    with uow:
        load_visible(uow, case_id, reviewer)
        message_id = uow.case_messages.add(
            case_id=case_id, report_id=None, author="staff", kind="reply", body=text, at=now
        )
        audit.record(
            uow,
            actor=actor,
            action="case.message",
            target_type="case",
            target_id=case_id,
            details={"message_id": message_id},
            at=now,
        )
        uow.commit()
    return CaseMessage(message_id, case_id, None, "staff", "reply", text, now)


# Appeals.


def platform_appeal(
    *,
    uow: UnitOfWork,
    actor: Principal,
    content_id: str,
    appellant: str,
    text: str,
    now: datetime,
    policy: ReviewPolicy,
) -> Case:
    """An appeal the platform posts for an uploader (or a reporter): the latest decided case
    about ``content_id`` reopens as ``appealed``."""
    require(actor, Permission.appeals_submit)
    if appellant not in ("uploader", "reporter"):
        raise InvalidInput("appellant is uploader or reporter", field="appellant")
    body = clean_text(text, "text", MAX_MESSAGE)
    if not body:
        raise InvalidInput("say why the decision is wrong", field="text")
    with uow:
        case_id = uow.cases.latest_decided_case_for(content_id)
        if case_id is None:
            raise NotFound(f"no decided case about {content_id!r}")
        case = uow.cases.get(case_id)
        assert case is not None
        after = appeal_case(uow, case, appellant=appellant, actor=actor, now=now, policy=policy)
        uow.case_messages.add(
            case_id=case_id, report_id=None, author=appellant, kind="appeal", body=body, at=now
        )
        uow.commit()
    return after


# Quality samples.


def open_samples(*, uow: UnitOfWork, actor: Principal) -> list[QaSample]:
    reviewer = reviewer_for(actor)
    with uow:
        samples = uow.review.open_samples()
        visible = []
        for sample in samples:
            case = uow.cases.get(sample.case_id)
            if case is not None and case.may_see(reviewer) and sample.decided_by != reviewer.name:
                visible.append(sample)
        return visible


def record_sample(
    *,
    uow: UnitOfWork,
    actor: Principal,
    sample_id: int,
    agrees: bool,
    note: str,
    now: datetime,
) -> None:
    """A second reviewer's verdict on a sampled decision (the decision stands either way;
    a disagreement is for a lead to take up)."""
    reviewer = reviewer_for(actor)
    with uow:
        sample = uow.review.sample(sample_id)
        if sample is None:
            raise NotFound(f"no sample {sample_id}")
        load_visible(uow, sample.case_id, reviewer)
        if sample.decided_by == reviewer.name:
            raise ReviewConflict(_OwnSample("nobody gives the second look at their own decision"))
        if sample.reviewed_at is not None:
            raise Conflict("this sample was looked at already")
        uow.review.record_sample(
            sample_id, reviewer=reviewer.name, agrees=agrees, note=note[:MAX_REASON], at=now
        )
        audit.record(
            uow,
            actor=actor,
            action="case.sample_reviewed",
            target_type="case",
            target_id=sample.case_id,
            details={"sample_id": sample_id, "agrees": agrees},
            at=now,
        )
        uow.commit()


class _OwnSample(ReviewRefused):
    rule = "own_sample"


@dataclass(frozen=True)
class LeadOverview:
    counts: dict[str, int]
    escalated: list[QueueEntry]
    pending: list[QueueEntry]
    appealed: list[QueueEntry]
    held: list[QueueEntry]
    claims: dict[str, int]  # reviewer → cases they hold now
    reveals_today: dict[str, int]
    agreement: list[tuple[str, str, int, int]]
    offenders: list[tuple[str, int, int]]  # (account, cases acted on, of them suspensions)
    # The live backlog: priority → (waiting, overdue, when the oldest waiting opened).
    backlog: dict[str, tuple[int, int, datetime]] = field(default_factory=dict)
    overdue: list[QueueEntry] = field(default_factory=list)  # with who holds each


def lead_overview(*, uow: UnitOfWork, actor: Principal, now: datetime) -> LeadOverview:
    """The lead's page: escalations, pending second reviews, holds, appeals, reviewers' load
    and exposure, and agreement in quality samples."""
    lead = reviewer_for(actor, Permission.cases_lead)
    seen = lead.child_safety
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    with uow:
        counts = uow.review.counts(minor_safety=seen, now=now)
        escalated = uow.review.queue(
            minor_safety=seen,
            filters=QueueFilter(escalated=True),
            now=now,
            after=None,
            limit=PAGE_SIZE,
        )
        pending = uow.review.listed(
            CaseStatus.pending_second_review, minor_safety=seen, limit=PAGE_SIZE
        )
        appealed = uow.review.listed(CaseStatus.appealed, minor_safety=seen, limit=PAGE_SIZE)
        held = uow.review.listed(CaseStatus.on_hold, minor_safety=seen, limit=PAGE_SIZE)
        users = {u.id: u.name for u in uow.users.list()}
        reveals = {
            users.get(user_id, str(user_id)): n
            for user_id, n in uow.review.reveals_by_user_since(day).items()
        }
        claims = uow.cases.claims_held(now)
        agreement = uow.review.agreement()
        offenders = uow.registry.repeat_offenders(minimum=1, limit=PAGE_SIZE)
        backlog = uow.review.backlog(minor_safety=seen, now=now)
        overdue = uow.review.queue(
            minor_safety=seen,
            filters=QueueFilter(overdue=True),
            now=now,
            after=None,
            limit=PAGE_SIZE,
        )
    return LeadOverview(
        counts=counts,
        escalated=escalated,
        pending=pending,
        appealed=appealed,
        held=held,
        claims=claims,
        reveals_today=reveals,
        agreement=agreement,
        offenders=offenders,
        backlog=backlog,
        overdue=overdue,
    )
