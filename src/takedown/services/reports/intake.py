"""Report intake: every report answered at once, merged into one case, and put on a clock.

A report is handled in two steps, so the part that must be serial is small:

1. ``prepare`` (any thread, no database): checks every field and the reporter role the
   caller may claim, and raises ``InvalidInput`` or ``RoleNotAllowed`` naming the field.
2. ``store`` (a work function: ``StoreReport`` for the group-commit writer, or any unit of
   work): looks up the item and the open case the report joins (same content, same family
   of reposts, or an exact or PDQ copy), lets the case receive it (``cases.Case``: merge,
   triage, clocks, the automatic confirmation of a ``block_and_report`` match), and writes
   the report, what changed in the case, an audit entry and the events, all in the caller's
   transaction.

``file_report`` is the steps for every adapter (the API, the public form): a report by link
alone resolved by the platform where it can be, ``prepare``, then ``StoreReport`` in the
process's writer, answered only once its group has committed. ``submit`` does both steps in
one transaction (the CLI, tests).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol, TypeVar, cast

from takedown.cases import (
    Case,
    CaseStatus,
    Category,
    Change,
    IncomingReport,
    Priority,
    ReporterRole,
    ReportFacts,
    ReportReceived,
    ReportSource,
    RoleNotAllowed,
    TriagePolicy,
    allowed_roles,
    missing_for_valid_ncii,
)
from takedown.cases.enforcement import EvidenceWanted
from takedown.clock import SYSTEM_CLOCK, Clock
from takedown.identity import Permission, Principal, PrincipalKind, require
from takedown.matching import BankIndexes, ContentItem, Match, SignalType, confirming
from takedown.services import audit, decisions, ratelimits
from takedown.services.case_media import CaseMediaIndex
from takedown.services.enforcement import EnforcementContext
from takedown.services.errors import InvalidInput
from takedown.services.platform_links import UNRESOLVED_PREFIX, LinkResolver
from takedown.services.reports.exposure import ExposurePolicy, exposure_fast
from takedown.services.reports.links import (
    status_digest,
    status_token,
    status_url,
    unstamped_status_token,
)
from takedown.services.reports.notices import acknowledgment, decision_notice
from takedown.services.text import clean_text
from takedown.store.uow import UnitOfWork
from takedown.store.work import BatchedWork, Work

MAX_ID = 256
MAX_URL = 2048
MAX_NAME = 256
MAX_EMAIL = 320
MAX_DESCRIPTION = 5000
MAX_IDEMPOTENCY_KEY = 128
MAX_MESSAGE = 5000
CASE_PDQ_THRESHOLD = 31
MAX_PARENT_HOPS = 16
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
# Without an idempotency key a status link only has to be unique: the HMAC key makes it
# unguessable. A per-process random prefix and a counter are unique and cost no system call
# (the prefix is drawn once: in a generator expression it would be drawn again for each nonce).
_NONCE_PREFIX = secrets.token_hex(8)
_NONCES = (f"{_NONCE_PREFIX}:{n}" for n in itertools.count())
PUBLIC_ACTOR = Principal(kind=PrincipalKind.public, subject_id=None, name="public report page")
MATCHER = Principal.system("matcher")  # who decides on a block_and_report bank match


# Made for every report: slotted and not frozen, for speed; still treated as a value, never
# changed (docs/developing.md, "Domain").
@dataclass(slots=True)
class ReportCreate:
    """What a reporter tells us. Either ``content_id`` or ``content_url`` is needed."""

    category: Category
    reporter_role: ReporterRole
    content_id: str | None = None
    content_url: str | None = None
    depicted_minor: bool | None = None
    police_agency: str | None = None
    police_case_number: str | None = None
    reporter_reference: str | None = None  # the reporter's own (a trusted flagger's ticket)
    contact_name: str | None = None
    contact_email: str | None = None
    signature: str | None = None
    good_faith_statement: bool = False
    description: str = ""
    idempotency_key: str | None = None


@dataclass(slots=True)
class Prepared:
    report: ReportCreate
    content_id: str
    actor: Principal
    source: ReportSource
    submitter: str
    reporter_key: str | None
    missing_for_valid: list[str] | None  # ncii only: what a valid removal request still lacks


@dataclass(slots=True)
class Receipt:
    """The answer to every report."""

    report_id: int
    case_id: int
    case_number: str
    status_token: str
    acknowledged_at: datetime
    priority: Priority
    respond_by: datetime
    remove_by: datetime | None
    case_status: CaseStatus
    duplicate: bool = False  # the same idempotency key was seen before: this is that report
    missing_for_valid: list[str] | None = None


@dataclass(slots=True)
class IntakeContext:
    """What ``store`` needs besides the unit of work."""

    indexes: BankIndexes | None  # the bank indexes, current as of the request (no I/O in store)
    policy: TriagePolicy
    status_key: bytes
    clock: Clock = SYSTEM_CLOCK  # when reports are received, unless ``now`` pins it
    now: datetime | None = None
    status_base_url: str | None = None  # where status links point, for e-mails
    exposure: ExposurePolicy | None = None  # what counts as fast-growing exposure
    email: bool = False  # queue e-mails to reporters who gave an address
    # Case items' PDQ hashes in memory (one per process); None: a new one for this context.
    case_media: CaseMediaIndex | None = None
    # An automatic confirmation becomes actions on the platform (None: none).
    enforcement: EnforcementContext | None = None
    # P0 cases have their media preserved (an evidence key and a media address are set).
    preserve_evidence: bool = False


def _content_id_for(content_id: str | None, url: str | None) -> str:
    # A link is checked even beside an id: it is kept, and shown to staff later.
    if url and not url.lower().startswith(("http://", "https://")):
        raise InvalidInput("the link must start with http:// or https://", field="content_url")
    if content_id:
        return content_id
    if not url:
        raise InvalidInput(
            "say where the content is: its link or the platform's content id", field="content_id"
        )
    # A link the platform did not resolve (``services.platform_links``) stands for itself.
    key = url if len(url) <= MAX_ID - 4 else hashlib.sha256(url.encode()).hexdigest()
    return f"{UNRESOLVED_PREFIX}{key}"


def _only_a_link(report_in: ReportCreate) -> bool:
    """Whether the report names its content by a link alone (the depicted person's usual way)."""
    return bool(report_in.content_url) and not report_in.content_id


def _resolve_link(report_in: ReportCreate, resolver: LinkResolver, *, now: float) -> ReportCreate:
    """The report about the content its link shows, where the platform's resolve call says
    (``services.platform_links``; at most its timeout); else the report as it came. A
    blocking call: from the event loop, run it on a thread."""
    if report_in.content_url is None:
        return report_in
    found = resolver.resolve(report_in.content_url, now=now)
    return report_in if found is None else replace(report_in, content_id=found.content_id)


def prepare(
    *, actor: Principal | None, report_in: ReportCreate, anonymous_reporter: str | None = None
) -> Prepared:
    """Check a report before it reaches the writer. ``actor`` None is the public page, and
    ``anonymous_reporter`` a stable pseudonym of its submitter there (``anonymous_reporter``),
    so the same person reporting twice without an e-mail address counts once.

    The public page's idempotency scope is the submission itself: all its submitters share
    one principal, so a key alone must never find a report. A repeated key answers with the
    earlier report only when everything else submitted is the same too; anything else is a
    new report. (The page also mints its keys, ``form_key``.)

    Raises ``InvalidInput`` (naming the field) or ``RoleNotAllowed``."""
    if actor is not None:
        require(actor, Permission.reports_submit)
    r = report_in
    roles = allowed_roles(actor)
    if r.reporter_role not in roles:
        raise RoleNotAllowed(r.reporter_role, roles)
    content_id = clean_text(r.content_id, "content_id", MAX_ID)
    url = clean_text(r.content_url, "content_url", MAX_URL)
    email = clean_text(r.contact_email, "contact_email", MAX_EMAIL)
    if email is not None and not _EMAIL.match(email):
        raise InvalidInput("contact_email is not an e-mail address", field="contact_email")
    agency = clean_text(r.police_agency, "police_agency", MAX_NAME)
    police_case = clean_text(r.police_case_number, "police_case_number", 128)
    if r.reporter_role is ReporterRole.law_enforcement and not (agency and police_case):
        raise InvalidInput(
            "law enforcement reports need the agency and a case number", field="law_enforcement"
        )
    if police_case and not agency:
        raise InvalidInput("give the police agency with the case number", field="police_agency")
    key = clean_text(r.idempotency_key, "idempotency_key", MAX_IDEMPOTENCY_KEY)
    clean = ReportCreate(
        category=r.category,
        reporter_role=r.reporter_role,
        content_id=content_id,
        content_url=url,
        depicted_minor=r.depicted_minor,
        police_agency=agency,
        police_case_number=police_case,
        reporter_reference=clean_text(r.reporter_reference, "reporter_reference", 128),
        contact_name=clean_text(r.contact_name, "contact_name", MAX_NAME),
        contact_email=email,
        signature=clean_text(r.signature, "signature", MAX_NAME),
        good_faith_statement=r.good_faith_statement,
        description=clean_text(r.description, "description", MAX_DESCRIPTION) or "",
        idempotency_key=key,
    )
    who = actor or PUBLIC_ACTOR
    if actor is None:
        submitter = "public:" + _fingerprint(clean)
    else:
        submitter = f"{who.kind.value}:{who.subject_id}"
    missing = None
    if clean.category is Category.ncii:
        missing = missing_for_valid_ncii(
            reporter_role=clean.reporter_role,
            signature=clean.signature,
            good_faith_statement=clean.good_faith_statement,
            contact_email=clean.contact_email,
        )
    return Prepared(
        report=clean,
        content_id=_content_id_for(content_id, url),
        actor=who,
        source=ReportSource.public_page if actor is None else ReportSource.api,
        submitter=submitter,
        reporter_key=_reporter_key(clean, actor, anonymous_reporter),
        missing_for_valid=missing,
    )


def _fingerprint(r: ReportCreate) -> str:
    """A digest of everything a public submission says but its idempotency key."""
    fields = (
        r.category.value,
        r.reporter_role.value,
        r.content_id,
        r.content_url,
        r.depicted_minor,
        r.police_agency,
        r.police_case_number,
        r.reporter_reference,
        r.contact_name,
        r.contact_email,
        r.signature,
        r.good_faith_statement,
        r.description,
    )
    return hashlib.sha256(repr(fields).encode()).hexdigest()[:40]


def _reporter_key(
    r: ReportCreate, actor: Principal | None, anonymous: str | None = None
) -> str | None:
    """Who reported, for counting distinct reporters: an e-mail address, an organisation's
    key (a trusted flagger, an agency), or the public page's pseudonym of the submitter.
    Other anonymous reports each count as a new reporter."""
    if r.contact_email:
        return "email:" + hashlib.sha256(r.contact_email.lower().encode()).hexdigest()[:40]
    if actor is None and anonymous:
        return "anon:" + anonymous
    if actor is not None and r.reporter_role in (
        ReporterRole.trusted_flagger,
        ReporterRole.law_enforcement,
    ):
        return f"{actor.kind.value}:{actor.subject_id}"
    return None


def _receipt(
    case: Case,
    *,
    report_id: int,
    received_at: datetime,
    token: str,
    missing: list[str] | None,
    duplicate: bool = False,
) -> Receipt:
    return Receipt(
        report_id=report_id,
        case_id=case.id,
        case_number=case.number,
        status_token=token,
        acknowledged_at=received_at,
        priority=case.priority,
        respond_by=case.respond_by,
        remove_by=case.remove_by,
        case_status=case.status,
        duplicate=duplicate,
        missing_for_valid=missing,
    )


def _root_of(uow: UnitOfWork, content_id: str, item: ContentItem | None) -> tuple[str, str | None]:
    """(the top of the repost chain, the item's account) from the registry's parent links."""
    account = item.account_id if item and item.account_id else None
    root, seen = content_id, {content_id}
    hops = 0
    while item is not None and item.parent_content_id and hops < MAX_PARENT_HOPS:
        parent = item.parent_content_id
        if parent in seen:
            break
        seen.add(parent)
        root = parent
        item = uow.content.get(parent)
        hops += 1
    return root, account


def _bank_matches(
    indexes: BankIndexes | None, item: ContentItem | None, hashes: dict[SignalType, str]
) -> list[Match]:
    """The item's matches that confirm a case on their own (``matching.confirming``)."""
    if indexes is None or item is None or not hashes:
        return []
    return confirming(indexes.lookup(hashes), pdq_quality=item.pdq_quality)


def _hashes(item: ContentItem | None) -> dict[SignalType, str]:
    if item is None:
        return {}
    hashes: dict[SignalType, str] = {}
    if item.pdq:
        hashes[SignalType.pdq] = item.pdq
    if item.md5:
        hashes[SignalType.md5] = item.md5
    if item.sha256:
        hashes[SignalType.sha256] = item.sha256
    return hashes


def store(uow: UnitOfWork, prepared: Prepared, ctx: IntakeContext) -> Receipt:
    """Write one prepared report into an entered unit of work (no commit): see the module."""
    r = prepared.report
    now = ctx.now or ctx.clock.now()
    if r.idempotency_key:
        seen = uow.reports.by_idempotency_key(prepared.submitter, r.idempotency_key)
        if seen is not None:
            return _replayed(uow, prepared, ctx, *seen)
    nonce = r.idempotency_key or f"\x00{next(_NONCES)}"
    token = status_token(ctx.status_key, prepared.submitter, nonce, now)

    content_id = prepared.content_id
    # One statement for the item, the open case about it, and whether this reporter and this
    # item are already on that case (the common case: no parent).
    item, found = uow.cases.intake_lookup(content_id, reporter_key=prepared.reporter_key)
    case_id = found[0].id if found is not None else None
    if item is None:
        # Content the registry has never seen is accepted and registered.
        uow.content.ensure(content_id)
    root, account = _root_of(uow, content_id, item)
    hashes = _hashes(item)
    if root != content_id:  # a repost: its family is its root's
        found = None
        case_id = uow.cases.open_case_for(
            content_id=content_id,
            root_content_id=root,
            md5=hashes.get(SignalType.md5),
            sha256=hashes.get(SignalType.sha256),
        )
    if case_id is None and SignalType.pdq in hashes:
        media = ctx.case_media or CaseMediaIndex()
        case_id = media.nearest_open_case(uow, hashes[SignalType.pdq], CASE_PDQ_THRESHOLD)
    case = None
    reporter_seen = item_on_case = False
    if found is not None:
        case, reporter_seen, item_on_case = found
    elif case_id is not None:
        case, reporter_seen, item_on_case = uow.cases.for_intake(
            case_id, content_id=content_id, reporter_key=prepared.reporter_key
        )

    valid_ncii = prepared.missing_for_valid == []
    incoming = IncomingReport(
        facts=ReportFacts(
            category=r.category,
            reporter_role=r.reporter_role,
            depicted_minor=r.depicted_minor,
            police_case_number=r.police_case_number is not None,
            valid_ncii_request=valid_ncii,
            received_at=now,
            # A bank match at upload is no person: it never counts as a reporter.
            new_reporter=not reporter_seen and prepared.source is not ReportSource.scan,
        ),
        content_id=content_id,
        item_on_case=item_on_case,
        confirming_matches=_bank_matches(ctx.indexes, item, hashes),
    )
    if case is not None and not case.takes(incoming):
        case = None  # a blocked re-upload of confirmed material: a case of its own
    # Exposure the platform posted before anyone reported it counts from the first report.
    if case is None and item is not None:
        incoming.exposure_fast = exposure_fast(uow, item, ctx.exposure)
        incoming.previous_case = item.closed_case_id
    if account and not item_on_case:
        incoming.uploader_prior_removals = uow.cases.prior_removals(
            account, excluding_case=case.id if case else None
        )
    case, change = _fold(uow, case, incoming, ctx, reporter_key=prepared.reporter_key)
    after = change.case
    uow.cases.save(after, before=case)
    if change.adds_item:
        uow.cases.add_item(
            case_id=after.id,
            content_id=content_id,
            root_content_id=root,
            account_id=account,
            pdq=hashes.get(SignalType.pdq),
            md5=hashes.get(SignalType.md5),
            sha256=hashes.get(SignalType.sha256),
            open=True,
            added_at=now,
        )
    report_id = uow.reports.add(
        case_id=after.id,
        content_id=content_id,
        content_url=r.content_url,
        category=str(r.category),
        reporter_role=str(r.reporter_role),
        depicted_minor=r.depicted_minor,
        police_agency=r.police_agency,
        police_case_number=r.police_case_number,
        reporter_reference=r.reporter_reference,
        contact_name=r.contact_name,
        contact_email=r.contact_email,
        signature=r.signature,
        good_faith_statement=r.good_faith_statement,
        description=r.description,
        valid_request=valid_ncii if r.category is Category.ncii else None,
        source=str(prepared.source),
        principal_kind=str(prepared.actor.kind),
        principal_id=prepared.actor.subject_id,
        principal_name=prepared.actor.name,
        submitter=prepared.submitter,
        idempotency_key=r.idempotency_key,
        reporter_key=prepared.reporter_key,
        status_digest=status_digest(token),
        received_at=now,
    )
    audit.record(
        uow,
        actor=prepared.actor,
        action="report.received",
        target_type="report",
        target_id=report_id,
        details={
            "case_id": after.id,
            "content_id": content_id,
            "category": str(r.category),
            "reporter_role": str(r.reporter_role),
            "priority": str(after.priority),
        },
        at=now,
    )
    uow.publish(
        ReportReceived(
            report_id=report_id,
            case_id=after.id,
            content_id=content_id,
            category=str(r.category),
            priority=str(after.priority),
            new_case=case is None,
        )
    )
    if (
        ctx.preserve_evidence
        and after.priority is Priority.p0
        and (case is None or case.priority is not Priority.p0)
    ):
        # A case that becomes P0 has its media preserved at once (``services.evidence``).
        uow.publish(EvidenceWanted(case_id=after.id, confirmed=False))
    if ctx.email and r.contact_email:
        uow.publish(
            acknowledgment(
                case_id=after.id,
                to=r.contact_email,
                status=after.status,
                respond_by=after.respond_by,
                remove_by=after.remove_by,
                status_link=status_url(ctx.status_base_url, token) if ctx.status_base_url else None,
            )
        )
        if case is not None and change.decision is None and after.status is CaseStatus.confirmed:
            # A report joining a case already decided: its reporter hears the decision too,
            # as those who reported before it did.
            decided = uow.decisions.for_case(after.id)
            if decided:
                uow.publish(
                    decision_notice(case_id=after.id, to=r.contact_email, decision=decided[-1])
                )
    _record_change(uow, change, actor=MATCHER, email=ctx.email, enforcement=ctx.enforcement)
    return _receipt(
        after,
        report_id=report_id,
        received_at=now,
        token=token,
        missing=prepared.missing_for_valid,
    )


def _fold(
    uow: UnitOfWork,
    case: Case | None,
    incoming: IncomingReport,
    ctx: IntakeContext,
    *,
    reporter_key: str | None,
) -> tuple[Case | None, Change]:
    """The report folded into ``case`` (None, or a case that does not take it: a new one).
    Before a decision the report makes, the case's row is locked; if another transaction
    (retroactive matching, another process) decided the case since it was read, the report is
    folded into the case as it is now, so a case is decided once."""
    if case is None or not case.takes(incoming):
        return None, Case.open_with(uow.cases.new_id(), incoming, policy=ctx.policy)
    change = case.receive(incoming, policy=ctx.policy)
    if change.decision is None or uow.cases.lock_for_decision(case.id) == str(case.status):
        return case, change
    current, _, incoming.item_on_case = uow.cases.for_intake(
        case.id, content_id=incoming.content_id, reporter_key=reporter_key
    )
    return _fold(uow, current, incoming, ctx, reporter_key=reporter_key)


def _replayed(
    uow: UnitOfWork, prepared: Prepared, ctx: IntakeContext, report_id: int, digest: str
) -> Receipt:
    """The receipt of the report this submitter already sent with this idempotency key."""
    report = uow.reports.get(report_id)
    assert report is not None
    case = uow.cases.get(report.case_id)
    assert case is not None
    key, submitter, nonce = ctx.status_key, prepared.submitter, prepared.report.idempotency_key
    assert nonce is not None
    token = status_token(key, submitter, nonce, report.received_at)
    if status_digest(token) != digest:  # stored before tokens carried their time
        token = unstamped_status_token(key, submitter, nonce)
    return _receipt(
        case,
        report_id=report.id,
        received_at=report.received_at,
        token=token,
        missing=prepared.missing_for_valid,
        duplicate=True,
    )


def _record_change(
    uow: UnitOfWork,
    change: Change,
    *,
    actor: Principal,
    email: bool,
    enforcement: EnforcementContext | None,
) -> None:
    """A case's change beyond its row: its events, and its decision (made by ``actor``) with
    the decision's audit entry and the e-mails that tell the case's reporters."""
    for event in change.events:
        uow.publish(event)
    decision = change.decision
    if decision is None:
        return
    case_id = change.case.id
    uow.decisions.add(case_id, decision)
    audit.record(
        uow,
        actor=actor,
        action="case.confirmed",
        target_type="case",
        target_id=case_id,
        details={"automated": decision.automated, "matches": list(decision.grounds)},
        at=decision.decided_at,
    )
    decisions.react(
        uow,
        case_id=case_id,
        status=change.case.status,
        decision=decision,
        content_ids=uow.cases.case_content_ids(case_id),
        ctx=decisions.DecisionContext(enforcement=enforcement, email=email),
        now=decision.decided_at,
        facts=change.case.facts,
    )


@dataclass(slots=True)
class StoreReport(BatchedWork[Receipt]):
    """``store`` as a work function (``Container.run_work(StoreReport(prepared, ctx))``): when
    several reports are committed together, their items and cases are looked up in one
    statement first (``prefetch``), each report still seeing the ones before it."""

    prepared: Prepared
    ctx: IntakeContext
    # Counted in the report's own transaction, so only a report that is stored counts.
    attempt: ratelimits.Attempt | None = None

    def __call__(self, uow: UnitOfWork) -> Receipt:
        receipt = store(uow, self.prepared, self.ctx)
        if self.attempt is not None and not receipt.duplicate:
            self.attempt.count(uow)
        return receipt

    @classmethod
    def prefetch(cls, uow: UnitOfWork, works: Sequence[BatchedWork[Receipt]]) -> None:
        reports = cast("Sequence[StoreReport]", works)
        uow.cases.prefetch_intake(
            [(work.prepared.content_id, work.prepared.reporter_key) for work in reports]
        )


def submit(
    *,
    uow: UnitOfWork,
    actor: Principal | None,
    report_in: ReportCreate,
    ctx: IntakeContext,
) -> Receipt:
    """``prepare`` and ``store`` in one transaction of ``uow``."""
    prepared = prepare(actor=actor, report_in=report_in)
    with uow:
        receipt = store(uow, prepared, ctx)
        uow.commit()
    return receipt


T = TypeVar("T")


class IntakeProcess(Protocol):
    """What ``file_report`` needs of the process it runs in (``server.Container`` is one):
    the platform's link resolver, the clock, the intake context as of now, and the writer."""

    @property
    def link_resolver(self) -> LinkResolver | None: ...

    @property
    def clock(self) -> Clock: ...

    async def intake_async(self) -> IntakeContext: ...

    async def run_work(self, work: Work[T]) -> T: ...


async def file_report(
    process: IntakeProcess,
    *,
    actor: Principal | None,
    report_in: ReportCreate,
    anonymous_reporter: str | None = None,
    attempt: ratelimits.Attempt | None = None,
) -> Receipt:
    """Report intake's steps for every adapter: a report that names only a link is resolved
    by the platform first (what content it shows); ``prepare`` checks it (raising
    ``InvalidInput`` or ``RoleNotAllowed``); the process's writer stores it, and the receipt
    comes back once it is committed. ``attempt`` counts against its rate limit in the
    report's own transaction."""
    resolver = process.link_resolver
    if resolver is not None and _only_a_link(report_in):
        report_in = await asyncio.to_thread(
            _resolve_link, report_in, resolver, now=process.clock.time()
        )
    prepared = prepare(actor=actor, report_in=report_in, anonymous_reporter=anonymous_reporter)
    ctx = await process.intake_async()
    return await process.run_work(StoreReport(prepared, ctx, attempt=attempt))
