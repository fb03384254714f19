"""Hash exchanges: the NCMEC, StopNCII, ThreatExchange and file lists a bank is kept in step
with.

An exchange is configured per bank (``add_exchange``) with its kind, its API root and its
credentials, which are sealed with the evidence vault's key where one is set and are never
read back but by the sync. A sync pass (``sync_exchange``; the ``exchanges`` lane runs them
on each exchange's schedule) reads the pages the exchange's client yields from the stored
checkpoint, fetching ahead on a thread, and stores them in transactions of their own (the
pages that wait together in one): their new hashes added with their provenance, withdrawn
ones switched off, the checkpoint moved past them, the records the client could not read
kept with the exchange's errors. A page's hashes count for uploads as soon as it
commits (this process's indexes take them in place; others see the bank version move), and
its new entries start retroactive matching (``BankEntriesAdded``). A pass that dies between
pages resumes at the page it had not stored. A pass that fails is tried again after the
``RetryPolicy``'s back-off; after the last attempt it waits for the exchange's next turn.

Feedback: when a person or the matcher decides a case whose media matched an exchange's
entries, the exchange is owed one feedback per entry (confirmed or rejected) and the lane
sends it (``owe_feedback``, ``send_feedback``), once per case, entry and verdict.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from takedown.evidence import Sealed, VaultError, seal, unseal
from takedown.identity import Permission, Principal, require
from takedown.jobs.loop import BackgroundLoop
from takedown.matching import BankEntriesAdded, BankIndexes, IndexedEntry, SignalType
from takedown.matching.exchanges import (
    EXCHANGE_NAME,
    EntriesWithdrawn,
    Exchange,
    ExchangeClient,
    ExchangeError,
    ExchangeKind,
    ExchangeRefused,
    Feedback,
    FeedbackItem,
    Page,
    merge_pages,
    merge_problems,
)
from takedown.retry import RetryPolicy
from takedown.services import audit
from takedown.services.errors import Conflict, InvalidInput, NotFound
from takedown.services.evidence import Vault
from takedown.services.exchanges.files import FileListClient
from takedown.services.exchanges.ncmec_hashes import NcmecHashClient
from takedown.services.exchanges.stopncii import StopNciiClient
from takedown.services.exchanges.threatexchange import ThreatExchangeClient
from takedown.services.matcher import Matcher, item_matches
from takedown.store.exchange_repos import PageApplied, StoredCredentials
from takedown.store.uow import UnitOfWork

log = logging.getLogger("takedown.exchanges")

CLIENTS: dict[ExchangeKind, Callable[[str, Mapping[str, Any]], ExchangeClient]] = {
    ExchangeKind.ncmec: NcmecHashClient,
    ExchangeKind.stopncii: StopNciiClient,
    ExchangeKind.threatexchange: ThreatExchangeClient,
    ExchangeKind.file: FileListClient,
}
CLIENTS_TAKE_FEEDBACK = {kind: getattr(c, "takes_feedback", False) for kind, c in CLIENTS.items()}
DEFAULT_INTERVAL = 900
MIN_INTERVAL = 60
SYNC_RETRY = RetryPolicy(
    max_attempts=6, backoff_seconds=30.0, max_backoff_seconds=3600.0, lease_seconds=600.0
)
FEEDBACK_RETRY = RetryPolicy(max_attempts=10, backoff_seconds=30.0, lease_seconds=60.0)
SYNCER = Principal.system("exchange-sync")


@dataclass
class SyncResult:
    """What one pass did."""

    exchange: str
    pages: int = 0
    fetched: int = 0
    added: int = 0
    withdrawn: int = 0
    restored: int = 0
    problems: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _identity(name: str) -> str:
    return f"exchange-credentials:{name}"


def _store_credentials(
    name: str, credentials: Mapping[str, Any] | None, vault: Vault | None
) -> StoredCredentials | None:
    if not credentials:
        return None
    data = json.dumps(dict(credentials), sort_keys=True).encode()
    if vault is None:
        return StoredCredentials(data, None, None)
    sealed = seal(data, vault.key, identity=_identity(name))
    return StoredCredentials(sealed.ciphertext, sealed.wrapped_key, sealed.key_fingerprint)


def _read_credentials(
    name: str, stored: StoredCredentials | None, vault: Vault | None
) -> dict[str, Any]:
    if stored is None:
        return {}
    if stored.key is None:
        data = stored.data
    else:
        if vault is None:
            raise ExchangeRefused(
                "the exchange's credentials are sealed, and TAKEDOWN_EVIDENCE_KEY is not set"
            )
        assert stored.wrapped_key is not None
        try:
            data = unseal(
                Sealed(stored.data, stored.wrapped_key, stored.key),
                vault.keys,
                identity=_identity(name),
            )
        except VaultError as exc:
            raise ExchangeRefused(f"the exchange's credentials cannot be opened: {exc}") from None
    value = json.loads(data)
    return value if isinstance(value, dict) else {}


def _check_credentials(kind: ExchangeKind, credentials: Mapping[str, Any] | None) -> None:
    required = {
        ExchangeKind.ncmec: ("username", "password"),
        ExchangeKind.stopncii: ("subscription_key", "functions_key"),
        ExchangeKind.threatexchange: ("access_token",),
        ExchangeKind.file: (),
    }[kind]
    given = dict(credentials or {})
    missing = [k for k in required if not isinstance(given.get(k), str) or not given[k]]
    if missing:
        raise InvalidInput(
            f"a {kind} exchange's credentials need {', '.join(required)} (missing: "
            f"{', '.join(missing)})",
            field="credentials",
        )
    for key, value in given.items():
        if not isinstance(key, str) or not isinstance(value, str | dict):
            raise InvalidInput("credentials are an object of strings", field="credentials")


def add_exchange(
    *,
    uow: UnitOfWork,
    actor: Principal,
    vault: Vault | None,
    name: str,
    kind: ExchangeKind,
    bank: str,
    url: str,
    credentials: Mapping[str, Any] | None = None,
    interval_seconds: int = DEFAULT_INTERVAL,
    now: datetime,
) -> Exchange:
    """Configure an exchange for ``bank``; its first sync is due at once."""
    require(actor, Permission.banks_manage)
    if not EXCHANGE_NAME.match(name):
        raise InvalidInput(
            "exchange names are 1-64 lowercase letters, digits, '_' or '-'", field="name"
        )
    url = url.strip()
    if not url or len(url) > 2000 or any(ord(c) < 32 for c in url):
        raise InvalidInput("url is the exchange's API root (or the list's address)", field="url")
    if kind is not ExchangeKind.file and not url.startswith(("https://", "http://")):
        raise InvalidInput(f"a {kind} exchange's url is its http(s) API root", field="url")
    if interval_seconds < MIN_INTERVAL:
        raise InvalidInput(f"interval_seconds is at least {MIN_INTERVAL}", field="interval_seconds")
    _check_credentials(kind, credentials)
    with uow:
        target = uow.banks.get_by_name(bank)
        if target is None:
            raise NotFound(f"no bank named {bank!r}")
        if uow.exchanges.get_by_name(name) is not None:
            raise Conflict(f"an exchange named {name!r} exists", field="name")
        exchange = uow.exchanges.add(
            name=name,
            kind=kind,
            bank_id=target.id,
            url=url,
            credentials=_store_credentials(name, credentials, vault),
            interval_seconds=interval_seconds,
            now=now,
        )
        audit.record(
            uow,
            actor=actor,
            action="exchange.added",
            target_type="exchange",
            target_id=exchange.id,
            details={
                "name": name,
                "kind": kind.value,
                "bank": bank,
                "url": url,
                "sealed": vault is not None,
            },
        )
        uow.commit()
    return exchange


def list_exchanges(*, uow: UnitOfWork, actor: Principal) -> list[Exchange]:
    require(actor, Permission.banks_read)
    with uow:
        return uow.exchanges.all()


def get_exchange(*, uow: UnitOfWork, actor: Principal, name: str) -> tuple[Exchange, int]:
    """The exchange and how many of its entries are live in its bank."""
    require(actor, Permission.banks_read)
    with uow:
        exchange = uow.exchanges.get_by_name(name)
        if exchange is None:
            raise NotFound(f"no exchange named {name!r}")
        return exchange, uow.exchanges.live_entries(exchange.id)


def request_sync(*, uow: UnitOfWork, actor: Principal, name: str, now: datetime) -> Exchange:
    """Make ``name``'s next pass due now (the ``exchanges`` lane takes it at its next look)."""
    require(actor, Permission.banks_manage)
    with uow:
        exchange = uow.exchanges.get_by_name(name)
        if exchange is None:
            raise NotFound(f"no exchange named {name!r}")
        uow.exchanges.update(exchange.id, next_run_at=now, attempts=0)
        audit.record(
            uow,
            actor=actor,
            action="exchange.sync_requested",
            target_type="exchange",
            target_id=exchange.id,
            details={"exchange": name},
        )
        uow.commit()
    return exchange


@dataclass
class SyncDeps:
    """What a pass needs from its process: units of work (one per page), the process's
    matcher, the vault, the clock, and the clients."""

    uow: Callable[[], UnitOfWork]
    matcher: Matcher
    vault: Vault | None
    now: Callable[[], datetime]
    clients: Mapping[ExchangeKind, Callable[[str, Mapping[str, Any]], ExchangeClient]] = field(
        default_factory=lambda: dict(CLIENTS)
    )
    retry: RetryPolicy = SYNC_RETRY
    reader: Callable[[], UnitOfWork] | None = None

    def write(self, work: Callable[[UnitOfWork], Any]) -> Any:
        """Run ``work`` in a transaction of its own; it commits what it keeps."""
        with self.uow() as uow:
            return work(uow)

    def read(self) -> UnitOfWork:
        """A unit of work to read in (read-only where ``reader`` is given: on SQLite it never
        takes the write lock, so a lane that finds nothing to do costs writers nothing)."""
        return self.reader() if self.reader is not None else self.uow()


def check_exchange(deps: SyncDeps, *, name: str, actor: Principal) -> tuple[bool, str]:
    """Try ``name``'s address and credentials with one cheap request: (worked, what it said,
    or what went wrong). Changes nothing."""
    require(actor, Permission.banks_manage)
    with deps.read() as uow:
        exchange = uow.exchanges.get_by_name(name)
        if exchange is None:
            raise NotFound(f"no exchange named {name!r}")
        stored = uow.exchanges.credentials(exchange.id)
    try:
        client = deps.clients[exchange.kind](
            exchange.url, _read_credentials(exchange.name, stored, deps.vault)
        )
        return True, client.check()
    except ExchangeError as exc:
        return False, str(exc)


def sync_exchange(
    deps: SyncDeps, *, name: str, actor: Principal, claimed: Exchange | None = None
) -> SyncResult:
    """One pass of ``name``'s sync now, from its checkpoint. Raises ``NotFound`` for no such
    exchange and ``Conflict`` while another process runs its pass; an exchange that fails is
    not an exception: the result says what failed, and the next pass is scheduled."""
    require(actor, Permission.banks_manage)
    exchange = claimed
    if exchange is None:
        now = deps.now()
        with deps.read() as uow:
            found = uow.exchanges.get_by_name(name)
        if found is None:
            raise NotFound(f"no exchange named {name!r}")
        exchange = deps.write(
            partial(_claim, exchange_id=found.id, now=now, lease=deps.retry.lease)
        )
        if exchange is None:
            raise Conflict(f"the exchange {name!r} is syncing in another process")
    result = SyncResult(exchange=exchange.name)
    checkpoint: dict[str, Any] = exchange.checkpoint
    try:
        with deps.read() as uow:
            stored = uow.exchanges.credentials(exchange.id)
        client = deps.clients[exchange.kind](
            exchange.url, _read_credentials(exchange.name, stored, deps.vault)
        )
        for pages, page in _arrived(client.pages(checkpoint or None, deps.now())):
            applied = deps.write(
                partial(_store_page, exchange=exchange, page=page, deps=deps, actor=actor)
            )
            result.pages += pages
            result.fetched += len(page.entries) + len(page.removed)
            result.added += len(applied.added)
            result.withdrawn += len(applied.withdrawn)
            result.restored += len(applied.restored)
            result.problems += page.problems
            checkpoint = page.checkpoint
    except ExchangeError as exc:
        result.error = str(exc)
    except Exception as exc:  # a client's bug stays with its exchange, like a failure
        log.exception("an exchange's sync failed", extra={"exchange": exchange.name})
        result.error = f"an internal error stopped this sync ({type(exc).__name__}); see the log"
    deps.write(lambda uow: _finish(uow, exchange, result, deps))
    if result.added:
        deps.matcher.compact()  # the pages' hashes leave the index's scanned tail
    return result


BATCH_ENTRIES = 10_000
_DONE = object()


def _arrived(pages: Iterator[Page], *, most: int = BATCH_ENTRIES) -> Iterator[tuple[int, Page]]:
    """The exchange's pages as they arrive, fetched on a thread of their own while the ones
    before are stored, and stored together (``merge_pages``: up to ``most`` entries in one
    transaction) when more than one is waiting. Whatever had arrived is yielded before an
    error of the fetch is raised, so the pages before a bad one are kept. Yields (how many
    pages, the page to store)."""
    arrived: queue.Queue[Any] = queue.Queue(maxsize=8)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for page in pages:
                while not stop.is_set():
                    try:
                        arrived.put(page, timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            arrived.put(_DONE)
        except BaseException as exc:  # handed to the consumer, whatever it is
            arrived.put(exc)

    fetcher = threading.Thread(target=fetch, name="takedown-exchange-fetch", daemon=True)
    fetcher.start()
    waiting: list[Page] = []
    try:
        while True:
            try:
                item = arrived.get(block=not waiting)
            except queue.Empty:  # nothing more has arrived: store what has
                yield len(waiting), merge_pages(waiting)
                waiting = []
                continue
            if isinstance(item, Page):
                waiting.append(item)
                if sum(len(p.entries) for p in waiting) >= most or item.complete:
                    yield len(waiting), merge_pages(waiting)
                    waiting = []
                continue
            if waiting:
                yield len(waiting), merge_pages(waiting)
                waiting = []
            if item is _DONE:
                return
            raise item
    finally:
        stop.set()
        fetcher.join(5)


def _store_page(
    uow: UnitOfWork, *, exchange: Exchange, page: Page, deps: SyncDeps, actor: Principal
) -> PageApplied:
    now = deps.now()
    applied = uow.exchanges.apply_page(exchange, page, now)
    current = uow.exchanges.get(exchange.id)
    assert current is not None
    uow.exchanges.update(
        exchange.id,
        checkpoint=page.checkpoint,
        leased_until=now + deps.retry.lease,  # a page stored: the pass is alive
        fetched=current.fetched + len(page.entries) + len(page.removed),
        added=current.added + len(applied.added),
        withdrawn=current.withdrawn + len(applied.withdrawn),
        errors=merge_problems(current.errors, page.problems, now),
    )
    changed = applied.added or applied.withdrawn or applied.restored
    if not changed:
        uow.commit()
        return applied
    audit.record(
        uow,
        actor=actor,
        action="exchange.page_stored",
        target_type="exchange",
        target_id=exchange.id,
        details={
            "exchange": exchange.name,
            "added": len(applied.added),
            "withdrawn": len(applied.withdrawn),
            "restored": len(applied.restored),
            "problems": len(page.problems),
        },
    )
    if applied.withdrawn:
        uow.publish(
            EntriesWithdrawn(
                bank_id=exchange.bank_id, exchange=exchange.name, entry_ids=applied.withdrawn
            )
        )
    if applied.added:
        ids = [e.entry_id for e in applied.added]
        uow.publish(
            BankEntriesAdded(
                bank_id=exchange.bank_id, first_entry_id=min(ids), last_entry_id=max(ids)
            )
        )
    version = uow.banks.bump_version()
    uow.commit()
    deps.matcher.applied(version, lambda ix: _apply(ix, applied.added, applied))
    return applied


def _apply(indexes: BankIndexes, added: list[IndexedEntry], applied: PageApplied) -> None:
    indexes.add(added)
    for entry_id in applied.withdrawn:
        indexes.set_active(entry_id, False)
    for entry_id in applied.restored:
        indexes.set_active(entry_id, True)


def _finish(uow: UnitOfWork, exchange: Exchange, result: SyncResult, deps: SyncDeps) -> None:
    now = deps.now()
    current = uow.exchanges.get(exchange.id)
    if current is None:
        return
    if result.ok:
        attempts = 0
        next_run = now + timedelta(seconds=current.interval_seconds)
        values: dict[str, Any] = {"last_success_at": now}
    else:
        attempts = current.attempts + 1
        retry_at = deps.retry.next_try(attempts, now)
        # After the last quick retry the exchange waits for its next turn, and starts over.
        next_run = retry_at or now + timedelta(seconds=current.interval_seconds)
        attempts = attempts if retry_at is not None else 0
        values = {"errors": merge_problems(current.errors, [str(result.error)], now)}
        log.warning(
            "an exchange's sync failed",
            extra={"exchange": exchange.name, "error": result.error, "retry_at": str(next_run)},
        )
    uow.exchanges.update(
        exchange.id,
        attempts=attempts,
        next_run_at=next_run,
        leased_until=None,
        last_fetch_at=now,
        **values,
    )
    audit.record(
        uow,
        actor=SYNCER,
        action="exchange.synced" if result.ok else "exchange.sync_failed",
        target_type="exchange",
        target_id=exchange.id,
        details={
            "exchange": exchange.name,
            "pages": result.pages,
            "added": result.added,
            "withdrawn": result.withdrawn,
            "problems": len(result.problems),
            "error": result.error,
        },
    )
    uow.commit()


def sync_due(deps: SyncDeps) -> list[SyncResult]:
    """The passes due now, each exchange held by one process at a time."""
    results: list[SyncResult] = []
    with deps.read() as uow:  # most looks find nothing due: no write for them
        if not uow.exchanges.any_due(deps.now()):
            return results
    while True:
        exchange = deps.write(
            partial(_claim, exchange_id=None, now=deps.now(), lease=deps.retry.lease)
        )
        if exchange is None:
            return results
        results.append(sync_exchange(deps, name=exchange.name, actor=SYNCER, claimed=exchange))


def _claim(
    uow: UnitOfWork, *, exchange_id: int | None, now: datetime, lease: timedelta
) -> Exchange | None:
    """Hold an exchange's pass (``exchange_id``'s, else the one longest due); None: held
    elsewhere, or none due."""
    if exchange_id is None:
        exchange = uow.exchanges.claim_due(now, now + lease)
    else:
        exchange = uow.exchanges.claim(exchange_id, now, now + lease)
    uow.commit()
    return exchange


# Feedback.


@dataclass(frozen=True)
class MatchSource:
    """A bank entry an item's media matches now, and where the entry came from: a reviewer
    knows why something matched."""

    bank: str
    signal_type: str
    distance: int
    entry_id: int
    source: str  # the entry's source: "confirmed", an import's name, "exchange:NAME"
    exchange: str | None = None
    external_id: str | None = None
    tags: tuple[str, ...] = ()
    fetched_at: str | None = None


def match_sources(
    uow: UnitOfWork, *, indexes: BankIndexes, content_ids: list[str]
) -> dict[str, list[MatchSource]]:
    """Per item, the bank entries its media matches now with their provenance (for the case
    page; the caller has checked that the case may be read). Opens ``uow``."""
    with uow:
        matches = {cid: item_matches(uow, indexes, cid) for cid in content_ids}
        ids = sorted({m.entry_id for found in matches.values() for m in found})
        provenance = uow.exchanges.entry_provenance(ids) if ids else {}
        sources = uow.exchanges.entry_sources(ids) if ids else {}
    out: dict[str, list[MatchSource]] = {}
    for cid, found in matches.items():
        out[cid] = []
        for m in found:
            p = provenance.get(m.entry_id, {})
            out[cid].append(
                MatchSource(
                    bank=m.bank,
                    signal_type=m.signal_type.value,
                    distance=m.distance,
                    entry_id=m.entry_id,
                    source=sources.get(m.entry_id, ""),
                    exchange=p.get("exchange"),
                    external_id=p.get("external_id"),
                    tags=tuple(p.get("tags", ())),
                    fetched_at=p.get("fetched_at"),
                )
            )
    return out


def owe_feedback(
    uow: UnitOfWork,
    *,
    case_id: int,
    verdict: Feedback,
    indexes: BankIndexes,
    now: datetime,
) -> int:
    """Record the feedback a decision owes: one per exchange entry the case's media match.
    Returns how many are newly owed (a second run of the same reaction owes none). Where no
    exchange takes feedback, nothing is looked up."""
    if not any(CLIENTS_TAKE_FEEDBACK.get(e.kind, False) for e in uow.exchanges.all()):
        return 0
    entry_ids = {
        m.entry_id
        for content_id in uow.cases.case_content_ids(case_id)
        for m in item_matches(uow, indexes, content_id)
    }
    if not entry_ids:
        return 0
    owed = 0
    for entry_id, exchange_id, _, _, _ in uow.exchanges.exchange_entries(sorted(entry_ids)):
        exchange = uow.exchanges.get(exchange_id)
        if exchange is None or not CLIENTS_TAKE_FEEDBACK.get(exchange.kind, False):
            continue
        owed += uow.exchanges.owe_feedback(
            exchange_id=exchange_id, entry_id=entry_id, case_id=case_id, verdict=verdict, now=now
        )
    return owed


def send_feedback(deps: SyncDeps, *, limit: int = 50, retry: RetryPolicy = FEEDBACK_RETRY) -> int:
    """Send the feedback due; how much was tried."""
    now = deps.now()
    with deps.read() as uow:
        if not uow.exchanges.feedback_due(now, 1, lock=False):
            return 0
    due = deps.write(lambda uow: _claim_feedback(uow, now, now + retry.lease, limit))
    for item, exchange, stored in due:
        error: str | None = None
        try:
            client = deps.clients[exchange.kind](
                exchange.url, _read_credentials(exchange.name, stored, deps.vault)
            )
            client.send_feedback(item[1])
        except ExchangeError as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("feedback to an exchange failed", extra={"exchange": exchange.name})
            error = f"an internal error stopped this feedback ({type(exc).__name__})"
        feedback_id, attempts = item[0], item[2]
        deps.write(
            partial(
                _feedback_done,
                feedback_id=feedback_id,
                error=error,
                attempts=attempts,
                now=deps.now(),
                retry=retry,
            )
        )
    return len(due)


def _claim_feedback(
    uow: UnitOfWork, now: datetime, until: datetime, limit: int
) -> list[tuple[tuple[int, FeedbackItem, int], Exchange, StoredCredentials | None]]:
    out = []
    for due in uow.exchanges.feedback_due(now, limit):
        exchange = uow.exchanges.get(due.exchange_id)
        rows = uow.exchanges.exchange_entries([due.entry_id])
        if exchange is None or not rows:
            uow.exchanges.feedback_done(due.id, sent_at=None, error="entry gone", retry_at=None)
            continue
        _, _, external_id, signal_type, value = rows[0]
        uow.exchanges.hold_feedback(due.id, until)
        item = FeedbackItem(external_id, SignalType(signal_type), value, due.verdict)
        out.append(((due.id, item, due.attempts), exchange, uow.exchanges.credentials(exchange.id)))
    uow.commit()
    return out


def _feedback_done(
    uow: UnitOfWork,
    *,
    feedback_id: int,
    error: str | None,
    attempts: int,
    now: datetime,
    retry: RetryPolicy,
) -> None:
    if error is None:
        uow.exchanges.feedback_done(feedback_id, sent_at=now, error=None, retry_at=None)
    else:
        retry_at = retry.next_try(attempts + 1, now)
        uow.exchanges.feedback_done(feedback_id, sent_at=None, error=error, retry_at=retry_at)
    uow.commit()


class ExchangeLane(BackgroundLoop):
    """The ``exchanges`` lane of the job runtime: the syncs due (each exchange on its own
    schedule, held by one process at a time) and the feedback owed. It polls every
    ``poll_seconds``; a decision that owes feedback wakes it."""

    thread_name = "takedown-exchanges"
    log_name = "takedown.exchanges"

    def __init__(self, deps: SyncDeps, *, poll_seconds: float = 5.0) -> None:
        self.deps = deps
        self.poll_seconds = poll_seconds
        super().__init__()

    def run_once(self) -> int:
        return len(sync_due(self.deps)) + send_feedback(self.deps)
