"""Scanning: hash an upload, match it against the banks, record it in the content registry.

One transaction per scan. A scan that matches is audited and publishes ``ContentMatched``
for the work that follows (cases, enforcement); a clean scan writes only the registry row.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from takedown.cases import Category, ReporterRole, ReportSource
from takedown.clock import SYSTEM_CLOCK
from takedown.identity import Permission, Principal, require
from takedown.matching import (
    BankIndexes,
    BankPolicy,
    ContentMatched,
    EntryQuarantined,
    InvalidSignal,
    Match,
    SignalType,
    Verdict,
    normalize,
    upload_values,
    verdict_for,
    video_matches,
    without_allowed,
)
from takedown.matching.vpdq import VpdqFrame
from takedown.media import (
    ImageHashes,
    ImageLimits,
    NotMedia,
    VideoHashes,
    VideoLimits,
    hash_image,
    hash_video,
)
from takedown.services import audit, reports
from takedown.services.errors import InvalidInput
from takedown.services.matcher import Matcher
from takedown.store.uow import UnitOfWork

MAX_ID_LENGTH = 256


@dataclass(frozen=True)
class ScanResult:
    content_id: str
    hashes: ImageHashes | VideoHashes
    matches: list[Match]
    verdict: Verdict
    frames_matched: dict[str, int] | None = None  # videos: frames that matched, per bank


@dataclass(frozen=True)
class LookupResult:
    matches: list[Match]
    verdict: Verdict


def _check_id(value: str | None, field: str, *, required: bool = True) -> str | None:
    if value is None or value == "":
        if required:
            raise InvalidInput(f"{field} is required", field=field)
        return None
    if len(value) > MAX_ID_LENGTH or any(ord(c) < 32 for c in value):
        raise InvalidInput(
            f"{field} must be at most {MAX_ID_LENGTH} printable characters", field=field
        )
    return value


def _record_match(
    uow: UnitOfWork,
    actor: Principal,
    content_id: str,
    account_id: str,
    matches: list[Match],
    verdict: Verdict,
) -> None:
    described = [
        {
            "bank": m.bank,
            "signal_type": m.signal_type.value,
            "entry_id": m.entry_id,
            "distance": m.distance,
        }
        for m in matches
    ]
    audit.record(
        uow,
        actor=actor,
        action="scan.matched",
        target_type="content",
        target_id=content_id,
        details={"verdict": verdict.value, "matches": described},
    )
    uow.publish(
        ContentMatched(
            content_id=content_id, account_id=account_id, verdict=verdict.value, matches=described
        )
    )


@dataclass(frozen=True)
class Scan:
    """A checked, hashed and matched upload, ready to be recorded (``record_scan``)."""

    actor: Principal
    content_id: str
    account_id: str
    parent_content_id: str | None
    result: ScanResult
    registry: dict[str, object]
    frames: list[str] | None = None  # a video's strong frames' PDQ hashes
    flood_limit: int = 0  # the process's flood guard (``Matcher.flood_limit``); 0: off
    scanned_at: datetime | None = None  # by the process's clock


def analyse_media(
    *,
    matcher: Matcher,
    actor: Principal,
    data: bytes,
    content_id: str,
    account_id: str,
    parent_content_id: str | None = None,
    limits: ImageLimits | None = None,
    kind: Literal["any", "image", "video"] = "any",
) -> Scan:
    """Check the ids, hash ``data`` (an image, else a video) and match it; no database write.
    ``kind``: ``image`` raises ``NotMedia`` for anything but an image (so the caller can
    send videos to capacity of their own), ``video`` hashes it as a video only.

    Raises ``MediaError`` for bad media and ``InvalidInput`` for bad ids."""
    require(actor, Permission.scan)
    content_id = _check_id(content_id, "content_id") or ""
    account_id = _check_id(account_id, "account_id") or ""
    parent = _check_id(parent_content_id, "parent_content_id", required=False)
    hashes: ImageHashes | VideoHashes
    if kind == "video":
        hashes = _hash_video(data, limits)
    else:
        try:
            hashes = hash_image(data, limits)
        except NotMedia:
            if kind == "image":
                raise
            hashes = _hash_video(data, limits)
    matches, verdict, frames_matched = match_hashes(matcher.indexes(), hashes, matcher.signal_types)
    record: dict[str, object]
    if isinstance(hashes, ImageHashes):
        record = {
            "media_kind": "image",
            "pdq": hashes.pdq.hex,
            "pdq_quality": hashes.pdq.quality,
            "pdq_variants": ",".join(hashes.pdq.variants) or None,
        }
    else:
        record = {"media_kind": "video"}
    return Scan(
        actor=actor,
        content_id=content_id,
        account_id=account_id,
        parent_content_id=parent,
        result=ScanResult(
            content_id=content_id,
            hashes=hashes,
            matches=matches,
            verdict=verdict,
            frames_matched=frames_matched,
        ),
        registry={**record, "md5": hashes.md5, "sha256": hashes.sha256},
        frames=[f.pdq.hex for f in hashes.frames if not f.pdq.weak]
        if isinstance(hashes, VideoHashes)
        else None,
        flood_limit=matcher.flood_limit,
        scanned_at=matcher.clock.now(),
    )


def match_hashes(
    indexes: BankIndexes,
    hashes: ImageHashes | VideoHashes,
    enabled: frozenset[SignalType] | None = None,
) -> tuple[list[Match], Verdict, dict[str, int] | None]:
    """(matches, verdict, frames matched per bank for a video) of an item's hashes, by the
    signal types ``enabled`` (all when None; ``TAKEDOWN_SIGNAL_TYPES``).

    Each signal type says which value an upload has for it (``matching.SIGNALS``). A video
    also matches a bank when at least half of its sampled frames match the bank's PDQ
    entries (``matching.video_matches``), and a banked video by vPDQ's rule
    (``BankIndexes.lookup_video``); its frame matches act on their own only when it has
    strong frames to show."""
    values = upload_values(hashes, enabled)
    if isinstance(hashes, ImageHashes):
        # A mirrored or rotated copy of a banked picture matches too.
        matches = indexes.lookup(values, pdq_variants=hashes.pdq.variants)
        return matches, verdict_for(matches, pdq_quality=hashes.pdq.quality), None
    exact = indexes.lookup(values)
    framed, frames_matched = video_matches(
        [
            indexes.lookup({SignalType.pdq: f.pdq.hex}, pdq_variants=f.pdq.variants)
            for f in hashes.frames
        ]
        if enabled is None or SignalType.pdq in enabled
        else []
    )
    videos = (
        indexes.lookup_video([VpdqFrame(f.pdq.hex, f.pdq.quality) for f in hashes.frames])
        if enabled is None or SignalType.vpdq in enabled
        else []
    )
    matches = sorted(
        without_allowed(exact + framed + videos), key=lambda m: (m.distance, m.bank, m.entry_id)
    )
    strong = any(not f.pdq.weak for f in hashes.frames)
    return matches, verdict_for(matches, pdq_quality=100 if strong else 0), frames_matched


def record_scan(
    uow: UnitOfWork, scan: Scan, intake: reports.IntakeContext | None = None
) -> ScanResult:
    """Register a scanned item, and audit and publish a match, in ``uow``'s transaction (a
    work function for the group-commit writer: no commit here).

    An item that matches a ``block_and_report`` bank (by an exact hash, or a PDQ hash of good
    quality) opens a case at once, or joins the open one about the same content or media,
    and confirms it as an automated decision, exactly as a report of it would (``intake``:
    what report intake needs; without it no case is opened, for callers that only hash)."""
    uow.content.upsert(
        content_id=scan.content_id,
        account_id=scan.account_id,
        parent_content_id=scan.parent_content_id,
        hashes=scan.registry,
        scanned=True,
    )
    if scan.frames is not None:
        uow.registry.set_frames(scan.content_id, scan.frames)
    result = scan.result
    if result.matches:
        _record_match(
            uow, scan.actor, scan.content_id, scan.account_id, result.matches, result.verdict
        )
        if scan.flood_limit:
            _guard_floods(uow, scan)
        if intake is not None and any(
            m.policy is BankPolicy.block_and_report for m in result.matches
        ):
            reports.store(uow, _automated_report(scan), intake)
    return result


MATCHER = Principal.system("matcher")
FLOOD_WINDOW = timedelta(hours=1)


def _guard_floods(uow: UnitOfWork, scan: Scan) -> None:
    """An entry from outside that has now matched more distinct uploads in the last hour than
    the flood limit is quarantined: its matches ask a person instead of acting, until someone
    enables it again (a bad hash in a shared list, say of a blank frame, would otherwise take
    down everything like it). Every process rebuilds its indexes with it quarantined."""
    now = scan.scanned_at or SYSTEM_CLOCK.now()
    counts = uow.bank_entries.record_hits(
        sorted({m.entry_id for m in scan.result.matches}),
        scan.content_id,
        now,
        now - FLOOD_WINDOW,
    )
    flooding = sorted(e for e, n in counts.items() if n > scan.flood_limit)
    for entry_id in flooding:
        uow.bank_entries.set_quarantined(entry_id, now)
        audit.record(
            uow,
            actor=MATCHER,
            action="bank.entry_quarantined",
            target_type="bank_entry",
            target_id=entry_id,
            details={"uploads_last_hour": counts[entry_id], "limit": scan.flood_limit},
        )
        uow.publish(EntryQuarantined(entry_id=entry_id, uploads_last_hour=counts[entry_id]))
    if flooding:
        uow.banks.bump_version()


def _automated_report(scan: Scan) -> reports.Prepared:
    """The report a bank match files for an upload: no person, source ``scan``. Its key is
    the content id, so scanning the same item again joins the report already made."""
    banks = sorted({m.bank for m in scan.result.matches if m.policy is BankPolicy.block_and_report})
    prepared = reports.prepare(
        actor=MATCHER,
        report_in=reports.ReportCreate(
            category=Category.csam,
            reporter_role=ReporterRole.platform_staff,
            content_id=scan.content_id,
            description=f"Uploaded by account {scan.account_id}; matched the hash bank(s) "
            + ", ".join(banks)
            + " when scanned.",
            idempotency_key=f"scan:{scan.content_id}"[: reports.MAX_IDEMPOTENCY_KEY],
        ),
    )
    return replace(prepared, source=ReportSource.scan)


def scan_media(
    *,
    uow: UnitOfWork,
    matcher: Matcher,
    actor: Principal,
    data: bytes,
    content_id: str,
    account_id: str,
    parent_content_id: str | None = None,
    limits: ImageLimits | None = None,
    intake: reports.IntakeContext | None = None,
) -> ScanResult:
    """``analyse_media`` and ``record_scan`` in one transaction of ``uow``: one transaction per
    scan. Nothing is recorded when the media or the ids are bad."""
    scan = analyse_media(
        matcher=matcher,
        actor=actor,
        data=data,
        content_id=content_id,
        account_id=account_id,
        parent_content_id=parent_content_id,
        limits=limits,
    )
    with uow:
        result = record_scan(uow, scan, intake)
        uow.commit()
    return result


def _hash_video(data: bytes, limits: ImageLimits | None) -> VideoHashes:
    try:
        return hash_video(data, VideoLimits(max_bytes=(limits or ImageLimits()).max_bytes))
    except NotMedia as exc:
        raise NotMedia("the file is not an image or a video of a known format") from exc


def parse_hashes(values: dict[str, str | None]) -> dict[SignalType, str]:
    """Validate {signal type name: value} from a request; raises ``InvalidInput``."""
    parsed: dict[SignalType, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        signal_type = SignalType(name)
        try:
            parsed[signal_type] = normalize(signal_type, value)
        except InvalidSignal as exc:
            raise InvalidInput(str(exc), field=name) from exc
    return parsed


def register_content(
    *,
    uow: UnitOfWork,
    actor: Principal,
    content_id: str,
    account_id: str,
    parent_content_id: str | None = None,
    hashes: dict[SignalType, str] | None = None,
) -> None:
    """Record an item without media, e.g. a repost that carries its parent's media."""
    require(actor, Permission.scan)
    content_id = _check_id(content_id, "content_id") or ""
    account_id = _check_id(account_id, "account_id") or ""
    parent = _check_id(parent_content_id, "parent_content_id", required=False)
    with uow:
        uow.content.upsert(
            content_id=content_id,
            account_id=account_id,
            parent_content_id=parent,
            hashes={t.value: v for t, v in (hashes or {}).items()},
            scanned=False,
        )
        uow.commit()


def lookup(
    *,
    matcher: Matcher,
    actor: Principal,
    hashes: dict[SignalType, str],
    pdq_quality: int | None = None,
) -> LookupResult:
    """Match hashes without media and without recording anything."""
    require(actor, Permission.scan)
    if not hashes:
        raise InvalidInput("give at least one of pdq, md5, sha256")
    matches = matcher.indexes().lookup(hashes)
    return LookupResult(matches=matches, verdict=verdict_for(matches, pdq_quality=pdq_quality))
