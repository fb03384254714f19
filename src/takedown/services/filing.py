"""Filing a confirmed CSAM case with NCMEC's CyberTipline: the draft, the filer, the desk.

A confirmed CSAM case drafts its report as soon as its evidence is preserved (``draft``, in
the ``EvidenceWanted`` handler): the report as values (``authorities.Tip``) built from the case,
and one file per preserved media item. With ``TAKEDOWN_NCMEC_AUTO_FILE`` a case confirmed by
a bank match is filed at once; otherwise a compliance user reviews the draft, adds what the
platform knows (``update_draft``) and files it (``request_filing``, idempotent).

The ``Filer`` (a background thread beside the outbox worker) takes filings that are due and
walks their steps (``authorities.filing``), storing the state in its own transaction before and
after each step, so a process killed at any point resumes where it was, and ``/submit`` is
never sent twice for one case. Every document is checked against the CyberTipline schema
(the copy shipped, and NCMEC's own from ``/xsd``) before ``/submit``, files' details included,
so nothing NCMEC would refuse for its shape is sent after a report id exists.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from takedown.authorities import (
    Channel,
    ChannelRefused,
    ChannelUnavailable,
    Contact,
    FileAnnotation,
    Filing,
    FilingRefused,
    FilingRequested,
    FilingState,
    FilingStep,
    IncidentType,
    IndustryClassification,
    IpEvent,
    LawEnforcement,
    ReportAnnotation,
    ReportedUser,
    ReportFiled,
    Schema,
    SchemaInvalid,
    SchemaUnreadable,
    Tip,
    TipFile,
    Victim,
    file_details_xml,
    report_xml,
    shipped,
)
from takedown.cases import (
    Case,
    CaseStatus,
    Category,
    Decision,
    Outcome,
    ReporterRole,
    case_number,
)
from takedown.cases.records import CaseItem
from takedown.clock import SYSTEM_CLOCK, Clock
from takedown.evidence import unseal
from takedown.identity import Permission, Principal, require
from takedown.jobs.loop import StoreLoop
from takedown.retry import RetryPolicy
from takedown.services import audit
from takedown.services.errors import InvalidInput, NotFound, StateConflict
from takedown.services.evidence import Vault
from takedown.services.text import clean_text
from takedown.store.db import Database
from takedown.store.enforcement_repos import ActionRecord
from takedown.store.filing_repos import FilingFile
from takedown.store.group_commit import GroupCommitter
from takedown.store.uow import UnitOfWork, reading

log = logging.getLogger("takedown.filing")
SYSTEM = Principal.system("ncmec-filer")

# What in a report's words says the child was threatened or coerced (sextortion). The draft
# is the compliance user's to correct; this only makes the likely case the default.
_COERCION = re.compile(
    r"\b(sextort\w*|extort\w*|blackmail\w*|threat\w*|coerc\w*|forced|pay or|or else)\b",
    re.IGNORECASE,
)
_SOLICITATION = re.compile(r"\b(asked (?:me|him|her|them) for|solicit\w*|groom\w*)\b", re.I)
MAX_TEXT = 3000


# A filer holds a filing for the lease between steps: longer than a step's time-out.
FILING_RETRY = RetryPolicy(max_attempts=10, backoff_seconds=5, lease_seconds=120)


@dataclass(frozen=True)
class FilingSettings:
    reporter: Contact
    esp_service: str | None = None
    auto_file: bool = False
    file_within: timedelta = timedelta(hours=24)
    retry: RetryPolicy = FILING_RETRY
    viral_copies: int = 100  # a takedown set this large is filed as a batched, viral report
    terms_of_service: str | None = None


def reporter_contact(name: str | None, email: str | None, phone: str | None) -> Contact:
    """The reporting person from settings: ``Trust and Safety Team`` → first name ``Trust
    and Safety``, last name ``Team``."""
    first, _, last = (name or "").strip().rpartition(" ")
    if not first:
        first, last = last, ""
    return Contact(first_name=first or None, last_name=last or None, email=email, phone=phone)


# Drafting.


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    return text[:MAX_TEXT] or None


def _violation(uow: UnitOfWork, case_id: int) -> Decision | None:
    decisions = [d for d in uow.decisions.for_case(case_id) if d.outcome is Outcome.violation]
    return decisions[-1] if decisions else None


def build_tip(
    uow: UnitOfWork, case: Case, settings: FilingSettings
) -> tuple[Tip, list[tuple[int, str | None, TipFile]]]:
    """The report a case makes, and its files (evidence item id, content id, details)."""
    items = uow.cases.items(case.id)
    reports = uow.reports.for_case(case.id)
    decision = _violation(uow, case.id)
    registered = {i.content_id: uow.content.get(i.content_id) for i in items}
    uploaded = [
        t for t in (getattr(registered[i.content_id], "first_seen_at", None) for i in items) if t
    ]
    first_report = min((r.received_at for r in reports), default=None)
    if uploaded:
        incident_at, incident_said = min(uploaded), "When the first copy was uploaded."
    else:
        incident_at, incident_said = first_report or case.opened_at, "When it was first reported."
    words = " ".join(r.description for r in reports)
    annotations: set[ReportAnnotation] = set()
    escalate = None
    if _COERCION.search(words):
        annotations.add(ReportAnnotation.sextortion)
        escalate = (
            "A report says the child was threatened or coerced (sextortion); the child may be "
            "in danger now."
        )
    if _SOLICITATION.search(words):
        annotations.add(ReportAnnotation.csam_solicitation)
    police = next((r for r in reports if r.police_agency), None)
    actions = uow.actions.for_case(case.id)
    removed = sum(1 for a in actions if a.type == "remove")
    suspended = {a.account_id: a.created_at for a in actions if a.type == "suspend_account"}
    uploader = next((i.account_id for i in items if i.account_id), None)
    reported = None
    if uploader is not None:
        reported = ReportedUser(
            esp_identifier=uploader,
            esp_service=settings.esp_service,
            prior_reports=tuple(uow.filings.prior_reports(case.id, uploader)),
            disabled_at=suspended.get(uploader),
            additional_info=_others_involved(uow, case.id, uploader, items, actions),
        )
    victims = tuple(
        Victim(
            person=Contact(first_name=r.contact_name, email=r.contact_email),
            additional_info="The depicted person reported it to the platform themselves.",
        )
        for r in reports
        if r.reporter_role is ReporterRole.depicted_person and (r.contact_email or r.contact_name)
    )
    decided = (
        f"Confirmed {'automatically' if decision.automated else 'by a reviewer'} on "
        f"{decision.decided_at:%Y-%m-%d %H:%M} UTC: {decision.reason}."
        if decision is not None
        else ""
    )
    summary = (
        f"takedown case {case_number(case.id)}: {len(reports)} report(s) from the platform's "
        f"users and systems. {decided} {removed} cop{'y' if removed == 1 else 'ies'} taken down."
    )
    viral = removed >= settings.viral_copies
    tip = Tip(
        incident_type=IncidentType.child_pornography,
        incident_at=incident_at,
        incident_description=incident_said,
        reporter=settings.reporter,
        platform=settings.esp_service,
        escalate=escalate,
        annotations=frozenset(annotations),
        urls=tuple(dict.fromkeys(r.content_url for r in reports if r.content_url))[:20],
        law_enforcement=(
            LawEnforcement(agency=police.police_agency, case_number=police.police_case_number)
            if police is not None and police.police_agency
            else None
        ),
        reported=reported,
        victims=victims,
        batched_viral=viral,
        terms_of_service=settings.terms_of_service,
        additional_info=_clip(summary),
    )
    by_content = {i.content_id: i for i in items}
    urls = {r.content_id: r.content_url for r in reports if r.content_url}
    classification = None
    if decision is not None and decision.classification:
        classification = IndustryClassification(decision.classification)
    files: list[tuple[int, str | None, TipFile]] = []
    for record in uow.evidence.for_case(case.id):
        if record.kind != "media" or record.purged_at is not None:
            continue
        item = by_content.get(record.content_id or "")
        hashes = [("SHA256", record.sha256)]
        if item is not None and item.md5:
            hashes.insert(0, ("MD5", item.md5))
        info = f"PDQ {item.pdq}." if item is not None and item.pdq else None
        files.append(
            (
                record.id,
                record.content_id,
                TipFile(
                    original_file_name=record.content_id,
                    uploaded_at=getattr(
                        registered.get(record.content_id or ""), "first_seen_at", None
                    ),
                    location=urls.get(record.content_id or ""),
                    viewed_by_esp=decision is not None and not decision.automated,
                    classification=classification,
                    annotations=frozenset({FileAnnotation.viral}) if viral else frozenset(),
                    hashes=tuple(hashes),
                    additional_info=info,
                ),
            )
        )
    return tip, files


def _others_involved(
    uow: UnitOfWork,
    case_id: int,
    uploader: str,
    items: list[CaseItem],
    actions: list[ActionRecord],
) -> str | None:
    """The other accounts of the incident, for the reported user's additional information
    (NCMEC takes one reported user a report): those that posted copies themselves, and those
    that reposted a copy (the takedown reached their reposts), each with what was done."""
    removed = [a.content_id for a in actions if a.type == "remove" and a.content_id]
    registered = uow.registry.items(removed) if removed else []
    uploaders = {i.account_id for i in items if i.account_id} | {
        r.account_id for r in registered if r.account_id and r.parent_content_id is None
    }
    uploaders.discard(uploader)
    reposters = (
        {r.account_id for r in registered if r.account_id and r.parent_content_id is not None}
        - uploaders
        - {uploader}
    )
    done = {a.account_id: a.type for a in actions if a.account_id}
    said = {"suspend_account": "suspended", "strike": "given a strike"}

    def listed(accounts: set[str]) -> str:
        shown = sorted(accounts)[:50]
        more = f" and {len(accounts) - 50} more" if len(accounts) > 50 else ""
        return (
            ", ".join(f"{a} ({said[done[a]]})" if done.get(a) in said else a for a in shown) + more
        )

    parts = []
    if uploaders:
        parts.append(f"Other accounts that posted copies: {listed(uploaders)}.")
    if reposters:
        parts.append(f"Accounts that reposted it: {listed(reposters)}.")
    return " ".join(parts) or None


def draft(
    uow: UnitOfWork,
    *,
    case_id: int,
    settings: FilingSettings,
    now: datetime,
    preserved: bool = False,
) -> Filing | None:
    """Draft the report of a confirmed CSAM case (once), in ``uow``'s transaction. None for
    any other case.

    Called twice: in the decision's own transaction (``EnforcementContext.draft_report``), so
    the report exists when the decision is answered, with the media already sealed; and once
    the worker has preserved the case's media (``preserved``), which adds the files sealed
    since to a draft that may still change, and then files at once when auto-filing is on
    and a bank confirmed the case (a report is never sent before its media is sealed)."""
    filing = uow.filings.get(case_id)
    if filing is None:
        case = uow.cases.get(case_id)
        if (
            case is None
            or case.status is not CaseStatus.confirmed
            or case.category is not Category.csam
        ):
            return None
        tip, files = build_tip(uow, case, settings)
        filing = Filing(case_id=case_id, state=FilingState.drafted, drafted_at=now)
        uow.filings.add(filing, tip, files)
        audit.record(
            uow,
            actor=SYSTEM,
            action="ncmec.drafted",
            target_type="case",
            target_id=case_id,
            details={"files": len(files)},
            at=now,
        )
    elif preserved and filing.editable:
        _add_preserved_files(uow, filing, settings)
    if not preserved or filing.state is not FilingState.drafted:
        return filing
    decision = _violation(uow, case_id)
    if settings.auto_file and decision is not None and decision.automated:
        filing = _request(uow, filing, actor=SYSTEM, now=now, auto=True)
    return filing


def _add_preserved_files(uow: UnitOfWork, filing: Filing, settings: FilingSettings) -> None:
    case = uow.cases.get(filing.case_id)
    if case is None:
        return
    have = {f.evidence_item_id for f in uow.filings.files(filing.case_id)}
    _, files = build_tip(uow, case, settings)
    new = [f for f in files if f[0] not in have]
    if new:
        uow.filings.add_files(filing.case_id, new)


def _request(
    uow: UnitOfWork, filing: Filing, *, actor: Principal, now: datetime, auto: bool
) -> Filing:
    after = filing.request(now, auto=auto)
    if after is filing:
        return filing
    uow.filings.save(after)
    audit.record(
        uow,
        actor=actor,
        action="ncmec.filing_requested",
        target_type="case",
        target_id=filing.case_id,
        details={"auto": auto, "resumes_report": after.report_id},
        at=now,
    )
    uow.publish(FilingRequested(case_id=filing.case_id, auto=auto))
    return after


def withdraw(uow: UnitOfWork, *, case_id: int, now: datetime) -> None:
    """The case's violation was overturned: its report, if not sent yet, is withdrawn. In
    ``uow``'s transaction (the decision's)."""
    filing = uow.filings.get(case_id, lock=True)
    if filing is None:
        return
    after = filing.withdraw("The violation was overturned: this report is not filed.")
    if after is filing:
        return
    uow.filings.save(after)
    audit.record(
        uow,
        actor=SYSTEM,
        action="ncmec.withdrawn",
        target_type="case",
        target_id=case_id,
        details={"was": str(filing.state)},
        at=now,
    )


def _filing(uow: UnitOfWork, case_id: int, *, lock: bool = False) -> Filing:
    filing = uow.filings.get(case_id, lock=lock)
    if filing is None:
        if uow.cases.get(case_id) is None:
            raise NotFound(f"no case {case_number(case_id)}")
        raise StateConflict(
            "this case has no CyberTipline report: only a confirmed CSAM case drafts one",
            code="no_ncmec_report",
        )
    return filing


NOT_CONFIGURED = (
    "NCMEC's Reporting API is not set up here, so nothing can be filed: set "
    "TAKEDOWN_NCMEC_URL, TAKEDOWN_NCMEC_USERNAME and TAKEDOWN_NCMEC_PASSWORD (docs/filing.md, "
    '"Setting it up"). The draft stays as it is and can still be changed.'
)


def request_filing(
    *,
    uow: UnitOfWork,
    actor: Principal,
    case_id: int,
    now: datetime,
    configured: bool = True,
) -> Filing:
    """File the case's report (a draft) or try a failed one again. Idempotent: a filing
    already filing, filed or needing attention is answered as it is. ``configured`` False
    (no NCMEC address or credentials): refused with ``ncmec_not_configured``, the draft left
    as it is, never moved to a ``filing`` nothing would ever take."""
    require(actor, Permission.ncmec_file)
    if not configured:
        raise StateConflict(NOT_CONFIGURED, code="ncmec_not_configured")
    with uow:
        filing = _filing(uow, case_id, lock=True)
        case = uow.cases.get(case_id)
        if filing.report_id is None and (case is None or case.status is not CaseStatus.confirmed):
            raise StateConflict(
                "the case is no longer a confirmed violation (overturned on appeal?): its "
                "report is not filed",
                code="not_confirmed",
            )
        filing = _request(uow, filing, actor=actor, now=now, auto=False)
        uow.commit()
    return filing


def resolve(
    *,
    uow: UnitOfWork,
    actor: Principal,
    case_id: int,
    report_id: int | None,
    now: datetime,
) -> Filing:
    """A person's finding on a filing whose ``/submit`` went unanswered: NCMEC made report
    ``report_id`` (resumed from it), or none (None: submitted again)."""
    require(actor, Permission.ncmec_file)
    with uow:
        filing = _filing(uow, case_id, lock=True)
        try:
            after = filing.resolve(now, report_id=report_id)
        except FilingRefused as refused:
            raise StateConflict(str(refused), code="not_needing_attention") from None
        uow.filings.save(after)
        audit.record(
            uow,
            actor=actor,
            action="ncmec.resolved",
            target_type="case",
            target_id=case_id,
            details={"report_id": report_id, "found": report_id is not None},
            at=now,
        )
        uow.publish(FilingRequested(case_id=case_id, auto=False))
        uow.commit()
    return after


@dataclass(frozen=True)
class DraftChange:
    """What a compliance user adds to a draft; None leaves a field as it is."""

    incident_type: IncidentType | None = None
    escalate: str | None = None
    annotations: frozenset[ReportAnnotation] | None = None
    additional_info: str | None = None
    screen_name: str | None = None
    profile_url: str | None = None
    classifications: dict[str, IndustryClassification] | None = None  # by content id
    publicly_available: bool | None = None
    ip_events: tuple[IpEvent, ...] | None = None  # the reported account's, replacing any


def update_draft(
    *,
    uow: UnitOfWork,
    actor: Principal,
    case_id: int,
    change: DraftChange,
    now: datetime,
) -> Tip:
    """Change a draft before it is filed (a draft, or a failed filing with no report yet)."""
    require(actor, Permission.ncmec_file)
    _check_text(
        escalate_to_high_priority=change.escalate,
        additional_info=change.additional_info,
        screen_name=change.screen_name,
        profile_url=change.profile_url,
        **_ip_texts(change.ip_events or ()),
    )
    with uow:
        filing = _filing(uow, case_id, lock=True)
        if not filing.editable:
            raise StateConflict(
                f"the report is {filing.state} and can no longer be changed", code="filed"
            )
        tip = uow.filings.tip(case_id)
        assert tip is not None
        updates: dict[str, Any] = {}
        if change.incident_type is not None:
            updates["incident_type"] = change.incident_type
        if change.escalate is not None:
            updates["escalate"] = _clip(change.escalate)
        if change.annotations is not None:
            updates["annotations"] = change.annotations
        if change.additional_info is not None:
            updates["additional_info"] = _clip(change.additional_info)
        about_account = bool(change.screen_name or change.profile_url or change.ip_events)
        if about_account and tip.reported is None:
            raise InvalidInput(
                "this case names no account (its content was registered without one): the "
                "reported account's details need it",
                field="screen_name",
            )
        if tip.reported is not None and (about_account or change.ip_events is not None):
            updates["reported"] = _with_account(
                tip.reported,
                screen_name=change.screen_name,
                profile_url=change.profile_url,
                ip_events=change.ip_events,
            )
        tip = replace(tip, **updates)
        _check(report_xml(tip))
        uow.filings.set_tip(case_id, tip)
        for file in uow.filings.files(case_id):
            details = file.details
            wanted = (change.classifications or {}).get(file.content_id or "")
            if wanted is not None:
                details = replace(details, classification=wanted)
            if change.publicly_available is not None:
                details = replace(details, publicly_available=change.publicly_available)
            if details != file.details:
                uow.filings.set_file_details(file.id, details)
        audit.record(
            uow,
            actor=actor,
            action="ncmec.draft_changed",
            target_type="case",
            target_id=case_id,
            details={k: str(v) for k, v in updates.items() if k != "reported"},
            at=now,
        )
        uow.commit()
    return tip


@dataclass(frozen=True)
class AccountDetails:
    """What the platform knows of an account it suspended, sent with the action."""

    screen_name: str | None = None
    display_name: str | None = None
    profile_url: str | None = None
    ip_events: tuple[IpEvent, ...] = ()


def account_details(
    *,
    uow: UnitOfWork,
    actor: Principal,
    action_id: str,
    details: AccountDetails,
    now: datetime,
) -> Filing:
    """The platform's details of the account a ``suspend_account`` action named, added to
    the case's CyberTipline draft while it is not submitted yet. Raises ``NotFound`` for an
    unknown action, ``StateConflict`` for another kind of action (``not_an_account``), a case
    with no report (``no_ncmec_report``) or one already submitted (``filed``)."""
    require(actor, Permission.actions_pull)
    _check_text(
        screen_name=details.screen_name,
        display_name=details.display_name,
        profile_url=details.profile_url,
        **_ip_texts(details.ip_events),
    )
    with uow:
        action = uow.actions.by_action_id(action_id)
        if action is None:
            raise NotFound(f"no action {action_id}")
        if action.type != "suspend_account" or action.account_id is None:
            raise StateConflict(
                "account details go with a suspend_account action", code="not_an_account"
            )
        filing = _filing(uow, action.case_id, lock=True)
        tip = uow.filings.tip(action.case_id)
        assert tip is not None
        if not filing.editable:
            raise StateConflict("the case's report is being filed or is with NCMEC", code="filed")
        reported = tip.reported or ReportedUser(
            esp_identifier=action.account_id, esp_service=tip.platform
        )
        if reported.esp_identifier == action.account_id:
            reported = _with_account(
                reported,
                screen_name=details.screen_name,
                display_name=details.display_name,
                profile_url=details.profile_url,
                ip_events=(*reported.ip_events, *details.ip_events),
            )
            tip = replace(tip, reported=reported)
        else:  # another account that uploaded a copy: named beside the one reported
            known = ", ".join(
                x for x in (action.account_id, details.screen_name, details.profile_url) if x
            )
            ips = ", ".join(e.ip_address for e in details.ip_events)
            extra = f"Account {known}" + (f" (IP addresses {ips})" if ips else "") + "."
            reported = replace(
                reported,
                additional_info=_clip(" ".join(filter(None, [reported.additional_info, extra]))),
            )
            tip = replace(tip, reported=reported)
        _check(report_xml(tip))
        uow.filings.set_tip(action.case_id, tip)
        audit.record(
            uow,
            actor=actor,
            action="ncmec.account_details",
            target_type="case",
            target_id=action.case_id,
            details={"account_id": action.account_id, "ip_events": len(details.ip_events)},
            at=now,
        )
        uow.commit()
    return filing


def _with_account(
    reported: ReportedUser,
    *,
    screen_name: str | None = None,
    display_name: str | None = None,
    profile_url: str | None = None,
    ip_events: tuple[IpEvent, ...] | None = None,
) -> ReportedUser:
    """``reported`` with what is given of it (None keeps what it has); 20 IP events at most."""
    return replace(
        reported,
        screen_name=_clip(screen_name) or reported.screen_name,
        display_names=(display_name,) if display_name else reported.display_names,
        profile_urls=(profile_url,) if profile_url else reported.profile_urls,
        ip_events=reported.ip_events if ip_events is None else ip_events[:20],
    )


def _check_text(**texts: str | None) -> None:
    """Refuse text no document can carry (``InvalidInput`` naming the field)."""
    for name, text in texts.items():
        clean_text(text, name, 1 << 20)


def _ip_texts(events: tuple[IpEvent, ...]) -> dict[str, str | None]:
    return {
        f"ip_capture_events[{n}].{part}": value
        for n, event in enumerate(events)
        for part, value in (("ip_address", event.ip_address), ("event", event.event))
    }


def _check(document: bytes) -> None:
    try:
        shipped().validate(document)
    except SchemaInvalid as invalid:
        raise InvalidInput(f"the report would not fit NCMEC's schema: {invalid}") from None


# Reading.


@dataclass(frozen=True)
class FilingView:
    filing: Filing
    tip: Tip
    files: list[FilingFile]
    document: str  # the XML as submitted, or as it would be now
    overdue: bool
    age: timedelta


def state_json(filing: Filing | None) -> dict[str, Any] | None:
    """``ncmec_report`` of a case's JSON."""
    if filing is None:
        return None
    return {
        "state": str(filing.state),
        "report_id": filing.report_id,
        "drafted_at": filing.drafted_at,
        "filed_at": filing.filed_at,
        "error": filing.error,
    }


def view(
    *, uow: UnitOfWork, actor: Principal, case_id: int, now: datetime, within: timedelta
) -> FilingView:
    require(actor, Permission.ncmec_read)
    with uow:
        filing = _filing(uow, case_id)
        tip = uow.filings.tip(case_id)
        assert tip is not None
        document = uow.filings.document(case_id) or report_xml(tip).decode()
        return FilingView(
            filing=filing,
            tip=tip,
            files=uow.filings.files(case_id),
            document=document,
            overdue=filing.overdue(now, within),
            age=now - filing.drafted_at,
        )


def stuck(*, uow: UnitOfWork, actor: Principal) -> dict[str, int]:
    """How many reports to NCMEC failed at their last attempt (``failed``) and how many wait
    for a person to settle an unanswered submit (``needs_attention``)."""
    require(actor, Permission.ncmec_read)
    with uow:
        found = uow.filings.stuck()
    return {str(s): found.get(str(s), 0) for s in (FilingState.failed, FilingState.needs_attention)}


def listing(
    *, uow: UnitOfWork, actor: Principal, now: datetime, within: timedelta
) -> list[tuple[Filing, bool]]:
    """Every filing not filed, overdue first, then the latest filed; with whether each is
    overdue against the filing target."""
    require(actor, Permission.ncmec_read)
    with uow:
        filings = uow.filings.listing()
    marked = [(f, f.overdue(now, within)) for f in filings]
    return sorted(
        marked,
        key=lambda p: (p[0].settled, not p[1], p[0].drafted_at),
    )


# Filing.


class Filer(StoreLoop):
    """Takes due filings and walks their steps: the ``filing`` lane of the job runtime, in a
    process that files (``takedown serve`` with the worker on, or ``takedown worker``) where
    NCMEC's address is set. It polls; a commit that requests a filing wakes it at once."""

    thread_name = "takedown-ncmec"
    log_name = "takedown.filing"

    def __init__(
        self,
        db: Database,
        channel: Channel,
        settings: FilingSettings,
        *,
        vault: Vault | None,
        writer: GroupCommitter | None = None,
        clock: Clock = SYSTEM_CLOCK,
        poll_seconds: float = 1.0,
    ) -> None:
        self.channel = channel
        self.settings = settings
        self.vault = vault
        self.poll_seconds = poll_seconds
        self._schema: Schema | None = None
        super().__init__(db, writer=writer, clock=clock)

    def run_once(self, limit: int = 10) -> int:
        """File the due filings (at most ``limit``); how many were taken."""
        now = self.clock.now()
        due: list[int] = self._write(
            partial(_claim, now=now, until=now + self.settings.retry.lease, limit=limit)
        )
        for case_id in due:
            try:
                self.file(case_id)
            except Exception as exc:  # one filing's fault stays with that filing
                self._contain(case_id, exc)
            finally:
                self._write(partial(_release, case_id=case_id))
        return len(due)

    def _contain(self, case_id: int, exc: Exception) -> None:
        """An error no step expects (a bug, a report the store cannot hold): logged, and the
        filing is tried again after its back-off and parked as ``failed`` after the last
        attempt, like a step NCMEC did not answer, so it never stays first in every batch."""
        log.exception("filing a case with NCMEC failed", extra={"case": case_id})
        error = f"an internal error stopped this filing ({type(exc).__name__}); see the log"
        try:
            with reading(self.db) as uow:
                filing = uow.filings.get(case_id)
            if filing is None or filing.state is not FilingState.filing:
                return
            s = self.settings
            self._save(
                filing.retry_later(error, self.clock.now(), policy=s.retry),
                action="ncmec.retrying",
                details={"error": error},
            )
        except Exception:
            log.exception("the filing's failure could not be stored", extra={"case": case_id})

    # The steps. Each stores its state in a transaction of its own before the next begins.

    def _save(
        self,
        filing: Filing,
        *,
        document: str | None = None,
        action: str | None = None,
        details: dict[str, Any] | None = None,
        event: Any = None,
    ) -> Filing:
        now = self.clock.now()

        def work(uow: UnitOfWork) -> None:
            uow.filings.save(filing, document=document)
            uow.filings.renew(filing.case_id, until=now + self.settings.retry.lease)
            if action is not None:
                audit.record(
                    uow,
                    actor=SYSTEM,
                    action=action,
                    target_type="case",
                    target_id=filing.case_id,
                    details=details or {},
                    at=now,
                )
            if event is not None:
                uow.publish(event)

        self._write(work)
        return filing

    def _read(self, case_id: int) -> tuple[Filing | None, Tip | None, list[FilingFile]]:
        with reading(self.db) as uow:
            return uow.filings.get(case_id), uow.filings.tip(case_id), uow.filings.files(case_id)

    def schemas(self) -> list[Schema]:
        """The shipped schema, and NCMEC's own as its server serves it now (fetched before
        each ``/submit``: reports are few, and a schema NCMEC changed must be seen at once).
        Where it cannot be read the last one read stands in; a difference from the copy
        shipped is logged each time the served one changes."""
        try:
            served = self.channel.schema()
            fresh = Schema.parse(served) if served else None
        except (ChannelRefused, ChannelUnavailable, SchemaUnreadable) as exc:
            log.warning(
                "NCMEC's schema could not be read; checking against the last one read",
                extra={"error": str(exc)},
            )
            fresh = self._schema
        changed = self._schema is None or self._schema.digest != getattr(fresh, "digest", None)
        if fresh is not None and fresh.digest != shipped().digest and changed:
            log.warning(
                "NCMEC's schema differs from the copy shipped with takedown; every report is "
                "checked against both",
                extra={"served_sha256": fresh.digest},
            )
        self._schema = fresh
        return [shipped()] + ([fresh] if fresh is not None else [])

    def _validate(self, tip: Tip, files: list[FilingFile]) -> tuple[bytes, str | None]:
        """The report's XML, and what makes it or its files unfit (None: fit)."""
        document = report_xml(tip)
        try:
            for schema in self.schemas():
                schema.validate(document)
                for file in files:
                    # The ids are NCMEC's to give; placeholders of their shape stand in.
                    schema.validate(file_details_xml(1, file.file_id or "0", file.details))
        except SchemaInvalid as invalid:
            return document, f"the report does not fit NCMEC's schema: {invalid}"
        return document, None

    def file(self, case_id: int) -> Filing | None:
        """Walk one filing's steps as far as they go now."""
        filing, tip, files = self._read(case_id)
        if filing is None or tip is None or filing.state is not FilingState.filing:
            return filing
        s = self.settings
        while True:
            left = [f for f in files if f.described_at is None]
            step = filing.next_step(len(left))
            try:
                if step is FilingStep.submit:
                    filing = self._submit(filing, tip, files)
                elif step is FilingStep.files:
                    self._file(filing, left[0])
                elif step is FilingStep.finish:
                    assert filing.report_id is not None
                    self.channel.finish(filing.report_id)
                    return self._save(
                        filing.done(self.clock.now()),
                        action="ncmec.filed",
                        details={"report_id": filing.report_id, "files": len(files)},
                        event=ReportFiled(
                            case_id=case_id, report_id=filing.report_id, files=len(files)
                        ),
                    )
                else:
                    return filing
            except ChannelRefused as refused:
                log.warning("NCMEC refused a filing step", extra={"case": case_id, "step": step})
                return self._save(
                    filing.refused(str(refused)),
                    action="ncmec.failed",
                    details={"step": str(step), "error": str(refused)},
                )
            except ChannelUnavailable as unknown:
                return self._save(
                    filing.retry_later(
                        str(unknown),
                        self.clock.now(),
                        policy=s.retry,
                    ),
                    action="ncmec.retrying",
                    details={"step": str(step), "error": str(unknown)},
                )
            filing, tip, files = self._read(case_id)
            if filing is None or tip is None:
                return filing
            now = self.clock.now()
            if filing.next_attempt_at is not None and filing.next_attempt_at > now:
                return filing  # a step to try again later
            self._write(partial(_renew, case_id=case_id, until=now + s.retry.lease))

    def _submit(self, filing: Filing, tip: Tip, files: list[FilingFile]) -> Filing:
        if filing.submit_unknown:
            return self._save(
                filing.unanswered_submit(
                    "a filer stopped after sending /submit, before its answer was stored: "
                    "check with NCMEC whether it made a report, then say so here"
                ),
                action="ncmec.needs_attention",
                details={"error": "interrupted after /submit"},
            )
        reported = tip.reported
        with reading(self.db) as uow:
            case = uow.cases.get(filing.case_id)
            priors = (
                uow.filings.prior_reports(filing.case_id, reported.esp_identifier)
                if reported is not None
                else []
            )
        if case is None or case.status is not CaseStatus.confirmed:
            return self._save(
                filing.refused("the case is no longer a confirmed violation: nothing was sent"),
                action="ncmec.failed",
                details={"error": "not confirmed"},
            )
        if reported is not None:  # cite the reports about the account filed since the draft
            tip = replace(tip, reported=replace(reported, prior_reports=tuple(priors)))
        document, unfit = self._validate(tip, files)
        if unfit is not None:
            return self._save(
                filing.refused(unfit), action="ncmec.failed", details={"error": unfit}
            )
        sending = self._save(filing.sending_submit(self.clock.now()), document=document.decode())
        try:
            report_id = self.channel.submit(document)
        except ChannelRefused as refused:
            return self._save(
                sending.refused(str(refused)),
                action="ncmec.failed",
                details={"step": "submit", "error": str(refused)},
            )
        except ChannelUnavailable as unknown:
            if not unknown.sent:  # it never reached NCMEC: sending it again is safe
                s = self.settings
                return self._save(
                    sending.retry_later(
                        str(unknown),
                        self.clock.now(),
                        policy=s.retry,
                    ),
                    action="ncmec.retrying",
                    details={"step": "submit", "error": str(unknown)},
                )
            return self._save(
                sending.unanswered_submit(
                    f"/submit was sent and its answer was lost ({unknown}): check with NCMEC "
                    "whether it made a report, then say so here"
                ),
                action="ncmec.needs_attention",
                details={"error": str(unknown)},
            )
        return self._save(
            sending.submitted(report_id),
            action="ncmec.submitted",
            details={"report_id": report_id},
        )

    def _file(self, filing: Filing, file: FilingFile) -> None:
        assert filing.report_id is not None
        file_id = file.file_id
        if file_id is None:
            data = self._evidence(file.evidence_item_id)
            uploaded = self.channel.upload(
                filing.report_id, file.details.original_file_name or f"item-{file.id}", data
            )
            mine = hashlib.md5(data, usedforsecurity=False).hexdigest()
            if uploaded.md5 is not None and uploaded.md5.lower() != mine:
                raise ChannelUnavailable(
                    f"NCMEC's MD5 of file {uploaded.file_id} ({uploaded.md5}) is not the file's "
                    f"({mine}); it is uploaded again"
                )
            file_id = uploaded.file_id
            at = self.clock.now()
            self._write(
                lambda uow: uow.filings.file_uploaded(file.id, file_id=uploaded.file_id, at=at)
            )
        self.channel.file_info(file_details_xml(filing.report_id, file_id, file.details))
        at = self.clock.now()
        self._write(lambda uow: uow.filings.file_described(file.id, at=at))

    def _evidence(self, item_id: int) -> bytes:
        if self.vault is None:
            raise ChannelRefused("the evidence vault's key is not set: the files cannot be read")
        with reading(self.db) as uow:
            record = uow.evidence.get(item_id)
            sealed = uow.evidence.sealed(item_id)
        if record is None or sealed is None:
            raise ChannelRefused(f"preserved item {item_id} is gone (purged)")
        return unseal(sealed, self.vault.keys, identity=record.identity)


def _claim(uow: UnitOfWork, *, now: datetime, until: datetime, limit: int) -> list[int]:
    return uow.filings.claim_due(now=now, until=until, limit=limit)


def _renew(uow: UnitOfWork, *, case_id: int, until: datetime) -> None:
    uow.filings.renew(case_id, until=until)


def _release(uow: UnitOfWork, *, case_id: int) -> None:
    uow.filings.release(case_id)
