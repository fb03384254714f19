"""Report intake: every report answered at once, merged into one case, and put on a clock.

A report is handled in two steps, so the part that must be serial is small:

1. ``prepare`` (any thread, no database): checks every field and the reporter role the
   caller may claim, and raises ``InvalidInput`` or ``RoleNotAllowed`` naming the field.
2. ``store`` (a work function for the group-commit writer, or any unit of work): finds the
   open case the report joins (same content, same family of reposts, or an exact or PDQ copy),
   or opens one; folds the report into the case's facts; triages; writes the report, the
   case, an audit entry and the events, all in the caller's transaction. A report that
   matches a ``block_and_report`` bank is confirmed at once as an automated decision.

``submit`` does both in one transaction (the CLI, tests). The HTTP adapters hand ``store`` to
the writer and answer only once its group has committed.

Status links: ``/status/{token}``. The token is an HMAC of who submitted and their
idempotency key (or of a random nonce) under the installation's ``status_link_key``, so the
same request twice gives the same link, and only its SHA-256 is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from takedown.cases import (
    NCII_REQUIREMENTS,
    CaseConfirmed,
    CaseFacts,
    CasePriorityChanged,
    CaseStatus,
    Category,
    Clocks,
    Priority,
    ReporterEmailQueued,
    ReporterRole,
    ReportFacts,
    ReportReceived,
    ReportSource,
    RoleNotAllowed,
    Triage,
    TriagePolicy,
    allowed_roles,
    case_number,
    clocks,
    missing_for_valid_ncii,
    triage,
)
from takedown.cases.records import Case, CaseMessage, Report
from takedown.identity import Permission, Principal, PrincipalKind, require
from takedown.matching import BankIndexes, BankPolicy, Match, SignalType
from takedown.services import audit, ratelimits
from takedown.services.case_media import CaseMediaIndex
from takedown.services.errors import Conflict, InvalidInput, NotFound
from takedown.store.matching_repos import ContentItem
from takedown.store.types import utcnow
from takedown.store.uow import SqlAlchemyUnitOfWork

MAX_ID = 256
MAX_URL = 2048
MAX_NAME = 256
MAX_EMAIL = 320
MAX_DESCRIPTION = 5000
MAX_IDEMPOTENCY_KEY = 128
MAX_MESSAGE = 5000
CASE_PDQ_THRESHOLD = 31
MAX_PARENT_HOPS = 16
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")  # control characters but tab and newlines
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
# Without an idempotency key a status link only has to be unique: the HMAC key makes it
# unguessable. A per-process random prefix and a counter are unique and cost no system call
# (the prefix is drawn once: in a generator expression it would be drawn again for each nonce).
_NONCE_PREFIX = secrets.token_hex(8)
_NONCES = (f"{_NONCE_PREFIX}:{n}" for n in itertools.count())
PUBLIC_ACTOR = Principal(kind=PrincipalKind.public, subject_id=None, name="public report page")


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
    now: datetime | None = None
    status_base_url: str | None = None  # where status links point, for e-mails
    exposure: ExposurePolicy | None = None  # what counts as fast-growing exposure
    email: bool = False  # queue e-mails to reporters who gave an address
    # Case items' PDQ hashes in memory (one per process); None: a new one for this context.
    case_media: CaseMediaIndex | None = None


def _text(value: str | None, field_name: str, limit: int) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > limit:
        raise InvalidInput(f"{field_name} must be at most {limit} characters", field=field_name)
    if _CONTROL.search(value):
        raise InvalidInput(f"{field_name} has control characters", field=field_name)
    return value


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
    # Until the platform resolves links to its ids, a link stands for its own content.
    key = url if len(url) <= MAX_ID - 4 else hashlib.sha256(url.encode()).hexdigest()
    return f"url:{key}"


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
    content_id = _text(r.content_id, "content_id", MAX_ID)
    url = _text(r.content_url, "content_url", MAX_URL)
    email = _text(r.contact_email, "contact_email", MAX_EMAIL)
    if email is not None and not _EMAIL.match(email):
        raise InvalidInput("contact_email is not an e-mail address", field="contact_email")
    agency = _text(r.police_agency, "police_agency", MAX_NAME)
    police_case = _text(r.police_case_number, "police_case_number", 128)
    if r.reporter_role is ReporterRole.law_enforcement and not (agency and police_case):
        raise InvalidInput(
            "law enforcement reports need the agency and a case number", field="law_enforcement"
        )
    if police_case and not agency:
        raise InvalidInput("give the police agency with the case number", field="police_agency")
    key = _text(r.idempotency_key, "idempotency_key", MAX_IDEMPOTENCY_KEY)
    clean = ReportCreate(
        category=r.category,
        reporter_role=r.reporter_role,
        content_id=content_id,
        content_url=url,
        depicted_minor=r.depicted_minor,
        police_agency=agency,
        police_case_number=police_case,
        contact_name=_text(r.contact_name, "contact_name", MAX_NAME),
        contact_email=email,
        signature=_text(r.signature, "signature", MAX_NAME),
        good_faith_statement=r.good_faith_statement,
        description=_text(r.description, "description", MAX_DESCRIPTION) or "",
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
        r.contact_name,
        r.contact_email,
        r.signature,
        r.good_faith_statement,
        r.description,
    )
    return hashlib.sha256(repr(fields).encode()).hexdigest()[:40]


def form_key(key: bytes) -> str:
    """An idempotency key for one showing of the public form: a random nonce and its MAC
    under ``key`` (the status-link key), so the server knows the keys it gave out and a
    guessed or made-up one is ignored (``checked_form_key``)."""
    nonce = secrets.token_urlsafe(18)
    return f"{nonce}.{_form_mac(key, nonce)}"


def checked_form_key(key: bytes, value: str | None) -> str | None:
    """``value`` if it is a key ``form_key`` made under ``key``, else None (the submission
    is then stored as a new report)."""
    if not value or value.count(".") != 1:
        return None
    nonce, mac = value.split(".")
    return value if hmac.compare_digest(mac, _form_mac(key, nonce)) else None


def _form_mac(key: bytes, nonce: str) -> str:
    digest = hmac.digest(key, f"report-form\x00{nonce}".encode(), "sha256")
    return base64.urlsafe_b64encode(digest[:18]).decode()


def anonymous_reporter(key: bytes, client_address: str) -> str:
    """A pseudonym for an anonymous reporter: a keyed digest of their client address (the
    address itself is never stored)."""
    return hmac.digest(key, f"reporter\x00{client_address}".encode(), "sha256").hex()[:40]


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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_STAMPED = re.compile(r"[0-9a-f]{14}[A-Za-z0-9_-]{32}")


def status_token(key: bytes, submitter: str, nonce: str, received_at: datetime) -> str:
    """A report's status link token: the time it was received (microseconds since 1970, 14
    hex digits) and a MAC of its submitter, nonce and that time under the status-link key.
    The MAC makes it unguessable; the time in front makes ``status_digest`` sort by time, so
    each new report's digest goes at the end of the digests' unique index instead of on a
    random page of it (random digests were a fifth of what intake wrote to SQLite's WAL).
    The time says no more than the status page itself: when the report was received."""
    stamp = f"{(received_at - _EPOCH) // _MICROSECOND:014x}"
    # ``hmac.digest``: one call into OpenSSL (``hmac.new`` builds its object in Python).
    mac = hmac.digest(key, f"{submitter}\x00{nonce}\x00{stamp}".encode(), "sha256")
    return stamp + base64.urlsafe_b64encode(mac[:24]).decode()


def unstamped_status_token(key: bytes, submitter: str, nonce: str) -> str:
    """The token of a report stored before tokens carried their time (still honoured)."""
    mac = hmac.digest(key, f"{submitter}\x00{nonce}".encode(), "sha256")
    return base64.urlsafe_b64encode(mac[:24]).decode()


def status_url(base_url: str, token: str) -> str:
    """A reporter's private status link on ``base_url`` (the address reporters reach)."""
    return f"{base_url.rstrip('/')}/status/{token}"


def status_digest(token: str) -> str:
    """What is stored to find a report by its token (never the token itself): for a token
    with its time, that time and 50 hex digits of its SHA-256; for an older token, its
    SHA-256. Both 64 characters, in the same unique column."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    if _STAMPED.fullmatch(token):
        return token[:14] + digest[:50]
    return digest


def _receipt(
    case: Case, report: Report, token: str, *, duplicate: bool, missing: list[str] | None
) -> Receipt:
    return Receipt(
        report_id=report.id,
        case_id=case.id,
        case_number=case.number,
        status_token=token,
        acknowledged_at=report.received_at,
        priority=case.priority,
        respond_by=case.respond_by,
        remove_by=case.remove_by,
        case_status=case.status,
        duplicate=duplicate,
        missing_for_valid=missing,
    )


def _root_of(
    uow: SqlAlchemyUnitOfWork, content_id: str, item: ContentItem | None
) -> tuple[str, str | None]:
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


def _bank_matches(indexes: BankIndexes | None, hashes: dict[SignalType, str]) -> list[Match]:
    if indexes is None or not hashes:
        return []
    return indexes.lookup(hashes)


def store(uow: SqlAlchemyUnitOfWork, prepared: Prepared, ctx: IntakeContext) -> Receipt:
    """Write one prepared report into an entered unit of work (no commit): see the module."""
    r = prepared.report
    now = ctx.now or utcnow()
    if r.idempotency_key:
        seen = uow.reports.by_idempotency_key(prepared.submitter, r.idempotency_key)
        if seen is not None:
            report_id, digest = seen
            report = uow.reports.get(report_id)
            assert report is not None
            case = uow.cases.get(report.case_id)
            assert case is not None
            key, submitter = ctx.status_key, prepared.submitter
            token = status_token(key, submitter, r.idempotency_key, report.received_at)
            if status_digest(token) != digest:  # stored before tokens carried their time
                token = unstamped_status_token(key, submitter, r.idempotency_key)
            return _receipt(case, report, token, duplicate=True, missing=prepared.missing_for_valid)
    nonce = r.idempotency_key or f"\x00{next(_NONCES)}"
    token = status_token(ctx.status_key, prepared.submitter, nonce, now)

    content_id = prepared.content_id
    # One statement for the item, the open case about it, and whether this reporter and this
    # item are already on that case (the common case: no parent).
    row, found = uow.cases.intake_lookup(content_id, reporter_key=prepared.reporter_key)
    case_id = found[0].id if found is not None else None
    item = uow.content.from_row(row)
    if item is None:
        # Content the registry has never seen is accepted and registered.
        uow.content.ensure(content_id)
    root, account = _root_of(uow, content_id, item)
    hashes: dict[SignalType, str] = {}
    if item is not None:
        for signal_type, value in (
            (SignalType.pdq, item.pdq),
            (SignalType.md5, item.md5),
            (SignalType.sha256, item.sha256),
        ):
            if value:
                hashes[signal_type] = value
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
    reporter_seen = known_item = False
    if found is not None:
        case, reporter_seen, known_item = found
    elif case_id is not None:
        case, reporter_seen, known_item = uow.cases.for_intake(
            case_id, content_id=content_id, reporter_key=prepared.reporter_key
        )

    matches = _bank_matches(ctx.indexes, hashes)
    weak = item is not None and item.pdq_quality is not None and item.pdq_quality < 50
    auto = [
        m
        for m in matches
        if m.policy is BankPolicy.block_and_report
        and not (m.signal_type is SignalType.pdq and weak)
    ]
    # A bank match at upload is no person: it never counts as a reporter.
    new_reporter = not reporter_seen and prepared.source is not ReportSource.scan
    valid_ncii = prepared.missing_for_valid == []
    facts_in = ReportFacts(
        category=r.category,
        reporter_role=r.reporter_role,
        depicted_minor=r.depicted_minor,
        police_case_number=r.police_case_number is not None,
        valid_ncii_request=valid_ncii,
        received_at=now,
        new_reporter=new_reporter,
    )
    before = case.facts if case is not None else CaseFacts()
    facts = before.with_report(facts_in)
    # Exposure the platform posted before anyone reported it counts from the first report.
    if case is None and item is not None and _exposure_fast(uow, item, ctx.exposure):
        facts = replace(facts, fast_exposure=True)
    if auto:
        facts = replace(facts, block_and_report_match=True)
    if account and not known_item:
        prior = uow.cases.prior_removals(account, excluding_case=case.id if case else None)
        if prior > facts.uploader_prior_removals:
            facts = replace(facts, uploader_prior_removals=prior)
    result = triage(facts, ctx.policy)
    current = Clocks(case.respond_by, case.remove_by) if case is not None else None
    clock = clocks(
        priority=result.priority, facts=facts, policy=ctx.policy, now=now, current=current
    )
    reasons = [reason.as_json() for reason in result.reasons]
    # The enums are ``StrEnum``s: ``str()`` is their value, in a C call (``.value`` is a
    # property written in Python, and a report reads a dozen).
    status = case.status if case is not None else CaseStatus.open
    if auto and status is CaseStatus.open:
        status = CaseStatus.confirmed
    values = {
        "status": str(status),
        "priority": str(result.priority),
        "reasons": reasons,
        "facts": facts.as_json(),
        "respond_by": clock.respond_by,
        "remove_by": clock.remove_by,
        "updated_at": now,
    }
    if status is CaseStatus.confirmed and (case is None or case.confirmed_at is None):
        values["confirmed_at"] = now
    if case is None:
        case_id = uow.cases.add(opened_at=now, **values)
    else:
        case_id = case.id
        # Only what changed: a column left out keeps its indexes untouched (the queue's index
        # on status, priority and respond_by would otherwise be rewritten by every report).
        was: dict[str, Any] = {
            "status": case.status,
            "priority": case.priority,
            "reasons": case.reasons,
            "respond_by": case.respond_by,
            "remove_by": case.remove_by,
        }
        uow.cases.update(
            case_id, **{k: v for k, v in values.items() if k not in was or was[k] != v}
        )
    if not known_item:
        uow.cases.add_item(
            case_id=case_id,
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
        case_id=case_id,
        content_id=content_id,
        content_url=r.content_url,
        category=str(r.category),
        reporter_role=str(r.reporter_role),
        depicted_minor=r.depicted_minor,
        police_agency=r.police_agency,
        police_case_number=r.police_case_number,
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
            "case_id": case_id,
            "content_id": content_id,
            "category": str(r.category),
            "reporter_role": str(r.reporter_role),
            "priority": str(result.priority),
        },
        at=now,
    )
    uow.publish(
        ReportReceived(
            report_id=report_id,
            case_id=case_id,
            content_id=content_id,
            category=str(r.category),
            priority=str(result.priority),
            new_case=case is None,
        )
    )
    if case is not None:
        _publish_priority_change(uow, case, result)
    if ctx.email and r.contact_email:
        _email_acknowledgment(uow, ctx, case_id, r, token, result.priority, clock, status)
    if auto and (case is None or case.status is CaseStatus.open):
        _confirm_automatically(uow, case_id, content_id, auto, now, email=ctx.email)
    return Receipt(
        report_id=report_id,
        case_id=case_id,
        case_number=case_number(case_id),
        status_token=token,
        acknowledged_at=now,
        priority=result.priority,
        respond_by=clock.respond_by,
        remove_by=clock.remove_by,
        case_status=status,
        missing_for_valid=prepared.missing_for_valid,
    )


@dataclass(slots=True)
class StoreReport:
    """``store`` as group-commit work (``GroupCommitter.run(StoreReport(prepared, ctx))``):
    when several reports are committed together, their items and cases are looked up in one
    statement first (``prefetch``), each report still seeing the ones before it."""

    prepared: Prepared
    ctx: IntakeContext
    # Counted in the report's own transaction, so only a report that is stored counts.
    attempt: ratelimits.Attempt | None = None

    def __call__(self, uow: SqlAlchemyUnitOfWork) -> Receipt:
        receipt = store(uow, self.prepared, self.ctx)
        if self.attempt is not None and not receipt.duplicate:
            self.attempt.count(uow)
        return receipt

    @staticmethod
    def prefetch(uow: SqlAlchemyUnitOfWork, works: list[StoreReport]) -> None:
        uow.cases.prefetch_intake(
            [(work.prepared.content_id, work.prepared.reporter_key) for work in works]
        )
        # Each report may open a case: their ids at hand (PostgreSQL), so no insert sends the
        # group's waiting writes early to wait for a block of ids.
        uow.raw.reserve_ids({"reports": len(works), "cases": len(works)})


def _publish_priority_change(uow: SqlAlchemyUnitOfWork, case: Case, result: Triage) -> None:
    if result.priority is not case.priority:
        uow.publish(
            CasePriorityChanged(
                case_id=case.id,
                old=case.priority.value,
                new=result.priority.value,
                reasons=result.reason_codes,
            )
        )


def _email_acknowledgment(
    uow: SqlAlchemyUnitOfWork,
    ctx: IntakeContext,
    case_id: int,
    r: ReportCreate,
    token: str,
    priority: Priority,
    clock: Clocks,
    status: CaseStatus,
) -> None:
    assert r.contact_email
    link = status_url(ctx.status_base_url, token) if ctx.status_base_url else None
    lines = [
        f"We received your report. Your case number is {case_number(case_id)}.",
        "",
        next_step(status=status, respond_by=clock.respond_by, remove_by=clock.remove_by),
        "",
    ]
    if link:
        lines += [
            "See what happens to your report, reply or appeal at your private status page:",
            link,
            "Keep this link to yourself: anyone with it can read the status.",
        ]
    uow.publish(
        ReporterEmailQueued(
            case_id=case_id,
            to=r.contact_email,
            subject=f"Your report {case_number(case_id)} was received",
            body="\n".join(lines) + "\n",
        )
    )


def _confirm_automatically(
    uow: SqlAlchemyUnitOfWork,
    case_id: int,
    content_id: str,
    auto: list[Match],
    now: datetime,
    *,
    email: bool = False,
) -> None:
    banks = sorted({m.bank for m in auto})
    reason = f"matched the known-CSAM hash bank{'s' if len(banks) > 1 else ''} " + ", ".join(banks)
    uow.case_messages.add(
        case_id=case_id,
        report_id=None,
        author="system",
        kind="decision",
        body=f"Confirmed automatically: the content {reason}. Its removal, with every copy, is "
        "the next step; this page will say when it is done.",
        at=now,
    )
    audit.record(
        uow,
        actor=Principal.system("matcher"),
        action="case.confirmed",
        target_type="case",
        target_id=case_id,
        details={
            "automated": True,
            "matches": [
                {
                    "bank": m.bank,
                    "signal_type": m.signal_type.value,
                    "entry_id": m.entry_id,
                    "distance": m.distance,
                }
                for m in auto
            ],
        },
        at=now,
    )
    uow.publish(
        CaseConfirmed(case_id=case_id, content_ids=[content_id], automated=True, reason=reason)
    )
    if email:
        for address in uow.reports.contact_emails(case_id):
            uow.publish(
                ReporterEmailQueued(
                    case_id=case_id,
                    to=address,
                    subject=f"Update on your report {case_number(case_id)}",
                    body=f"There is a decision on case {case_number(case_id)}: the reported "
                    f"content {reason}, so it is confirmed. Its removal, with every copy we can "
                    "find, is the next step.\n"
                    "Your status page (the link in our first e-mail) shows the decision.\n",
                )
            )


def submit(
    *,
    uow: SqlAlchemyUnitOfWork,
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


# The reporter's status page.


@dataclass(frozen=True)
class StatusView:
    report: Report
    case: Case
    messages: list[CaseMessage]
    next_step: str
    can_appeal: bool
    missing_for_valid: list[str] = field(default_factory=list)


def _report_for_token(uow: SqlAlchemyUnitOfWork, token: str) -> Report:
    if not token or len(token) > 64:
        raise NotFound("no report has this status link")
    report = uow.reports.by_status_digest(status_digest(token))
    if report is None:
        raise NotFound("no report has this status link")
    return report


def _when(at: datetime) -> str:
    return at.strftime("%d %B %Y, %H:%M UTC")


def next_step(
    *,
    status: CaseStatus,
    respond_by: datetime,
    remove_by: datetime | None,
    waiting_for_valid_request: bool = False,
) -> str:
    """What happens next and by when, in plain words: the acknowledgment page and the status
    page both say it."""
    if status is CaseStatus.confirmed:
        return (
            "We confirmed that this content breaks the law or our rules. Removing it, with "
            "every copy we can find, and acting on the account that shared it are the next "
            "steps; this page will say when they are done."
        )
    if status is CaseStatus.closed:
        return "This case is closed. You can appeal the decision below."
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


def status(*, uow: SqlAlchemyUnitOfWork, token: str) -> StatusView:
    """What a reporter sees at their status link. Raises ``NotFound`` for an unknown token."""
    with uow:
        report = _report_for_token(uow, token)
        case = uow.cases.get(report.case_id)
        assert case is not None
        messages = uow.case_messages.for_report(case.id, report.id)
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
    decided = any(m.kind == "decision" for m in messages)
    return StatusView(
        report=report,
        case=case,
        messages=messages,
        next_step=next_step(
            status=case.status,
            respond_by=case.respond_by,
            remove_by=case.remove_by,
            waiting_for_valid_request=bool(missing),
        ),
        can_appeal=decided,
        missing_for_valid=missing,
    )


def reply(
    uow: SqlAlchemyUnitOfWork,
    *,
    token: str,
    body: str,
    appeal: bool = False,
    attempt: ratelimits.Attempt | None = None,
) -> CaseMessage:
    """A reporter's reply (or appeal of a decision) from their status page; a work function
    (no commit). ``attempt``: counted against its rate limit once the reply is stored. Raises
    ``NotFound``, ``InvalidInput`` or ``Conflict`` (appeal before any decision)."""
    text = _text(body, "message", MAX_MESSAGE)
    if not text:
        raise InvalidInput("write a message", field="message")
    report = _report_for_token(uow, token)
    if appeal:
        decided = any(
            m.kind == "decision" for m in uow.case_messages.for_report(report.case_id, report.id)
        )
        if not decided:
            raise Conflict("there is no decision to appeal yet; send a reply instead")
    now = utcnow()
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


# Exposure.


@dataclass(frozen=True)
class ExposurePolicy:
    fast_views_per_hour: int = 1000
    fast_reposts_per_hour: int = 20


@dataclass(frozen=True)
class StatsResult:
    content_id: str
    fast: bool
    views_per_hour: float | None
    reposts_per_hour: float | None
    cases_raised: list[int]


def record_stats(
    uow: SqlAlchemyUnitOfWork,
    *,
    actor: Principal,
    content_id: str,
    views: int,
    reposts: int,
    ctx: IntakeContext,
    exposure: ExposurePolicy | None = None,
) -> StatsResult:
    """Store the platform's exposure counts for an item (a work function, no commit). When
    they grow fast, every open case about the item is raised (its clocks only move earlier)."""
    require(actor, Permission.scan)
    exposure = exposure or ExposurePolicy()
    if views < 0 or reposts < 0:
        raise InvalidInput("views and reposts cannot be negative")
    now = ctx.now or utcnow()
    reading = uow.content_stats.record(content_id, views=views, reposts=reposts, at=now)
    item = uow.content.get(content_id) if reading[5] is None else None
    vph, rph, fast = _growth(reading, item, exposure)
    raised: list[int] = []
    if fast:
        for case_id in uow.cases.case_ids_for_content(content_id):
            case = uow.cases.get(case_id)
            if case is None or case.facts.fast_exposure:
                continue
            facts = replace(case.facts, fast_exposure=True)
            result = triage(facts, ctx.policy)
            clock = clocks(
                priority=result.priority,
                facts=facts,
                policy=ctx.policy,
                now=now,
                current=Clocks(case.respond_by, case.remove_by),
            )
            uow.cases.update(
                case_id,
                facts=facts.as_json(),
                priority=result.priority.value,
                reasons=[x.as_json() for x in result.reasons],
                respond_by=clock.respond_by,
                remove_by=clock.remove_by,
                updated_at=now,
            )
            _publish_priority_change(uow, case, result)
            raised.append(case_id)
    audit.record(
        uow,
        actor=actor,
        action="content.stats",
        target_type="content",
        target_id=content_id,
        details={"views": views, "reposts": reposts, "fast": fast, "cases_raised": raised},
        at=now,
    )
    return StatsResult(
        content_id=content_id,
        fast=fast,
        views_per_hour=vph,
        reposts_per_hour=rph,
        cases_raised=raised,
    )


Reading = tuple[int, int, datetime, int | None, int | None, datetime | None]


def _growth(
    reading: Reading, item: ContentItem | None, exposure: ExposurePolicy
) -> tuple[float | None, float | None, bool]:
    """(views an hour, reposts an hour, whether that is fast) from a stats reading: since the
    previous reading, or since the item was first seen when there is none."""
    cur_views, cur_reposts, at, prev_views, prev_reposts, prev_at = reading
    if prev_at is None:
        prev_at, prev_views, prev_reposts = (item.first_seen_at, 0, 0) if item else (None, 0, 0)
    vph = rph = None
    if prev_at is not None:
        hours = max((at - prev_at).total_seconds() / 3600, 1 / 60)
        vph = (cur_views - (prev_views or 0)) / hours
        rph = (cur_reposts - (prev_reposts or 0)) / hours
    fast = bool(
        (vph is not None and vph >= exposure.fast_views_per_hour)
        or (rph is not None and rph >= exposure.fast_reposts_per_hour)
    )
    return vph, rph, fast


def _exposure_fast(
    uow: SqlAlchemyUnitOfWork, item: ContentItem, exposure: ExposurePolicy | None
) -> bool:
    """Whether the platform's last stats for ``item`` showed fast growth (none posted: no)."""
    reading = uow.content_stats.latest(item.content_id)
    if reading is None:
        return False
    return _growth(reading, item, exposure or ExposurePolicy())[2]


def status_key(uow: SqlAlchemyUnitOfWork) -> bytes:
    """The installation's key for status links (made by the migration)."""
    with uow:
        value = uow.instance_secrets.get("status_link_key")
    if value is None:
        raise RuntimeError("the status link key is missing: run `takedown db upgrade`")
    return bytes.fromhex(value)
