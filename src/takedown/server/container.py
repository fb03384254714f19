"""What a web process holds, one of each: the database and its writer, the contexts from
``bootstrap``, the job runtime, and what HTTP needs (pools, caches, rate limits)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property, partial
from typing import Any, TypeVar

from takedown import bootstrap, flows
from takedown.cases import ReviewPolicy, TriagePolicy
from takedown.cases.reasons import ReasonsPolicy
from takedown.clock import Clock
from takedown.config import Settings
from takedown.flows import SYSTEM_EVENTS
from takedown.jobs import HandlerRegistry, Runtime
from takedown.jobs.loop import BackgroundLoop
from takedown.matching import BankIndexes
from takedown.server.auth_cache import CredentialCache
from takedown.server.password_checks import PasswordChecks
from takedown.services import evidence, exchanges, filing, reports
from takedown.services.accounts import LoginPolicy
from takedown.services.case_media import CaseMediaIndex
from takedown.services.enforcement import EnforcementContext, RegistrySearch
from takedown.services.errors import Busy
from takedown.services.matcher import Matcher
from takedown.services.platform_links import LinkResolver
from takedown.services.ratelimits import RateLimit
from takedown.services.review import ReviewSettings
from takedown.services.review_media import MediaSettings, Renditions
from takedown.store import Database, SqlAlchemyUnitOfWork, UnitOfWork
from takedown.store.group_commit import GroupCommitter, commit_work
from takedown.store.work import Work

T = TypeVar("T")


@dataclass
class Container:
    settings: Settings
    db: Database
    registry: HandlerRegistry = field(default_factory=lambda: HandlerRegistry(SYSTEM_EVENTS))
    matcher: Matcher = field(init=False)
    writer: GroupCommitter = field(init=False)
    auth_cache: CredentialCache = field(init=False)
    case_media: CaseMediaIndex = field(init=False)
    registry_media: RegistrySearch = field(init=False)
    _status_key: bytes | None = field(default=None, init=False)
    _videos: int = field(default=0, init=False)  # videos hashing or waiting (event loop only)
    clock: Clock = field(default_factory=Clock)
    """Every clock the process reads (``takedown.clock``): tests hand in one they move."""
    demo_platform_key: str | None = None
    """The demo platform's API key, once ``takedown demo`` made it (development only)."""
    listen_url: str = "http://127.0.0.1:8000"
    """Where this process listens (set by ``takedown serve``): the status links' address in
    development when ``TAKEDOWN_PUBLIC_URL`` is unset. Never taken from a request."""

    def __post_init__(self) -> None:
        self.matcher = Matcher(
            self.db,
            clock=self.clock,
            flood_limit=self.settings.bank_flood_limit,
            signal_types=bootstrap.signal_types(self.settings),
        )
        self.case_media = CaseMediaIndex()
        self.registry_media = RegistrySearch.for_database(self.db)
        self.writer = GroupCommitter(self.db)
        self.auth_cache = CredentialCache(self.settings.auth_cache_seconds, clock=self.clock)
        self.db.on_commit(self.auth_cache.on_commit)
        self.db.on_commit(self.matcher.on_commit)
        # Declared for the whole system, so every process stores the same events done.
        self.db.done_at_publish = self.registry.catalogue.record_only
        # The after-commit reactions (``flows``), for the types the registry's catalogue
        # handles (the system's; a test's own may handle fewer).
        flows.wire(self.registry, self)

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def emails_reporters(self) -> bool:
        """Whether reporters are e-mailed (a mail server or the development mailbox)."""
        return bootstrap.emails_reporters(self.settings)

    @cached_property
    def filing_settings(self) -> filing.FilingSettings:
        return bootstrap.filing_settings(self.settings)

    @cached_property
    def vault(self) -> evidence.Vault | None:
        """The evidence vault's keys (``TAKEDOWN_EVIDENCE_KEY``); None: nothing is preserved."""
        return bootstrap.vault(self.settings)

    @cached_property
    def media_pool(self) -> ThreadPoolExecutor:
        """The threads that hash uploads: one per core this process may run on (or
        ``TAKEDOWN_HASH_THREADS``). Hashing is CPU work; more threads than cores only adds
        switching and evicts each other's image buffers from the cache."""
        threads = self.settings.hash_threads or len(os.sched_getaffinity(0))
        return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="takedown-hash")

    @cached_property
    def video_pool(self) -> ThreadPoolExecutor:
        """The threads that hash videos (``TAKEDOWN_VIDEO_THREADS``): apart from the image
        threads, so a few long videos never hold up the image scans behind them."""
        threads = self.settings.video_threads or max(1, len(os.sched_getaffinity(0)) // 2)
        return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="takedown-video")

    async def hash_video(self, work: Callable[[], T]) -> T:
        """Run ``work`` (a video's hashing) on the video threads, with at most
        ``TAKEDOWN_VIDEO_QUEUE`` videos running or waiting in this process; past that,
        ``Busy``."""
        if self._videos >= self.settings.video_queue:
            raise Busy(
                f"this server is hashing {self._videos} videos; send this one again shortly",
                retry_after=10,
            )
        self._videos += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.video_pool, work)
        finally:
            self._videos -= 1

    @cached_property
    def hash_inline_bytes(self) -> int:
        """Uploads up to this size are hashed on the event loop (``TAKEDOWN_HASH_INLINE_BYTES``),
        only in a process that may run on one core and was given no hashing threads; else 0."""
        s = self.settings
        if s.hash_threads or len(os.sched_getaffinity(0)) != 1:
            return 0
        return s.hash_inline_bytes

    def close_media_pool(self) -> None:
        for name in ("media_pool", "video_pool", "password_checks"):
            pool = self.__dict__.pop(name, None)
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    @cached_property
    def triage_policy(self) -> TriagePolicy:
        return bootstrap.triage_policy(self.settings)

    @cached_property
    def enforcement(self) -> EnforcementContext:
        return EnforcementContext(
            media=self.registry_media,
            policies=bootstrap.account_policies(self.settings),
            draft_report=self._draft_report,
            reasons=self.reasons_policy,
        )

    @cached_property
    def reasons_policy(self) -> ReasonsPolicy:
        return bootstrap.reasons_policy(self.settings)

    def _draft_report(self, uow: UnitOfWork, case_id: int, now: datetime) -> None:
        filing.draft(uow, case_id=case_id, settings=self.filing_settings, now=now)

    @cached_property
    def review_settings(self) -> ReviewSettings:
        s = self.settings
        return ReviewSettings(
            policy=ReviewPolicy(claim_for=timedelta(minutes=s.review_claim_minutes)),
            sample_share=s.review_sample_percent / 100,
            email=bootstrap.emails_reporters(s),
            enforcement=self.enforcement,
        )

    @cached_property
    def media_settings(self) -> MediaSettings:
        return bootstrap.media_settings(self.settings)

    @property
    def reveal_key(self) -> bytes:
        """The key of reveal tokens (``services.review_media``), derived from the
        installation's own secret. May read the store."""
        return hmac.new(self.status_key, b"takedown reveal tokens", hashlib.sha256).digest()

    @cached_property
    def report_page_limit(self) -> RateLimit:
        return bootstrap.rate_limits(self.settings)["report-page"]

    @cached_property
    def status_reply_limit(self) -> RateLimit:
        return bootstrap.rate_limits(self.settings)["status-reply"]

    @cached_property
    def login_address_limit(self) -> RateLimit:
        return bootstrap.rate_limits(self.settings)["login-address"]

    @cached_property
    def exposure_policy(self) -> reports.ExposurePolicy:
        return bootstrap.exposure_policy(self.settings)

    @property
    def public_url(self) -> str:
        """The address reporters reach: ``TAKEDOWN_PUBLIC_URL`` (required in production), else
        the address this process listens on. A request's ``Host`` header is client input and
        is never used: it would let anyone make status links and e-mails point elsewhere."""
        return self.settings.public_url or self.listen_url

    def status_url(self, token: str) -> str:
        """A reporter's status link, on ``public_url``."""
        return reports.status_url(self.public_url, token)

    @property
    def status_key(self) -> bytes:
        """The installation's status-link key (read from the store once). May read the store."""
        if self._status_key is None:
            self._status_key = reports.status_key(self.uow(readonly=True))
        return self._status_key

    def intake(self) -> reports.IntakeContext:
        """What report intake needs: the current bank indexes, the triage policy, the
        status-link key, and where status links point (for e-mails to reporters, sent when a
        mail server is set). May read the store: from the event loop use ``intake_async``."""
        self.status_key  # noqa: B018 (loads it)
        return self._intake(self.matcher.indexes())

    async def intake_async(self) -> reports.IntakeContext:
        """``intake`` for the event loop: reading the store (the bank version once a second, a
        rebuild after a bank changed) happens on a thread, so the writer's work on the loop
        never waits for I/O."""
        indexes = self.matcher.fresh()
        if indexes is None or self._status_key is None:
            return await asyncio.to_thread(self.intake)
        return self._intake(indexes)

    def _intake(self, indexes: BankIndexes) -> reports.IntakeContext:
        assert self._status_key is not None
        return reports.IntakeContext(
            indexes=indexes,
            policy=self.triage_policy,
            status_key=self._status_key,
            status_base_url=self.public_url,
            exposure=self.exposure_policy,
            email=bootstrap.emails_reporters(self.settings),
            case_media=self.case_media,
            clock=self.clock,
            enforcement=self.enforcement,
            preserve_evidence=self.vault is not None and bool(self.settings.platform_media_url),
        )

    async def run_work(self, work: Work[T]) -> T:
        """Run a work function (``store.work``) and return its result once it is committed:
        the one way an adapter writes on a hot path. The group-commit writer runs it with
        whatever else is waiting, in one transaction."""
        return await self.writer.run(work)

    def commit_work(self, work: Work[T]) -> T:
        """``run_work`` for a thread (never the event loop's): through the group-commit
        writer while it runs, so the work never waits for SQLite's write lock beside it; in a
        transaction of its own before the writer starts or after it stops."""
        return commit_work(self.db, self.writer, work)

    def uow(self, *, readonly: bool = False) -> SqlAlchemyUnitOfWork:
        return SqlAlchemyUnitOfWork(self.db, readonly=readonly)

    def bank_indexes(self) -> BankIndexes:
        """The process's bank indexes, current (may read the store)."""
        return self.matcher.indexes()

    def exchange_sync(self) -> exchanges.SyncDeps:
        """What an exchange's sync and feedback need from this process."""
        return exchanges.SyncDeps(
            uow=self.uow,
            matcher=self.matcher,
            vault=self.vault,
            now=self.clock.now,
            reader=lambda: self.uow(readonly=True),
        )

    @property
    def login_policy(self) -> LoginPolicy:
        s = self.settings
        return LoginPolicy(
            max_failures=s.login_max_failures,
            lockout=timedelta(seconds=s.login_lockout_seconds),
            session_ttl=timedelta(seconds=s.session_ttl_seconds),
            address_limit=self.login_address_limit,
            verify=self.password_checks.verify,
            trusted_verify=partial(self.password_checks.verify, first=True),
            busy=self.password_checks.busy,
            commit=self.commit_work,
        )

    @cached_property
    def link_resolver(self) -> LinkResolver | None:
        """The platform's resolve call (``services.platform_links``), where it is set."""
        s = self.settings
        if not s.platform_resolve_url or not s.platform_webhook_secret:
            return None
        return LinkResolver(url=s.platform_resolve_url, secret=s.platform_webhook_secret)

    @cached_property
    def renditions(self) -> Renditions:
        """Blurred renditions made lately, bounded by bytes (``services.review_media``)."""
        return Renditions()

    @cached_property
    def password_checks(self) -> PasswordChecks:
        """The thread that checks passwords, at the lowest priority (``server.password_checks``)."""
        return PasswordChecks()

    @property
    def ncmec_configured(self) -> bool:
        """NCMEC's Reporting API is set up (address and credentials): filing can happen."""
        return bootstrap.ncmec_settings(self.settings) is not None

    @cached_property
    def lanes(self) -> list[str]:
        """Every lane of deferred work (in the distributed mode, a queue each)."""
        return bootstrap.all_lanes(self.registry)

    @cached_property
    def table_lanes(self) -> dict[str, BackgroundLoop]:
        """The lanes over tables of their own, for a distributed worker's passes
        (``bootstrap.table_lanes``; no group-commit writer: a worker commits its own)."""
        return bootstrap.table_lanes(
            self.settings,
            self.db,
            writer=None,
            clock=self.clock,
            vault=self.vault,
            filing_with=self.filing_settings,
            exchange_sync=self.exchange_sync(),
        )

    @cached_property
    def runtime(self) -> Runtime:
        """This process's job runtime (``bootstrap.runtime``): started with the app where
        ``TAKEDOWN_WORKER`` is on, by ``takedown worker`` on its own."""
        return bootstrap.runtime(
            self.settings,
            self.db,
            self.registry,
            writer=self.writer,
            clock=self.clock,
            vault=self.vault,
            filing_with=self.filing_settings,
            exchange_sync=self.exchange_sync(),
        )


def build_container(settings: Settings | None = None) -> Container:
    """Wire a container from settings (the environment when none are given)."""
    settings = settings or Settings()
    settings.check_production()
    db = Database(
        settings.effective_database_url, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms
    )
    return Container(settings=settings, db=db, registry=bootstrap.default_registry(settings))


def container_of(request: Any) -> Container:
    """The container of the app serving ``request`` (``TakedownApp.container``). Not kept in
    ``app.state``: Starlette's ``State`` answers from ``__getattr__``, after the ordinary
    lookup has raised and cleared an ``AttributeError``, on every read."""
    c = request.app.container
    assert isinstance(c, Container)
    return c
