"""From settings to what the use cases and the reactions are given: the contexts, built the
same way in every process (``server.Container`` holds one of each, and adds what HTTP needs:
pools, the writer, caches), this process's handlers and its job runtime. The contexts are
pure functions of ``Settings``: nothing here opens a connection.
"""

from __future__ import annotations

from datetime import timedelta

from takedown import flows
from takedown.cases import Category, Priority, ReporterEmailQueued, ReviewPolicy, TriagePolicy
from takedown.cases.enforcement import AccountPolicy
from takedown.cases.reasons import DEFAULT_LEGAL_GROUNDS, ReasonsPolicy
from takedown.clock import Clock
from takedown.config import Settings, category_set, legal_grounds, territorial_scope
from takedown.evidence import MasterKey
from takedown.jobs import HandlerRegistry, Runtime, Worker
from takedown.jobs.loop import BackgroundLoop
from takedown.jobs.relay import Publisher, Relay, Schedule
from takedown.jobs.worker import default_worker_id
from takedown.matching import SignalType
from takedown.matching.signals import parse_enabled
from takedown.retry import RetryPolicy
from takedown.services import evidence, exchanges, filing, maintenance, reports
from takedown.services.delivery import Deliverer, DeliverySettings
from takedown.services.filing import Filer
from takedown.services.ncmec import NcmecClient, NcmecSettings
from takedown.services.ratelimits import RateLimit
from takedown.services.review_media import MediaSettings
from takedown.services.transparency_db import TdbLane, TdbSettings
from takedown.store import Database, SqlAlchemyUnitOfWork
from takedown.store.group_commit import GroupCommitter


def filing_settings(s: Settings) -> filing.FilingSettings:
    return filing.FilingSettings(
        reporter=filing.reporter_contact(
            s.ncmec_reporter_name, s.ncmec_reporter_email, s.ncmec_reporter_phone
        ),
        esp_service=s.ncmec_esp_service,
        auto_file=s.ncmec_auto_file,
        file_within=timedelta(hours=s.ncmec_file_within_hours),
        retry=RetryPolicy(
            max_attempts=s.ncmec_max_attempts,
            backoff_seconds=s.ncmec_backoff_seconds,
            lease_seconds=s.ncmec_lease_seconds,
        ),
    )


def vault(s: Settings) -> evidence.Vault | None:
    """The evidence vault's keys (``TAKEDOWN_EVIDENCE_KEY``); None: nothing is preserved."""
    if not s.evidence_key:
        return None
    old = [k for k in (s.evidence_old_keys or "").split(",") if k.strip()]
    return evidence.Vault(
        key=MasterKey.from_hex(s.evidence_key),
        old_keys=tuple(MasterKey.from_hex(k) for k in old),
        retention=timedelta(days=s.evidence_retention_days),
    )


def signal_types(s: Settings) -> frozenset[SignalType] | None:
    """The signal types uploads are matched by (``TAKEDOWN_SIGNAL_TYPES``); None: all."""
    return parse_enabled(s.signal_types) if s.signal_types.strip() else None


def triage_policy(s: Settings) -> TriagePolicy:
    return TriagePolicy(
        respond_within={
            Priority.p0: timedelta(minutes=s.triage_p0_respond_minutes),
            Priority.p1: timedelta(minutes=s.triage_p1_respond_minutes),
            Priority.p2: timedelta(minutes=s.triage_p2_respond_minutes),
        },
        ncii_remove_within=timedelta(hours=s.triage_ncii_remove_hours),
        points_per_level=s.triage_points_per_level,
    )


def account_policies(s: Settings) -> dict[Category, AccountPolicy]:
    """What a confirmed violation does to uploaders and reposters, per category."""
    return {
        Category(category): AccountPolicy(
            suspend_uploaders=uploaders == "suspend",
            strike_uploaders=uploaders == "strike",
            strike_reposters=reposters == "strike",
        )
        for category, (uploaders, reposters) in s.account_policies().items()
    }


def media_settings(s: Settings) -> MediaSettings:
    def categories(value: str) -> frozenset[Category]:
        return frozenset(map(Category, category_set(value)))

    return MediaSettings(
        url_template=s.platform_media_url,
        secret=s.platform_webhook_secret,
        blur_radius=s.review_blur_radius,
        blur_by_category={Category(c): r for c, r in s.blur_by_category().items()},
        grayscale_categories=categories(s.review_grayscale_categories),
        warning_categories=categories(s.review_warning_categories),
        daily_cap=s.review_daily_reveal_cap,
    )


def emails_reporters(s: Settings) -> bool:
    """Whether reporters are e-mailed: a mail server, or the development mailbox."""
    return bool(s.smtp_host or s.mailbox_dir)


def reasons_policy(s: Settings) -> ReasonsPolicy:
    """What every statement of reasons says of the law, the terms and the redress."""
    grounds = dict(DEFAULT_LEGAL_GROUNDS)
    grounds.update({Category(c): law for c, law in legal_grounds(s.dsa_legal_grounds).items()})
    return ReasonsPolicy(
        legal_grounds=grounds,
        terms_ground=s.dsa_terms_ground,
        territorial_scope=territorial_scope(s.dsa_territorial_scope),
        appeal_within=ReviewPolicy().appeal_within,
        appeal_url=s.appeal_url or s.platform_help_url,
    )


def exposure_policy(s: Settings) -> reports.ExposurePolicy:
    return reports.ExposurePolicy(
        fast_views_per_hour=s.exposure_fast_views_per_hour,
        fast_reposts_per_hour=s.exposure_fast_reposts_per_hour,
    )


def rate_limits(s: Settings) -> dict[str, RateLimit]:
    """The per-address and per-link limits, by the name each counts under."""
    return {
        "report-page": RateLimit("report-page", s.report_page_limit, s.report_page_window_seconds),
        "status-reply": RateLimit(
            "status-reply", s.status_reply_limit, s.report_page_window_seconds
        ),
        "login-address": RateLimit("login-address", s.login_address_limit, s.login_lockout_seconds),
    }


def delivery_settings(s: Settings) -> DeliverySettings | None:
    """How actions reach the platform's webhook; None where no webhook is set."""
    if not (s.platform_webhook_url and s.platform_webhook_secret):
        return None
    return DeliverySettings(
        url=s.platform_webhook_url,
        secret=s.platform_webhook_secret,
        batch=s.action_batch_size,
        retry=RetryPolicy(
            max_attempts=s.action_max_attempts,
            backoff_seconds=s.action_backoff_seconds,
            lease_seconds=s.action_lease_seconds,
        ),
        timeout_seconds=s.action_timeout_seconds,
        poll_seconds=s.worker_poll_seconds,
    )


def tdb_settings(s: Settings) -> TdbSettings | None:
    """The Transparency Database's lane's settings; None where its address or token is
    missing (the statements wait for them)."""
    if not (s.dsa_tdb_url and s.dsa_tdb_token):
        return None
    return TdbSettings(
        url=s.dsa_tdb_url,
        token=s.dsa_tdb_token,
        poll_seconds=max(s.worker_poll_seconds, 1.0),
    )


def ncmec_settings(s: Settings) -> NcmecSettings | None:
    """NCMEC's Reporting API; None where its address or credentials are not set."""
    if not (s.ncmec_url and s.ncmec_username and s.ncmec_password):
        return None
    return NcmecSettings(
        url=s.ncmec_url,
        username=s.ncmec_username,
        password=s.ncmec_password,
        timeout_seconds=s.ncmec_timeout_seconds,
    )


def outbox_retry(s: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=s.outbox_max_attempts,
        backoff_seconds=s.outbox_backoff_seconds,
        lease_seconds=s.outbox_lease_seconds,
    )


def default_registry(settings: Settings | None = None) -> HandlerRegistry:
    """This process's own handlers for the system's events (``flows.SYSTEM_EVENTS``), beside
    the reactions ``flows.wire`` adds: with ``settings`` naming a mail server, reporters'
    e-mails are sent; with the development mailbox on, delivered there. Without either,
    e-mails wait in the outbox for a worker that has one (``takedown worker``)."""
    registry = HandlerRegistry(flows.SYSTEM_EVENTS)
    if settings is not None and settings.smtp_host:
        from takedown.services import notify

        smtp = notify.SmtpSettings(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            starttls=settings.smtp_starttls,
            username=settings.smtp_username,
            password=settings.smtp_password,
        )
        registry.register(ReporterEmailQueued, notify.email_handler(smtp))
    elif settings is not None and settings.mailbox_dir is not None:
        from takedown.services import notify

        registry.register(ReporterEmailQueued, notify.mailbox_handler(settings.mailbox_dir))
    return registry


def runtime(
    s: Settings,
    db: Database,
    registry: HandlerRegistry,
    *,
    writer: GroupCommitter | None,
    clock: Clock,
    vault: evidence.Vault | None,
    filing_with: filing.FilingSettings | None = None,
    exchange_sync: exchanges.SyncDeps | None = None,
) -> Runtime:
    """This process's job runtime: an outbox worker for each lane of events it has handlers
    for (``events`` always: it also completes record-only events left pending), the
    deliverer where a webhook is set, the filer where NCMEC's Reporting API is, and the
    exchanges' syncs and feedback (``exchange_sync``: what they need of the process)."""
    run = Runtime(db, flows.lanes(), default=flows.EVENTS)
    lanes = flows.outbox_lanes()
    # The default lane takes every handled type no other lane names (a catalogue's own).
    named = frozenset().union(*(t for lane, t in lanes.items() if lane != flows.EVENTS))
    lanes[flows.EVENTS] = registry.catalogue.handled - named
    for lane, types in sorted(lanes.items()):
        if lane == flows.EVENTS or registry.runs_here & types:
            worker = Worker(
                db,
                registry,
                policy=outbox_retry(s),
                poll_seconds=s.worker_poll_seconds,
                writer=writer,
                clock=clock,
                event_types=types,
                completes_record_only=lane == flows.EVENTS,
                worker_id=f"{default_worker_id()}:{lane}",  # each lane its own identity
            )
            worker.thread_name = f"takedown-{lane}"
            run.add(lane, worker)
    for lane, loop in table_lanes(
        s,
        db,
        writer=writer,
        clock=clock,
        vault=vault,
        filing_with=filing_with,
        exchange_sync=exchange_sync,
    ).items():
        run.add(lane, loop)
    return run


def table_lanes(
    s: Settings,
    db: Database,
    *,
    writer: GroupCommitter | None,
    clock: Clock,
    vault: evidence.Vault | None,
    filing_with: filing.FilingSettings | None = None,
    exchange_sync: exchanges.SyncDeps | None = None,
) -> dict[str, BackgroundLoop]:
    """The lanes over tables of their own this process can run: the deliverer where a
    webhook is set, the exchanges' syncs and feedback (``exchange_sync``: what they need of
    the process), the filer where NCMEC's Reporting API is."""
    found: dict[str, BackgroundLoop] = {}
    delivery = delivery_settings(s)
    if delivery is not None:
        found[flows.DELIVERY] = Deliverer(db, delivery, writer=writer, clock=clock)
    if exchange_sync is not None:
        found[flows.EXCHANGES] = exchanges.ExchangeLane(
            exchange_sync, poll_seconds=max(s.worker_poll_seconds, 1.0)
        )
    if s.evidence_purge_hours > 0 or s.bank_snapshot_minutes > 0:
        found[flows.MAINTENANCE] = maintenance.Maintenance(
            lambda: SqlAlchemyUnitOfWork(db),
            now=clock.now,
            every=timedelta(hours=s.evidence_purge_hours) if s.evidence_purge_hours else None,
            retention=timedelta(days=s.evidence_retention_days),
            snapshot_every=(
                timedelta(minutes=s.bank_snapshot_minutes) if s.bank_snapshot_minutes else None
            ),
        )
    tdb = tdb_settings(s)
    if tdb is not None:
        found[flows.TRANSPARENCY] = TdbLane(db, tdb, writer=writer, clock=clock)
    ncmec = ncmec_settings(s)
    if ncmec is not None:
        found[flows.FILING] = Filer(
            db,
            NcmecClient(ncmec),
            filing_with or filing_settings(s),
            vault=vault,
            writer=writer,
            clock=clock,
            poll_seconds=s.worker_poll_seconds,
        )
    return found


# The distributed mode (``TAKEDOWN_BROKER_URL``): the relay and the workers.


def relayed(registry: HandlerRegistry) -> dict[str, str]:
    """The lane of each event type the relay hands to the broker: those a handler runs."""
    return {t: lane for t, lane in flows.lanes().items() if t in registry.catalogue.handled}


def waking(registry: HandlerRegistry) -> dict[str, frozenset[str]]:
    """Each lane over a table of its own, with the event types that wake it."""
    found: dict[str, set[str]] = {}
    for event_type, lane in flows.lanes().items():
        if event_type not in registry.catalogue.handled:
            found.setdefault(lane, set()).add(event_type)
    return {lane: frozenset(types) for lane, types in found.items()}


def relay(
    s: Settings, db: Database, registry: HandlerRegistry, publisher: Publisher, *, clock: Clock
) -> Relay:
    """``takedown relay``: the due events to the broker, each table lane woken by its events
    and passed every ``TAKEDOWN_WORKER_POLL_SECONDS`` (its retries come due)."""
    wakes = waking(registry)
    every = timedelta(seconds=s.worker_poll_seconds)
    schedules = [Schedule(f"pass:{lane}", lane, every) for lane in sorted(wakes)]
    # The maintenance lane's own schedule decides when it works; a pass a minute asks it.
    schedules.append(Schedule("pass:maintenance", flows.MAINTENANCE, timedelta(minutes=1)))
    return Relay(
        db,
        publisher,
        lane_of=relayed(registry),
        wakes=wakes,
        record_only=registry.catalogue.record_only,
        schedules=schedules,
        lease=timedelta(seconds=s.relay_lease_seconds),
        poll_seconds=s.relay_poll_seconds,
        clock=clock,
    )


def worker_queues(registry: HandlerRegistry, lanes: dict[str, BackgroundLoop]) -> list[str]:
    """The lanes a distributed worker takes by default: those it has handlers for (reporters'
    e-mails only with the mail settings) and the table lanes its settings set up."""
    here = registry.runs_here
    ours = {lane for t, lane in relayed(registry).items() if t in here}
    return sorted(ours | set(lanes))


def all_lanes(registry: HandlerRegistry) -> list[str]:
    """Every lane's queue, declared by the relay and the workers alike."""
    return sorted(set(relayed(registry).values()) | set(waking(registry)) | {flows.MAINTENANCE})
