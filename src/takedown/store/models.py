"""Tables, as typed SQLAlchemy 2 rows. Rows stay inside ``store``: repositories hand plain
values (``takedown.store.records``) to the services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from takedown.store.types import BigId, JSONType, UTCDateTime, utcnow


class Base(DeclarativeBase):
    pass


# The case statuses a person works from (the queue), and those a lead lists apart.
QUEUE_STATUSES = ("open", "pending_second_review", "appealed")
HELD_STATUSES = ("on_hold", "pending_second_review", "appealed")


def status_among(statuses: tuple[str, ...], alias: str = "") -> str:
    """SQL that a case's status is one of ``statuses``, written as equalities joined by OR,
    not ``IN``: SQLite evaluates a partial index's condition on every insert into the table
    and on every update of a column it reads, and an ``IN`` list of three or more values is
    built into a temporary B-tree each time (about three times the cost of the insert itself
    for a new case). A query finds the partial index only through this same text, so the
    indexes and their queries share it."""
    column = f"{alias}.status" if alias else "status"
    return "(" + " OR ".join(f"{column} = '{s}'" for s in statuses) + ")"


QUEUE_WHERE = status_among(QUEUE_STATUSES)
HELD_WHERE = status_among(HELD_STATUSES)


def _where_set(name: str, column: str) -> Index:
    """An index on a mostly-empty column holding only the rows with a value, which is all a
    lookup by value reads (``column = :v`` implies ``column IS NOT NULL`` on both databases)."""
    where = text(f"{column} IS NOT NULL")
    return Index(name, column, sqlite_where=where, postgresql_where=where)


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    child_safety: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    daily_reveal_cap: Mapped[int | None] = mapped_column(Integer)  # a lead's cap on reveals
    # A reviewer's own view of media (``identity.User``): only ever safer than the settings.
    blur_radius: Mapped[int | None] = mapped_column(Integer)
    always_grayscale: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    always_warn: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class ApiKeyRow(Base):
    """API keys of platforms, flaggers, agencies and scrapers, and staff personal tokens
    (``user_id`` set). Only the SHA-256 digest of the secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    digest: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(128))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffSessionRow(Base):
    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    digest: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginDeviceRow(Base):
    """A browser that has logged in to an account: the SHA-256 of the device cookie it holds.
    The account-wide lock-out does not apply to it (``services.accounts``)."""

    __tablename__ = "login_devices"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntryRow(Base):
    """Append-only. ``seq`` is assigned under the head row's lock, without gaps."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_name: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target_type: Mapped[str | None] = mapped_column(String(64))
    target_id: Mapped[str | None] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index("ix_audit_log_target", "target_type", "target_id"),)


class AuditHeadRow(Base):
    """One row: the last entry's ``seq`` and ``hash``. Locking it serializes appends."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class OutboxRow(Base):
    """Events written in the same transaction as the change that caused them."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_type: Mapped[str] = mapped_column(String(128))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    available_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_by: Mapped[str | None] = mapped_column(String(64))
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    # The case the event belongs to: in the distributed mode a case's events of one lane run
    # one at a time, in order. And the relay's hand-over to the broker, until when it stands.
    ordering_key: Mapped[str | None] = mapped_column(String(64))
    relayed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    relayed_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_outbox_due", "status", "available_at"),
        Index(
            "ix_outbox_pending_key",
            "ordering_key",
            "id",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )


class ScheduleRow(Base):
    """A periodic job's next run, claimed by one relay however many run (``jobs.relay``)."""

    __tablename__ = "schedules"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_run_by: Mapped[str | None] = mapped_column(String(64))


class HeartbeatRow(Base):
    """A relay's or a worker's latest sign of life and what it reports."""

    __tablename__ = "heartbeats"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType)


class BankRow(Base):
    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    policy: Mapped[str] = mapped_column(String(32))
    pdq_threshold: Mapped[int] = mapped_column(Integer, default=31)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BankEntryRow(Base):
    __tablename__ = "bank_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    signal_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(128), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Provenance of an entry an exchange gave: which exchange, its id there, its tags; and
    # when the exchange withdrew it (then it is disabled until the exchange lists it again).
    exchange_id: Mapped[int | None] = mapped_column(ForeignKey("exchanges.id", ondelete="SET NULL"))
    external_id: Mapped[str | None] = mapped_column(String(256))
    tags: Mapped[str | None] = mapped_column(Text)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Matched more distinct uploads in an hour than the flood limit: its matches ask a
    # person instead of acting, until someone enables it again.
    quarantined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("bank_id", "signal_type", "value", name="uq_bank_entries_value"),
        _where_set("ix_bank_entries_exchange", "exchange_id"),
    )


class BankEntryHitRow(Base):
    """An upload an entry matched, kept an hour: how a flooding entry is told."""

    __tablename__ = "bank_entry_hits"

    entry_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    content_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class BankEntryFrameRow(Base):
    """The frames of a ``vpdq`` entry (a video's vPDQ hash): its PDQ hashes with quality."""

    __tablename__ = "bank_entry_frames"

    entry_id: Mapped[int] = mapped_column(
        ForeignKey("bank_entries.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    pdq: Mapped[str] = mapped_column(String(64))
    quality: Mapped[int] = mapped_column(Integer)


class ExchangeRow(Base):
    """A hash exchange a bank is kept in step with, and where its sync stands."""

    __tablename__ = "exchanges"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(Text)
    # The credentials as JSON, sealed with the evidence vault's key where one is set (its
    # fingerprint in credentials_key); never read but by the sync.
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)
    credentials_wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    credentials_key: Mapped[str | None] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=900)
    checkpoint: Mapped[Any] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_fetch_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    leased_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    fetched: Mapped[int] = mapped_column(BigInteger, default=0)
    added: Mapped[int] = mapped_column(BigInteger, default=0)
    withdrawn: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[Any] = mapped_column(JSONType, default=list)


class ExchangeFeedbackRow(Base):
    """Feedback owed to an exchange on one of its entries: one per case, entry and verdict
    (a confirmation, then its overturning on appeal, owe two)."""

    __tablename__ = "exchange_feedback"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id", ondelete="CASCADE"))
    entry_id: Mapped[int] = mapped_column(BigInteger)
    case_id: Mapped[int] = mapped_column(BigInteger)
    verdict: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint(
            "exchange_id", "entry_id", "case_id", "verdict", name="uq_exchange_feedback"
        ),
        Index("ix_exchange_feedback_due", "state", "next_attempt_at"),
    )


class MatchingStateRow(Base):
    """One row: a counter bumped by every bank or entry change, so each process can tell
    that its in-memory indexes are stale."""

    __tablename__ = "matching_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    # The newest version whose ``bank_changes`` were pruned: a process behind it rebuilds.
    pruned_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class BankChangeRow(Base):
    """Entries a transaction added, changed or deleted, as id ranges, under the matching
    version it committed as: what a process applies to its indexes to catch up from the
    version it holds, instead of reading every entry again."""

    __tablename__ = "bank_changes"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, index=True)
    first_id: Mapped[int] = mapped_column(BigInteger)
    last_id: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BankSnapshotRow(Base):
    """Every PDQ and exact-value bank entry as the indexes' arrays, at a matching version
    (``matching.index_arrays``): a process starts from the newest and applies the changes
    logged since, instead of reading every entry. ``arrays``: each array's dtype and shape;
    its bytes are in ``bank_snapshot_parts``."""

    __tablename__ = "bank_snapshots"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    entries: Mapped[int] = mapped_column(BigInteger)
    arrays: Mapped[dict[str, Any]] = mapped_column(JSONType)


class BankSnapshotPartRow(Base):
    """A piece of one array of a snapshot (pieces keep each value well under the drivers'
    and PostgreSQL's limits, and a load to one copy of the array)."""

    __tablename__ = "bank_snapshot_parts"

    snapshot_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("bank_snapshots.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    part: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class ContentRow(Base):
    """The content registry: every item a platform scanned or registered."""

    __tablename__ = "content"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    content_id: Mapped[str] = mapped_column(String(256), unique=True)
    account_id: Mapped[str] = mapped_column(String(256), index=True)
    parent_content_id: Mapped[str | None] = mapped_column(String(256))
    media_kind: Mapped[str | None] = mapped_column(String(16))
    pdq: Mapped[str | None] = mapped_column(String(64))
    pdq_quality: Mapped[int | None] = mapped_column(Integer)
    # The image's PDQ mirrored and rotated (``PdqHash.variants``), comma-separated.
    pdq_variants: Mapped[str | None] = mapped_column(Text)
    md5: Mapped[str | None] = mapped_column(String(32))
    sha256: Mapped[str | None] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_scanned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_case_id: Mapped[int | None] = mapped_column(BigInteger)  # ``ContentItem``

    # Most items reported were never scanned: no hashes, no parent (migration 0004).
    __table_args__ = (
        _where_set("ix_content_md5", "md5"),
        _where_set("ix_content_sha256", "sha256"),
        _where_set("ix_content_parent_content_id", "parent_content_id"),
    )


class InstanceSecretRow(Base):
    """Secrets this installation made for itself at set-up (e.g. the key status links are
    derived from). Never shown; rotating one invalidates what was derived from it."""

    __tablename__ = "instance_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


class CaseRow(Base):
    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # SQLite's table keeps the 16 it was made with (it holds text to no length, and widening
    # it would mean rebuilding a table other rows refer to: migration 0007).
    status: Mapped[str] = mapped_column(
        String(32).with_variant(String(16), "sqlite"), default="open"
    )
    priority: Mapped[str] = mapped_column(String(4))
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    facts: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    respond_by: Mapped[datetime] = mapped_column(UTCDateTime)
    remove_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Derived from ``facts`` (``Case.category``, ``Case.minor_safety``), for the queue's
    # filters and the child-safety rule in SQL.
    category: Mapped[str] = mapped_column(String(16), default="policy", server_default="policy")
    minor_safety: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    # The queue: the cases waiting for a person, in deadline order (``CaseQueue``); and the
    # lead's lists of held, pending and appealed cases. New cases enter only the first.
    __table_args__ = (
        Index(
            "ix_cases_due",
            "respond_by",
            "priority",
            "status",
            "minor_safety",
            "category",
            sqlite_where=text(QUEUE_WHERE),
            postgresql_where=text(QUEUE_WHERE),
        ),
        Index(
            "ix_cases_held",
            "status",
            "minor_safety",
            "respond_by",
            sqlite_where=text(HELD_WHERE),
            postgresql_where=text(HELD_WHERE),
        ),
        # Transparency reports: the NCII removal requests of a period.
        Index(
            "ix_cases_ncii",
            "opened_at",
            sqlite_where=text("remove_by IS NOT NULL"),
            postgresql_where=text("remove_by IS NOT NULL"),
        ),
    )


def _clock_index(column: str, where: str = "") -> Index:
    """A transparency report's clock read in the order it is grouped (priority, seconds), the
    period checked from the index alone: one narrow scan, no sort."""
    condition = text(f"{column} IS NOT NULL{where}")
    return Index(
        f"ix_case_clocks_{column.removesuffix('_s')}",
        "priority",
        column,
        "opened_at",
        sqlite_where=condition,
        postgresql_where=condition,
    )


class CaseClockRow(Base):
    """A case's clocks in whole seconds from its opening (``store.clock_repos``), kept as its
        events happen; a row from the case's first clock on. ``priority`` and ``category`` are the
    case's when a clock was last marked."""

    __tablename__ = "case_clocks"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    priority: Mapped[str] = mapped_column(String(4))
    category: Mapped[str] = mapped_column(String(16))
    look_s: Mapped[int | None] = mapped_column(BigInteger)
    decision_s: Mapped[int | None] = mapped_column(BigInteger)
    removal_s: Mapped[int | None] = mapped_column(BigInteger)
    removals_pending: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    filing_s: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        _clock_index("look_s"),
        _clock_index("decision_s"),
        _clock_index("removal_s", " AND removals_pending = 0"),
        _clock_index("filing_s"),
        # The harmonised template's median time to act, by category (``dsa_template``).
        Index(
            "ix_case_clocks_category",
            "category",
            "decision_s",
            "opened_at",
            sqlite_where=text("decision_s IS NOT NULL"),
            postgresql_where=text("decision_s IS NOT NULL"),
        ),
    )


class CaseReviewRow(Base):
    """A case's review state (``cases.review``): who holds it and until when, a proposal
    waiting for a second opinion, who decided and when. One row per case a person has looked
    at; apart from ``cases`` so report intake, which never reads it, never writes it either."""

    __tablename__ = "case_reviews"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), primary_key=True)
    claim_user_id: Mapped[int | None] = mapped_column(BigInteger)
    claim_name: Mapped[str | None] = mapped_column(String(256))
    claim_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    proposal: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    first_look_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(256))
    second_by: Mapped[str | None] = mapped_column(String(256))
    appeal_of: Mapped[str | None] = mapped_column(String(32))
    held_from: Mapped[str | None] = mapped_column(String(32))
    hold_reason: Mapped[str | None] = mapped_column(Text)
    escalated_to: Mapped[str | None] = mapped_column(String(32))  # lead | law_enforcement
    # The decision in force was made on appeal: a decision is appealed once.
    appeal_heard: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class MediaRevealRow(Base):
    """A reviewer revealed one item's original media: counted for their exposure today."""

    __tablename__ = "media_reveals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    case_id: Mapped[int] = mapped_column(BigId)
    content_id: Mapped[str] = mapped_column(String(256))
    at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_media_reveals_user_at", "user_id", "at"),)


class ActionRow(Base):
    """What enforcement asks the platform to do (``cases.enforcement``): ``pending`` until a
    2xx from the webhook or an acknowledgment on the pull API (``delivered``), or ``failed``
    after too many attempts. ``action_id`` is stable: a retried batch carries the same ids."""

    __tablename__ = "actions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    action_id: Mapped[str] = mapped_column(String(36), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    content_id: Mapped[str | None] = mapped_column(String(256))
    account_id: Mapped[str | None] = mapped_column(String(256))
    category: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    statement: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index(
            "ix_actions_due",
            "next_attempt_at",
            "id",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
        Index(
            "ix_actions_failed",
            "id",
            sqlite_where=text("state = 'failed'"),
            postgresql_where=text("state = 'failed'"),
        ),
        # Transparency reports count a period's actions from this index alone, in its order.
        Index("ix_actions_counts", "type", "category", "created_at"),
    )


class StatementTemplateRow(Base):
    """A statement of reasons' fields in the Transparency Database's form, but its ``puid``:
    shared by the statements of one decision's copies alike (``StatementOfReasonsRow``)."""

    __tablename__ = "statement_templates"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType)


class StatementOfReasonsRow(Base):
    """A restricting action's statement of reasons (``cases.reasons``), in the Transparency
    Database's form (its template's fields: no personal data), and its submission there: ``pending``
    until the database took it (``sent``), or ``failed`` after too many attempts."""

    __tablename__ = "statements_of_reasons"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    puid: Mapped[str] = mapped_column(String(64), unique=True)  # the action's id
    case_id: Mapped[int] = mapped_column(BigId, index=True)
    restriction: Mapped[str] = mapped_column(String(32))
    template_id: Mapped[int] = mapped_column(BigId)  # its fields, ``puid`` apart
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    state: Mapped[str] = mapped_column(String(16), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index(
            "ix_statements_of_reasons_due",
            "next_attempt_at",
            "id",
            sqlite_where=text("state = 'pending'"),
            postgresql_where=text("state = 'pending'"),
        ),
    )


class ContentFrameRow(Base):
    """The PDQ hashes of a registered video's sampled frames (strong ones only), so a
    violation finds the video's re-encoded copies."""

    __tablename__ = "content_frames"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    content_id: Mapped[str] = mapped_column(String(256), index=True)
    pdq: Mapped[str] = mapped_column(String(64))


class _PdqChunks:
    """A PDQ hash's eleven chunk values (``matching.pdq_index.chunk_keys``), each indexed: the
    registry's near-copy search on PostgreSQL, where triggers keep these tables in step with
    the hashes (migration 0017). Empty on SQLite, whose one process searches in memory."""

    k0: Mapped[int] = mapped_column(Integer, index=True)
    k1: Mapped[int] = mapped_column(Integer, index=True)
    k2: Mapped[int] = mapped_column(Integer, index=True)
    k3: Mapped[int] = mapped_column(Integer, index=True)
    k4: Mapped[int] = mapped_column(Integer, index=True)
    k5: Mapped[int] = mapped_column(Integer, index=True)
    k6: Mapped[int] = mapped_column(Integer, index=True)
    k7: Mapped[int] = mapped_column(Integer, index=True)
    k8: Mapped[int] = mapped_column(Integer, index=True)
    k9: Mapped[int] = mapped_column(Integer, index=True)
    k10: Mapped[int] = mapped_column(Integer, index=True)


class ContentPdqChunkRow(_PdqChunks, Base):
    __tablename__ = "content_pdq_chunks"

    id: Mapped[int] = mapped_column(
        BigId, ForeignKey("content.id", ondelete="CASCADE"), primary_key=True
    )


class ContentFrameChunkRow(_PdqChunks, Base):
    __tablename__ = "content_frame_chunks"

    id: Mapped[int] = mapped_column(
        BigId, ForeignKey("content_frames.id", ondelete="CASCADE"), primary_key=True
    )


class EvidenceItemRow(Base):
    """A preserved item of a case (``kind`` media or metadata), sealed (``evidence.vault``):
    only the ciphertext and the wrapped data key are stored. A purged item keeps its row,
    without them, as the record of what was deleted and why."""

    __tablename__ = "evidence_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    content_id: Mapped[str | None] = mapped_column(String(256))
    kind: Mapped[str] = mapped_column(String(16))
    media_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_fingerprint: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retained_until: Mapped[datetime] = mapped_column(UTCDateTime)
    legal_hold: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    hold_reason: Mapped[str | None] = mapped_column(Text)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    purge_reason: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index(
            "ix_evidence_items_live",
            "retained_until",
            sqlite_where=text("purged_at IS NULL"),
            postgresql_where=text("purged_at IS NULL"),
        ),
    )


class NcmecFilingRow(Base):
    """A case's CyberTipline report (``authorities.Filing``): one per case, ever. ``tip`` is
    the draft (``authorities.Tip``); ``document`` the XML as submitted, kept with the case."""

    __tablename__ = "ncmec_filings"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    state: Mapped[str] = mapped_column(String(16))
    tip: Mapped[dict[str, Any]] = mapped_column(JSONType)
    document: Mapped[str | None] = mapped_column(Text)
    report_id: Mapped[int | None] = mapped_column(BigInteger)
    drafted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submit_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    auto: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    __table_args__ = (
        UniqueConstraint("case_id", name="uq_ncmec_filings_case"),
        Index(
            "ix_ncmec_filings_due",
            "next_attempt_at",
            sqlite_where=text("state = 'filing'"),
            postgresql_where=text("state = 'filing'"),
        ),
    )


class NcmecFileRow(Base):
    """A preserved item sent with a filing: its details (``authorities.TipFile``), NCMEC's file
    id once uploaded, and when its details were sent."""

    __tablename__ = "ncmec_files"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    filing_id: Mapped[int] = mapped_column(ForeignKey("ncmec_filings.id"))
    evidence_item_id: Mapped[int] = mapped_column(ForeignKey("evidence_items.id"))
    content_id: Mapped[str | None] = mapped_column(String(256))
    details: Mapped[dict[str, Any]] = mapped_column(JSONType)
    file_id: Mapped[str | None] = mapped_column(String(255))
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    described_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("filing_id", "evidence_item_id", name="uq_ncmec_files_item"),
    )


class QaSampleRow(Base):
    """A single reviewer's decision drawn for a second look (the decision stands meanwhile);
    ``agrees`` is the second reviewer's verdict."""

    __tablename__ = "qa_samples"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    decided_by: Mapped[str] = mapped_column(String(256))
    category: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    sampled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reviewer: Mapped[str | None] = mapped_column(String(256))
    agrees: Mapped[bool | None] = mapped_column(Boolean)
    note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_qa_samples_open", "reviewed_at", "id"),)


class CaseItemRow(Base):
    """An item a case is about: the reported content, with its family root and hashes so a
    report about a repost or a matching copy finds the case in one indexed lookup. ``open``
    mirrors the case's state; one open case per content id (a partial unique index)."""

    __tablename__ = "case_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    content_id: Mapped[str] = mapped_column(String(256))
    root_content_id: Mapped[str] = mapped_column(String(256))
    account_id: Mapped[str | None] = mapped_column(String(256))
    pdq: Mapped[str | None] = mapped_column(String(64))
    md5: Mapped[str | None] = mapped_column(String(32))
    sha256: Mapped[str | None] = mapped_column(String(64))
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index(
            "uq_case_items_open_content",
            "content_id",
            unique=True,
            sqlite_where=text("open"),
            postgresql_where=text("open"),
        ),
        Index("ix_case_items_root", "root_content_id", "open"),
        _where_set("ix_case_items_md5", "md5"),
        _where_set("ix_case_items_sha256", "sha256"),
        # Search (``ReviewRepository.search``): closed items by content id (open ones are in
        # the unique index above), items by account and by PDQ hash.
        Index(
            "ix_case_items_closed_content",
            "content_id",
            sqlite_where=text("NOT open"),
            postgresql_where=text("NOT open"),
        ),
        _where_set("ix_case_items_account_id", "account_id"),
        _where_set("ix_case_items_pdq", "pdq"),
    )


class ReportRow(Base):
    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Looked up by case through ``ix_reports_case_reporter`` (case_id first).
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    content_id: Mapped[str] = mapped_column(String(256), index=True)
    content_url: Mapped[str | None] = mapped_column(String(2048))
    category: Mapped[str] = mapped_column(String(16))
    reporter_role: Mapped[str] = mapped_column(String(32))
    depicted_minor: Mapped[bool | None] = mapped_column(Boolean)
    police_agency: Mapped[str | None] = mapped_column(String(256))
    police_case_number: Mapped[str | None] = mapped_column(String(128))
    # The reporter's own reference for the report (a trusted flagger's ticket): a search key.
    reporter_reference: Mapped[str | None] = mapped_column(String(128))
    contact_name: Mapped[str | None] = mapped_column(String(256))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    signature: Mapped[str | None] = mapped_column(String(256))
    good_faith_statement: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    valid_request: Mapped[bool | None] = mapped_column(Boolean)  # ncii: a valid removal request
    source: Mapped[str] = mapped_column(String(16))
    principal_kind: Mapped[str] = mapped_column(String(32))
    principal_id: Mapped[int | None] = mapped_column(BigInteger)
    principal_name: Mapped[str] = mapped_column(String(128))
    submitter: Mapped[str] = mapped_column(String(64))  # idempotency scope: who submitted
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    reporter_key: Mapped[str | None] = mapped_column(String(64))  # who, for "distinct reporters"
    status_digest: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("submitter", "idempotency_key", name="uq_reports_idempotency"),
        # ``source`` too: whether a case has a notice, from the index alone (transparency).
        Index("ix_reports_case_reporter", "case_id", "reporter_key", "source"),
        # Transparency reports count a period's notices from this index alone, in its order.
        Index("ix_reports_counts", "category", "source", "reporter_role", "received_at"),
        # Search: a police case number; a content URL by its first 512 characters (a whole
        # URL of 2,048 could pass the size PostgreSQL allows an index entry).
        _where_set("ix_reports_police_case_number", "police_case_number"),
        _where_set("ix_reports_reporter_reference", "reporter_reference"),
        Index(
            "ix_reports_content_url",
            text("substr(content_url, 1, 512)"),
            sqlite_where=text("content_url IS NOT NULL"),
            postgresql_where=text("content_url IS NOT NULL"),
        ),
    )


class DecisionRow(Base):
    """A case's decisions (``cases.Decision``), in the order they were made: every reporter
    of the case sees their statements of reasons."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    statement: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(256))
    automated: Mapped[bool] = mapped_column(Boolean)
    grounds: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    classification: Mapped[str | None] = mapped_column(String(2))  # A1, A2, B1 or B2

    # Transparency reports count a period's decisions from this index alone, in its order.
    __table_args__ = (Index("ix_decisions_counts", "outcome", "automated", "decided_at"),)


class CaseLinkRow(Base):
    """Two cases a reviewer said belong together (``kind`` ``related``), or one merged into
    the other (``merged``: ``case_id`` was merged into ``other_case_id``). Read from both
    ends."""

    __tablename__ = "case_links"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    other_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_by: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("case_id", "other_case_id", name="uq_case_links_pair"),)


class CaseMessageRow(Base):
    """What a reporter sent from their status page, and what staff wrote to them: replies
    and appeals. Decisions have their own table (``decisions``)."""

    __tablename__ = "case_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), index=True)
    author: Mapped[str] = mapped_column(String(16))  # reporter | staff | system
    kind: Mapped[str] = mapped_column(String(16))  # reply | appeal
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ContentStatsRow(Base):
    """Exposure the platform reports for an item: the latest and the previous reading, so
    triage can tell fast growth."""

    __tablename__ = "content_stats"

    content_id: Mapped[str] = mapped_column(String(256), primary_key=True)
    views: Mapped[int] = mapped_column(BigInteger, default=0)
    reposts: Mapped[int] = mapped_column(BigInteger, default=0)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    previous_views: Mapped[int | None] = mapped_column(BigInteger)
    previous_reposts: Mapped[int | None] = mapped_column(BigInteger)
    previous_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RateCounterRow(Base):
    """Attempts counted against a rate limit, per bucket (a limit and whom it counts) and
    fixed window; the limit reads the current and the previous window (a sliding estimate).
    Shared by every process on the database, so a limit holds across them."""

    __tablename__ = "rate_counters"

    bucket: Mapped[str] = mapped_column(String(128), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # unix seconds
    count: Mapped[int] = mapped_column(Integer, default=0)
