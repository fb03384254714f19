"""Settings, read from ``TAKEDOWN_*`` environment variables.

Every setting has a documented default (the README's settings table is generated from the
same field descriptions, see ``takedown settings``). Production mode refuses to start when
a setting that must be chosen by the operator is left at a development value.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Mode(StrEnum):
    development = "development"
    production = "production"


class ConfigError(Exception):
    """A setting is missing or unsafe for the chosen mode."""


# The case categories (``cases.Category``), named here so settings import nothing of ours.
_CATEGORY_NAMES = frozenset({"csam", "ncii", "other_illegal", "policy"})
# The signal types (``matching.SignalType``), likewise.
SIGNAL_TYPE_NAMES = frozenset({"pdq", "md5", "sha256", "video_md5", "vpdq"})


def _names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


# Help for people who report, whatever the platform: NCMEC's for images of minors (Take It
# Down works for the person shown, or a parent, without sending the image), and CCRI's for
# intimate images shared without consent.
DEFAULT_SUPPORT_RESOURCES = (
    "NCMEC Take It Down|https://takeitdown.ncmec.org|"
    "Helps remove nude or sexual images of people under 18 from participating platforms, "
    "without sending the image to anyone;"
    "NCMEC CyberTipline|https://report.cybertip.org|"
    "The US national clearinghouse for reports of child sexual exploitation;"
    "Cyber Civil Rights Initiative|https://cybercivilrights.org/ccri-crisis-helpline/|"
    "A free, confidential crisis helpline for victims of image-based sexual abuse: 844-878-2274"
)
_HTTP = re.compile(r"https?://[^\s/?#]+(/[^\s]*)?")


def support_links(value: str) -> list[tuple[str, str, str]]:
    """The ``(name, address, what it offers)`` entries of ``support_resources``. Raises
    ``ValueError`` for an entry that is not ``name|http(s) address|text``."""
    entries = []
    for entry in value.split(";"):
        if not entry.strip():
            continue
        parts = [part.strip() for part in entry.split("|")]
        if len(parts) != 3 or not parts[0] or not _HTTP.fullmatch(parts[1]):
            raise ValueError(
                f"support_resources: {entry.strip()[:80]!r} is not name|https://address|text"
            )
        entries.append((parts[0], parts[1], parts[2]))
    return entries


def legal_grounds(value: str) -> dict[str, str]:
    """The ``category=law`` entries of ``dsa_legal_grounds``. Raises ``ValueError``."""
    found = {}
    for entry in value.split(";"):
        if not entry.strip():
            continue
        category, _, law = (part.strip() for part in entry.partition("="))
        if category not in _CATEGORY_NAMES or not law:
            raise ValueError(f"dsa_legal_grounds: {entry.strip()[:80]!r} is not category=law")
        found[category] = law[:500]
    return found


# The country codes the DSA Transparency Database knows (EU and EEA).
EEA_CODES = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
    "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
)  # fmt: skip


def territorial_scope(value: str) -> tuple[str, ...]:
    """The country codes of ``dsa_territorial_scope`` (``EEA``: all). Raises ``ValueError``."""
    if value.strip().upper() == "EEA":
        return EEA_CODES
    codes = tuple(code.upper() for code in _names(value))
    unknown = [c for c in codes if c not in EEA_CODES]
    if unknown or not codes:
        raise ValueError(f"dsa_territorial_scope: not EEA country codes: {unknown or value!r}")
    return codes


def category_set(value: str) -> frozenset[str]:
    """The categories a comma-separated setting names."""
    return frozenset(_names(value))


class Settings(BaseSettings):
    """Every knob of the service. Field descriptions are the user documentation."""

    model_config = SettingsConfigDict(env_prefix="TAKEDOWN_", extra="ignore", frozen=True)

    mode: Mode = Field(
        Mode.development,
        description="`development` or `production`. Production sends cookies over HTTPS only, "
        "adds HSTS, refuses `SESSION_COOKIE_SECURE=false` and refuses to load demo data.",
    )
    data_dir: Path = Field(
        Path("./data"),
        description="Folder for the embedded database and other local state.",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the database. Empty: SQLite file `DATA_DIR/takedown.db`. "
        "For PostgreSQL: `postgresql+psycopg://user:pass@host:5432/takedown`.",
    )
    sqlite_busy_timeout_ms: int = Field(
        5000, ge=0, description="How long a SQLite writer waits for the lock before failing."
    )
    max_body_bytes: int = Field(
        1_048_576, gt=0, description="Largest request body accepted on ordinary routes (1 MB)."
    )
    max_media_bytes: int = Field(
        67_108_864, gt=0, description="Largest request body on media upload routes (64 MB)."
    )
    upload_memory_bytes: int = Field(
        16_777_216,
        ge=1_048_576,
        description="Multipart uploads up to this size are parsed in memory; larger ones are "
        "spooled to a temporary file (16 MB).",
    )
    hash_threads: int = Field(
        0,
        ge=0,
        description="Threads per web process that hash uploads. 0: one per core the process "
        "may run on.",
    )
    video_threads: int = Field(
        0,
        ge=0,
        description="Threads per web process that hash videos, apart from the image threads, "
        "so an image scan never waits behind video decoding. 0: half the cores (at least 1).",
    )
    video_queue: int = Field(
        8,
        ge=1,
        description="Videos one web process hashes or holds waiting at once; more get 503 "
        "with `Retry-After` (the upload path retries), never a queue that grows without bound.",
    )
    hash_inline_bytes: int = Field(
        1_048_576,
        ge=0,
        description="A web process that may run on one core only (and leaves hash_threads at "
        "0) hashes uploads up to this size on its event loop instead of on a hashing thread: "
        "on one core the thread only adds hand-offs with the loop. Larger uploads, whose "
        "decoding would hold up other requests longer, still go to the thread. 0: always the "
        "thread (1 MB).",
    )
    login_max_failures: int = Field(
        5, ge=1, description="Failed logins in a row after which an account is locked."
    )
    login_lockout_seconds: int = Field(
        900, ge=1, description="How long a locked account stays locked."
    )
    session_ttl_seconds: int = Field(
        43_200, ge=60, description="Lifetime of a staff login session (12 hours)."
    )
    session_cookie_secure: bool | None = Field(
        None,
        description="Send the session cookie over HTTPS only. Empty: on in production, off in "
        "development.",
    )
    web_processes: int = Field(
        1,
        ge=1,
        le=64,
        description="Server processes `takedown serve` starts on its port. Uploads are hashed "
        "in the request, so one per core uses every core; each holds its own bank indexes.",
    )
    opentelemetry: bool = Field(
        False,
        description="Let FastAPI report each request to OpenTelemetry (spans, metrics, logs) "
        "when a provider is configured in the process. Off: `/metrics` and the JSON log cover "
        "the same, and the check alone cost about 5% of the CPU of a report.",
    )
    worker: bool = Field(
        True,
        description="Run the job runtime (the outbox's lanes, delivery to the platform, filing "
        "with NCMEC) inside `takedown serve`.",
    )
    broker_url: str = Field(
        "",
        description="The distributed mode's message broker: RabbitMQ `amqp://user:password@host"
        ":5672/vhost` (recommended) or Redis `redis://host:6379/0`. Set: deferred work leaves "
        "the web processes; `takedown relay` hands the outbox's events to it and `takedown "
        "worker` processes run them (PostgreSQL only). Empty: each process runs its lanes "
        "itself (`TAKEDOWN_WORKER`).",
    )
    broker_prefix: str = Field(
        "takedown",
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="The start of the broker's queue names (`<prefix>.<lane>`): one per "
        "deployment sharing a broker.",
    )
    relay_poll_seconds: float = Field(
        0.1, gt=0, le=60, description="How often `takedown relay` looks for due events."
    )
    relay_lease_seconds: float = Field(
        300.0,
        gt=0,
        description="How long an event handed to the broker waits for a worker to finish it "
        "before the relay hands it over again (a lost message, a worker killed after taking "
        "it). Longer than the queues are ever behind; a duplicate costs a worker a no-op.",
    )
    worker_threads: int = Field(
        4,
        ge=1,
        le=256,
        description="Tasks a distributed `takedown worker` runs at once, each on a thread of "
        "its own (most wait on the network: the platform, NCMEC, media servers).",
    )
    bank_snapshot_minutes: float = Field(
        60.0,
        ge=0,
        description="How often deferred work stores the bank indexes' arrays when the banks "
        "changed, once per period however many processes run: a process starts from the "
        "newest snapshot plus the changes since instead of reading every entry. 0: never.",
    )
    evidence_purge_hours: float = Field(
        24.0,
        ge=0,
        description="How often deferred work purges expired evidence and what cases closed "
        "with no violation hold (what `takedown evidence purge` does), once per period "
        "however many processes run. 0: never (run the command from cron instead).",
    )
    worker_poll_seconds: float = Field(
        1.0, gt=0, description="How often each lane looks for due work when not woken."
    )
    outbox_max_attempts: int = Field(
        8, ge=1, description="Attempts at an event before it is parked as dead for an operator."
    )
    outbox_backoff_seconds: float = Field(
        2.0, gt=0, description="First retry delay; doubles with each attempt (capped at 1 hour)."
    )
    outbox_lease_seconds: float = Field(
        60.0,
        gt=0,
        description="How long a worker owns a claimed event; after that another worker may retry "
        "it (at-least-once delivery).",
    )
    forwarded_allow_ips: str | None = Field(
        None,
        description="Addresses of the reverse proxies in front of takedown (comma-separated, "
        "or `*`), whose `X-Forwarded-For` and `X-Forwarded-Proto` are trusted: the client "
        "address the rate limits and lock-outs count is then the visitor's, not the proxy's. "
        "Empty: those headers are ignored.",
    )
    http_header_timeout_seconds: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Seconds a client has, from connecting or from its previous answer, to send "
        "a request's headers; then 408 and the connection is closed (slow clients cannot hold "
        "connections).",
    )
    http_body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        le=600,
        description="Seconds a request's body may go with nothing received; then 408 and the "
        "connection is closed.",
    )
    public_url: str | None = Field(
        None,
        description="Address reporters reach takedown at, for the status links in answers and "
        "e-mails (e.g. `https://safety.example.com`). Required in production. Empty in "
        "development: the address `takedown serve` listens on; never a request's `Host` header.",
    )
    platform_name: str = Field(
        "",
        max_length=80,
        description="Your platform's name, on the public pages reporters see (\"Report content "
        'on Example Social"). Empty: they say "this platform".',
    )
    platform_help_url: str | None = Field(
        None,
        description="Your platform's help or contact page, linked from the public pages. Empty: "
        "no link.",
    )
    appeal_url: str | None = Field(
        None,
        description="Where an uploader appeals a decision on your platform (your page that "
        "posts `/v1/appeals`), named in every statement of reasons. Empty: the statement says "
        "to appeal through the platform.",
    )
    dsa_terms_ground: str = Field(
        "the platform's terms of service",
        max_length=500,
        description="The clause of your terms of service that content against your rules "
        "(`policy`) is restricted under, as statements of reasons name it (e.g. `Terms of "
        "Service, section 4.2: spam`).",
    )
    dsa_legal_grounds: str = Field(
        "",
        description="The law statements of reasons name for illegal content, per category: "
        "`category=law` entries separated by `;` (e.g. `other_illegal=Section 130 StGB`). "
        "A category not named keeps its default (CSAM: 18 U.S.C. 2252A and Directive "
        "2011/93/EU; NCII: the TAKE IT DOWN Act and Directive (EU) 2024/1385).",
    )
    dsa_territorial_scope: str = Field(
        "EEA",
        description="Where a restriction applies, as statements of reasons say: `EEA` (every "
        "EU and EEA country), or country codes separated by commas.",
    )
    dsa_tdb_url: str | None = Field(
        None,
        description="The DSA Transparency Database's API root "
        "(`https://transparency.dsa.ec.europa.eu/api/v1`): every statement of reasons is "
        "sent there, without personal data. Empty: none is sent (export them with "
        "`takedown statements export`).",
    )
    dsa_tdb_token: str | None = Field(
        None, description="The Transparency Database's API token (Bearer). Secret."
    )
    support_resources: str = Field(
        DEFAULT_SUPPORT_RESOURCES,
        description="Where a person who reported can find help, shown after they report and on "
        "their status page: entries `name|https-address|what it offers`, separated by `;` "
        "(national helplines of your users' countries). Default: NCMEC's Take It Down and "
        "CyberTipline, and the Cyber Civil Rights Initiative's crisis helpline. Empty: none.",
    )
    smtp_host: str | None = Field(
        None,
        description="Mail server for e-mails to reporters who gave an address (the "
        "acknowledgment with their status link, and decisions). Empty: no e-mail is sent.",
    )
    mailbox: bool = Field(
        False,
        description="Development only: deliver reporters' e-mails to a mailbox in the data "
        "folder (`DATA_DIR/mailbox`), read on the console's *Mailbox* page, when no mail "
        "server is set. `takedown demo` turns it on. Refused in production.",
    )
    smtp_port: int = Field(25, ge=1, le=65535, description="Mail server port.")
    smtp_starttls: bool = Field(False, description="Upgrade the mail connection with STARTTLS.")
    smtp_username: str | None = Field(None, description="Mail server login, if it needs one.")
    smtp_password: str | None = Field(None, description="Mail server password.")
    smtp_from: str = Field(
        "takedown@localhost", description="The From address of e-mails to reporters."
    )
    triage_p0_respond_minutes: int = Field(
        60,
        ge=1,
        description="P0 cases (CSAM of a minor, police, known-CSAM match): first "
        "human look within this many minutes.",
    )
    triage_p1_respond_minutes: int = Field(
        240,
        ge=1,
        description="P1 cases (intimate images shared without consent): first human "
        "look within this many minutes.",
    )
    triage_p2_respond_minutes: int = Field(
        1440,
        ge=1,
        description="P2 cases (everything else): first human look within this many minutes.",
    )
    triage_ncii_remove_hours: float = Field(
        48,
        gt=0,
        le=48,
        description="Removal of an intimate image decided within this many hours of the first "
        "valid request. The TAKE IT DOWN Act's 48 hours is the most allowed.",
    )
    triage_points_per_level: int = Field(
        2,
        ge=1,
        description="Raising points (depicted person, police case number, trusted "
        "flagger, more reporters, fast exposure, prior removals) that raise a case one level.",
    )
    exposure_fast_views_per_hour: int = Field(
        1000,
        ge=1,
        description="Views an hour from which an item's exposure counts as fast-growing.",
    )
    exposure_fast_reposts_per_hour: int = Field(
        20,
        ge=1,
        description="Reposts an hour from which an item's exposure counts as fast-growing.",
    )
    report_page_limit: int = Field(
        10,
        ge=1,
        description="Reports one client address may file through the public page per "
        "window (only accepted ones count; shared by every process on the database); more get "
        "a friendly 429 page.",
    )
    report_page_window_seconds: int = Field(
        600, ge=1, description="The window of `REPORT_PAGE_LIMIT`."
    )
    status_reply_limit: int = Field(
        10,
        ge=1,
        description="Replies and appeals one status link may send per window "
        "(`REPORT_PAGE_WINDOW_SECONDS`); a refused one keeps the text typed.",
    )
    login_address_limit: int = Field(
        30,
        ge=1,
        description="Failed logins one client address may make per window "
        "(`LOGIN_LOCKOUT_SECONDS`), whatever the accounts: a stranger guessing at accounts is "
        "refused before they lock them all.",
    )
    auth_cache_seconds: float = Field(
        5.0,
        ge=0,
        description="How long a process trusts an API key it has checked. Revoking a key or "
        "disabling a user takes effect at once in the process that did it, and within this "
        "time in the others. 0: check the database on every request.",
    )
    signal_types: str = Field(
        "",
        description="The signal types uploads are matched by, comma-separated, of pdq, md5, "
        "sha256, video_md5 and vpdq. Empty: all. Entries of the others are kept, not matched.",
    )
    bank_flood_limit: int = Field(
        1000,
        ge=0,
        description="An entry from outside (an exchange's, an import's) that matches more "
        "distinct uploads than this in an hour is quarantined: its matches ask a person "
        "instead of acting until someone enables it again. The team's own confirmed media "
        "is never quarantined. 0: off.",
    )
    review_claim_minutes: int = Field(
        15,
        ge=1,
        le=24 * 60,
        description="How long a reviewer's claim on a case lasts; it is renewed while they "
        "work on the case page, and a second reviewer cannot claim it meanwhile.",
    )
    review_sample_percent: float = Field(
        5.0,
        ge=0,
        le=100,
        description="Share of single-reviewer decisions drawn for a second look by another "
        "reviewer (the decision stands meanwhile); agreement is kept per reviewer and category.",
    )
    review_daily_reveal_cap: int = Field(
        200,
        ge=0,
        description="Originals a reviewer may reveal a day unless a lead sets their own cap.",
    )
    review_blur_radius: int = Field(
        24,
        ge=4,
        le=200,
        description="Blur of the renditions the console shows, in pixels of a 512-pixel "
        "rendition (Gaussian radius), for categories `REVIEW_BLUR_BY_CATEGORY` does not name. "
        "A reviewer may choose more for themselves, never less.",
    )
    review_blur_by_category: str = Field(
        "csam=32,ncii=32",
        description="Blur per category, as `category=radius` pairs separated by commas.",
    )
    review_grayscale_categories: str = Field(
        "csam,ncii,other_illegal,policy",
        description="Comma-separated categories whose renditions are grayscale (a reviewer "
        "may choose grayscale for every category).",
    )
    review_warning_categories: str = Field(
        "csam,ncii",
        description="Comma-separated categories whose case page opens behind a warning screen "
        "(a reviewer may choose one before every case).",
    )
    platform_media_url: str | None = Field(
        None,
        description="Where takedown fetches an item's media for review: a URL with "
        "`{content_id}` in it, requested with GET and a `Takedown-Signature` header.",
    )
    platform_resolve_url: str | None = Field(
        None,
        description="Where takedown asks the platform which content a reported link shows: "
        '`GET <url>?url=<link>`, signed; 200 with `{"content_id": ...}` or 404 '
        "(docs/integrating.md). Unset: a report that gives only a link stands for the link.",
    )
    platform_webhook_secret: str | None = Field(
        None,
        repr=False,
        description="The secret shared with the platform that signs requests both ways "
        "(`Takedown-Signature`). Never logged.",
    )
    enforcement_uploaders: str = Field(
        "csam=suspend,ncii=suspend,other_illegal=strike,policy=strike",
        description="What a confirmed violation does to each account that uploaded a copy, per "
        "category: `suspend`, `strike` or `none` (as `category=what` pairs).",
    )
    enforcement_reposters: str = Field(
        "csam=strike,ncii=strike,other_illegal=none,policy=none",
        description="What it does to accounts that only reposted a copy, per category: "
        "`strike` or `none`. Every copy is removed whatever these say.",
    )
    evidence_key: str | None = Field(
        None,
        repr=False,
        description="The evidence vault's master key: 64 hex digits (`takedown evidence "
        "new-key` prints one). Required in production; without it nothing is preserved. Never "
        "logged.",
    )
    evidence_old_keys: str | None = Field(
        None,
        repr=False,
        description="Earlier master keys (comma-separated), still read while `takedown evidence "
        "rotate` re-wraps the items they sealed.",
    )
    evidence_retention_days: int = Field(
        365,
        ge=365,
        description="How long preserved evidence is kept from the report (the law asks for a "
        "year at least); a legal hold keeps it longer.",
    )
    ncmec_url: str | None = Field(
        None,
        description="NCMEC's CyberTipline Reporting API: `https://exttest.cybertip.org/ispws` "
        "to test, `https://report.cybertip.org/ispws` to report. Unset: reports are drafted "
        "and shown, never sent.",
    )
    ncmec_username: str | None = Field(
        None, repr=False, description="The Reporting API's user name (HTTP Basic). Never logged."
    )
    ncmec_password: str | None = Field(
        None, repr=False, description="The Reporting API's password (HTTP Basic). Never logged."
    )
    ncmec_reporter_name: str | None = Field(
        None,
        description="Who reports, as NCMEC should know them (`reporter/reportingPerson`): "
        "a person or a team, e.g. `Trust and Safety Team`.",
    )
    ncmec_reporter_email: str | None = Field(
        None, description="The reporting person's e-mail, where NCMEC writes back."
    )
    ncmec_reporter_phone: str | None = Field(None, description="The reporting person's phone.")
    ncmec_esp_service: str | None = Field(
        None,
        description="The platform's name in reports (`incidentSummary/platform`, `espService`).",
    )
    ncmec_auto_file: bool = Field(
        False,
        description="File cases confirmed by a bank match without waiting for a person; "
        "others wait for a compliance user to file them.",
    )
    ncmec_file_within_hours: float = Field(
        24.0,
        gt=0,
        description="The filing target: a report not filed this long after its draft is "
        "overdue on the compliance page.",
    )
    ncmec_timeout_seconds: float = Field(
        30.0, gt=0, description="How long one request to NCMEC may take."
    )
    ncmec_lease_seconds: float = Field(
        120.0,
        gt=0,
        description="How long a filer holds a filing between steps; a filer killed mid-step "
        "lets it go after this. Must be longer than `NCMEC_TIMEOUT_SECONDS`.",
    )
    ncmec_max_attempts: int = Field(
        10,
        ge=1,
        description="Tries of a step after `/submit` (retried with back-off on a 5xx or a "
        "time-out) before the filing is `failed`.",
    )
    ncmec_backoff_seconds: float = Field(
        5.0, gt=0, description="Wait before the first retry of a step; doubled each time."
    )
    platform_webhook_url: str | None = Field(
        None,
        description="Where takedown sends actions (remove, restrict, restore, suspend_account, "
        'strike): `POST` of `{"actions": [...]}`, signed with `Takedown-Signature`. Unset: '
        "the platform pulls them from `GET /v1/actions`.",
    )
    action_batch_size: int = Field(
        100, ge=1, le=10_000, description="Actions sent in one webhook request, at most."
    )
    action_max_attempts: int = Field(
        12,
        ge=1,
        description="Failed deliveries after which an action is `failed` (shown on the "
        "operations page, with a retry button).",
    )
    action_backoff_seconds: float = Field(
        2.0,
        gt=0,
        description="Wait before the first retry of a refused delivery; doubled each time, "
        "up to an hour.",
    )
    action_timeout_seconds: float = Field(
        10.0, gt=0, description="How long a webhook request may take before it counts as failed."
    )
    action_lease_seconds: float = Field(
        60.0,
        gt=0,
        description="How long a process holds a batch it is delivering; a process killed "
        "mid-batch lets it go after this. Must be longer than `ACTION_TIMEOUT_SECONDS`.",
    )
    log_level: str = Field("INFO", description="Log level: DEBUG, INFO, WARNING or ERROR.")
    log_format: str = Field("json", description="`json` (one object per line) or `text`.")

    @model_validator(mode="after")
    def _check_mode(self) -> Settings:
        keys = [self.evidence_key or "", *(self.evidence_old_keys or "").split(",")]
        for key in (k.strip() for k in keys):
            if key and not re.fullmatch(r"[0-9a-fA-F]{64}", key):
                raise ValueError(
                    "evidence keys are 64 hex digits (make one with `takedown evidence new-key`)"
                )
        if self.ncmec_url and not (
            self.ncmec_username and self.ncmec_password and self.ncmec_reporter_email
        ):
            raise ValueError(
                "ncmec_url needs ncmec_username, ncmec_password and ncmec_reporter_email"
            )
        if self.ncmec_lease_seconds <= self.ncmec_timeout_seconds:
            raise ValueError("ncmec_lease_seconds must be longer than ncmec_timeout_seconds")
        if self.action_lease_seconds <= self.action_timeout_seconds:
            raise ValueError("action_lease_seconds must be longer than action_timeout_seconds")
        if self.broker_url:
            scheme = self.broker_url.split("://", 1)[0]
            if scheme not in {"amqp", "amqps", "pyamqp", "redis", "rediss"}:
                raise ValueError(
                    "broker_url: amqp://… (RabbitMQ) or redis://…, not " + repr(scheme)
                )
            if self.effective_database_url.startswith("sqlite"):
                raise ValueError(
                    "broker_url: the distributed mode needs PostgreSQL (its processes share "
                    "one database that many write at once); SQLite runs one process"
                )
        unknown_types = set(_names(self.signal_types)) - SIGNAL_TYPE_NAMES
        if unknown_types:
            raise ValueError(f"signal_types: unknown signal types {sorted(unknown_types)}")
        for name in ("review_grayscale_categories", "review_warning_categories"):
            unknown = set(_names(getattr(self, name))) - _CATEGORY_NAMES
            if unknown:
                raise ValueError(f"{name}: unknown categories {sorted(unknown)}")
        for name, allowed in (
            ("enforcement_uploaders", {"suspend", "strike", "none"}),
            ("enforcement_reposters", {"strike", "none"}),
        ):
            for pair in _names(getattr(self, name)):
                category, _, what = pair.partition("=")
                if category not in _CATEGORY_NAMES or what not in allowed:
                    raise ValueError(
                        f"{name}: {pair!r} is not category={'|'.join(sorted(allowed))}"
                    )
        for pair in _names(self.review_blur_by_category):
            category, _, radius = pair.partition("=")
            if category not in _CATEGORY_NAMES or not radius.isdigit():
                raise ValueError(
                    f"review_blur_by_category: {pair!r} is not category=radius (e.g. csam=32)"
                )
        support_links(self.support_resources)
        legal_grounds(self.dsa_legal_grounds)
        territorial_scope(self.dsa_territorial_scope)
        if self.appeal_url and not _HTTP.fullmatch(self.appeal_url):
            raise ValueError("appeal_url must be an http:// or https:// address")
        if self.dsa_tdb_url and not (
            self.dsa_tdb_url.startswith("https://") or self.mode is Mode.development
        ):
            raise ValueError("dsa_tdb_url must be an https:// address in production")
        if self.platform_help_url and not _HTTP.fullmatch(self.platform_help_url):
            raise ValueError("platform_help_url must be an http:// or https:// address")
        if self.log_format not in {"json", "text"}:
            raise ValueError("log_format must be 'json' or 'text'")
        if self.public_url and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", self.public_url):
            raise ValueError(
                "public_url must be an http:// or https:// address, e.g. https://safety.example.com"
            )
        return self

    def account_policies(self) -> dict[str, tuple[str, str]]:
        """Category → (what uploaders get, what reposters get)."""
        uploaders = dict(p.partition("=")[::2] for p in _names(self.enforcement_uploaders))
        reposters = dict(p.partition("=")[::2] for p in _names(self.enforcement_reposters))
        return {
            c: (uploaders.get(c, "none"), reposters.get(c, "none")) for c in sorted(_CATEGORY_NAMES)
        }

    def blur_by_category(self) -> dict[str, int]:
        pairs = (p.partition("=") for p in _names(self.review_blur_by_category))
        return {category: max(4, min(200, int(radius))) for category, _, radius in pairs}

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'takedown.db').resolve()}"

    @property
    def mailbox_dir(self) -> Path | None:
        """Where e-mails are delivered instead of sent (``mailbox`` on, no mail server)."""
        if self.mailbox and not self.smtp_host:
            return self.data_dir / "mailbox"
        return None

    @property
    def cookie_secure(self) -> bool:
        if self.session_cookie_secure is not None:
            return self.session_cookie_secure
        return self.mode is Mode.production

    def check_production(self) -> None:
        """Raise ``ConfigError`` if production mode is combined with unsafe settings."""
        if self.mode is not Mode.production:
            return
        if self.session_cookie_secure is False:
            raise ConfigError("TAKEDOWN_SESSION_COOKIE_SECURE=false is not allowed in production")
        if self.mailbox:
            raise ConfigError("TAKEDOWN_MAILBOX is for development only; set TAKEDOWN_SMTP_HOST")
        if not self.public_url:
            raise ConfigError(
                "TAKEDOWN_PUBLIC_URL is required in production: it is the address in every "
                "reporter's status link (e.g. https://safety.example.com)"
            )
        if self.ncmec_url and not (
            self.ncmec_url.startswith("https://")
            and self.ncmec_username
            and self.ncmec_password
            and self.ncmec_reporter_name
            and self.ncmec_reporter_email
        ):
            raise ConfigError(
                "TAKEDOWN_NCMEC_URL needs https://, TAKEDOWN_NCMEC_USERNAME, "
                "TAKEDOWN_NCMEC_PASSWORD, TAKEDOWN_NCMEC_REPORTER_NAME and "
                "TAKEDOWN_NCMEC_REPORTER_EMAIL in production"
            )
        if not self.evidence_key:
            raise ConfigError(
                "TAKEDOWN_EVIDENCE_KEY is required in production: evidence of confirmed CSAM "
                "must be preserved for a year (make one with `takedown evidence new-key`)"
            )
