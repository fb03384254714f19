"""Repositories for hash exchanges: their configuration and sync state, the entries a page of
theirs adds or withdraws in a bank, and the feedback owed to them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic_core import to_json
from sqlalchemy import and_, func, or_, select, tuple_, update

from takedown.matching import IndexedEntry, SignalType
from takedown.matching.banks import FOREVER
from takedown.matching.exchanges import Exchange, ExchangeEntry, ExchangeKind, Feedback, Page
from takedown.store.matching_repos import log_bank_changes
from takedown.store.models import BankEntryRow, BankRow, ExchangeFeedbackRow, ExchangeRow
from takedown.store.rawsql import RawRepository
from takedown.store.values import row_value

_LOOKUP_CHUNK = 500


def _exchange(row: ExchangeRow, bank: str) -> Exchange:
    return row_value(
        Exchange,
        row,
        bank=bank,
        kind=ExchangeKind(row.kind),
        checkpoint=dict(row.checkpoint or {}),
        errors=list(row.errors or []),
        has_credentials=row.credentials is not None,
    )


@dataclass(frozen=True)
class StoredCredentials:
    """Credentials as stored: JSON bytes, sealed when ``key`` names the vault key."""

    data: bytes
    wrapped_key: bytes | None
    key: str | None


@dataclass
class PageApplied:
    """What storing one page did to the bank."""

    added: list[IndexedEntry]
    withdrawn: list[int]  # entry ids that stop matching
    restored: list[int]  # entry ids the exchange lists again
    unchanged: int = 0  # already there as the page says, or held by another source


@dataclass(frozen=True)
class FeedbackDue:
    id: int
    exchange_id: int
    entry_id: int
    case_id: int
    verdict: Feedback
    attempts: int


# A page's new hashes; one the bank holds already is skipped. SQLite: one statement run for
# every row. PostgreSQL: one statement for them all, the rows as one JSON document (encoded
# in C; psycopg's array adapters escape each value in Python).
_INSERT_ENTRIES_PG = (
    "INSERT INTO bank_entries (bank_id, signal_type, value, source, note, added_at, "
    "exchange_id, external_id, tags) SELECT bank_id, signal_type, value, source, note, "
    "added_at, exchange_id, external_id, tags FROM jsonb_to_recordset(CAST(:rows AS jsonb)) "
    "AS r(bank_id bigint, signal_type text, value text, source text, note text, "
    "added_at timestamptz, exchange_id bigint, external_id text, tags text) "
    "ON CONFLICT (bank_id, signal_type, value) DO NOTHING"
)
_INSERT_ENTRY = (
    "INSERT INTO bank_entries (bank_id, signal_type, value, source, note, added_at, "
    "exchange_id, external_id, tags) VALUES (:bank_id, :signal_type, :value, :source, :note, "
    ":added_at, :exchange_id, :external_id, :tags) "
    "ON CONFLICT (bank_id, signal_type, value) DO NOTHING"
)


class ExchangeRepository(RawRepository):
    """Exchanges and the entries they give. Storing a page's hashes is hand-written SQL
    (``RawSql``): a first sync stores a million of them."""

    def add(
        self,
        *,
        name: str,
        kind: ExchangeKind,
        bank_id: int,
        url: str,
        credentials: StoredCredentials | None,
        interval_seconds: int,
        now: datetime,
    ) -> Exchange:
        row = ExchangeRow(
            name=name,
            kind=kind.value,
            bank_id=bank_id,
            url=url,
            credentials=credentials.data if credentials else None,
            credentials_wrapped_key=credentials.wrapped_key if credentials else None,
            credentials_key=credentials.key if credentials else None,
            enabled=True,
            interval_seconds=interval_seconds,
            checkpoint={},
            created_at=now,
            next_run_at=now,
            attempts=0,
            fetched=0,
            added=0,
            withdrawn=0,
            errors=[],
        )
        self._s.add(row)
        self._s.flush()
        added = self.get(row.id)
        assert added is not None
        return added

    def _select(self) -> Any:
        return select(ExchangeRow, BankRow.name).join(BankRow, BankRow.id == ExchangeRow.bank_id)

    def _one(self, where: Any) -> Exchange | None:
        found = self._s.execute(self._select().where(where)).first()
        if found is None:
            return None
        self._s.refresh(found[0])
        return _exchange(found[0], found[1])

    def get_by_name(self, name: str) -> Exchange | None:
        return self._one(ExchangeRow.name == name)

    def get(self, exchange_id: int) -> Exchange | None:
        return self._one(ExchangeRow.id == exchange_id)

    def all(self) -> list[Exchange]:
        rows = self._s.execute(self._select().order_by(ExchangeRow.name))
        return [_exchange(row, bank) for row, bank in rows]

    def credentials(self, exchange_id: int) -> StoredCredentials | None:
        row = self._s.get(ExchangeRow, exchange_id)
        if row is None or row.credentials is None:
            return None
        return StoredCredentials(row.credentials, row.credentials_wrapped_key, row.credentials_key)

    def update(self, exchange_id: int, **values: Any) -> None:
        self._s.execute(update(ExchangeRow).where(ExchangeRow.id == exchange_id).values(**values))

    def any_due(self, now: datetime) -> bool:
        """Whether some enabled exchange's pass is due and not held."""
        return (
            self._s.scalar(
                select(ExchangeRow.id)
                .where(
                    ExchangeRow.enabled.is_(True),
                    ExchangeRow.next_run_at <= now,
                    or_(ExchangeRow.leased_until.is_(None), ExchangeRow.leased_until <= now),
                )
                .limit(1)
            )
            is not None
        )

    def claim_due(self, now: datetime, until: datetime) -> Exchange | None:
        """The enabled exchange longest due whose sync nobody holds, held until ``until``."""
        row = self._s.scalar(
            select(ExchangeRow)
            .where(
                ExchangeRow.enabled.is_(True),
                ExchangeRow.next_run_at <= now,
                or_(ExchangeRow.leased_until.is_(None), ExchangeRow.leased_until <= now),
            )
            .order_by(ExchangeRow.next_run_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if row is None:
            return None
        return self.claim(row.id, now, until)

    def claim(self, exchange_id: int, now: datetime, until: datetime) -> Exchange | None:
        """Hold the exchange's sync until ``until``; None when another process holds it."""
        done = self._s.execute(
            update(ExchangeRow)
            .where(
                ExchangeRow.id == exchange_id,
                or_(ExchangeRow.leased_until.is_(None), ExchangeRow.leased_until <= now),
            )
            .values(leased_until=until)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            return None
        return self.get(exchange_id)

    def apply_page(self, exchange: Exchange, page: Page, now: datetime) -> PageApplied:
        """Store a page in the exchange's bank: new active hashes added with their
        provenance; the exchange's own withdrawn where the page says inactive, where their
        record was deleted (``page.removed``) or, for a complete list, where it no longer
        lists them; restored where it lists them again. A hash the bank holds from another
        source is left as it is (another exchange's, or a reviewer's, is not this exchange's
        to withdraw)."""
        latest: dict[tuple[str, str], ExchangeEntry] = {}
        for e in page.entries:  # a page that lists a hash twice: the later record stands
            latest[(e.signal_type.value, e.value)] = e
        result = PageApplied(added=[], withdrawn=[], restored=[])
        # New hashes first, in one statement that skips those the bank holds already (the
        # usual page of a first sync holds only new ones, so nothing else is read for it).
        fresh = [
            {
                "bank_id": exchange.bank_id,
                "signal_type": key[0],
                "value": key[1],
                "source": f"exchange:{exchange.name}"[:128],
                "note": "",
                "added_at": self._raw.dt(now),
                "exchange_id": exchange.id,
                "external_id": e.external_id[:256],
                "tags": to_json(list(e.tags)).decode() if e.tags else None,
            }
            for key, e in latest.items()
            if e.active
        ]
        if fresh:
            raw = self._raw
            before = int(raw.value("SELECT coalesce(max(id), 0) FROM bank_entries") or 0)
            if raw.sqlite:
                raw.write_many(_INSERT_ENTRY, fresh)
            else:  # one statement for the page: the rows as arrays
                raw.write(_INSERT_ENTRIES_PG, {"rows": to_json(fresh).decode()})
            rows = raw.all(
                "SELECT id, signal_type, value FROM bank_entries "
                "WHERE exchange_id = :exchange AND id > :before ORDER BY id",
                {"exchange": exchange.id, "before": before},
            )
            result.added = [
                IndexedEntry(int(i), exchange.bank_id, SignalType(t), str(v), True)
                for i, t, v in rows
            ]
        added = {(e.signal_type.value, e.value) for e in result.added}
        # The rest: hashes the bank held already, and those the page says are withdrawn.
        keys = [k for k in latest if k not in added]
        for key, (entry_id, owner, withdrawn_at) in self._held(exchange.bank_id, keys).items():
            e = latest[key]
            if owner != exchange.id:
                result.unchanged += 1
            elif not e.active and withdrawn_at is None:
                result.withdrawn.append(entry_id)
            elif e.active and withdrawn_at is not None:
                result.restored.append(entry_id)
            else:
                result.unchanged += 1
        if page.removed:
            result.withdrawn += self._owned(
                exchange.id,
                BankEntryRow.external_id.in_(page.removed),
            )
        if page.complete:
            listed = {k for k, e in latest.items() if e.active}
            result.withdrawn += [
                entry_id
                for entry_id, kind, value in self._owned_rows(exchange.id)
                if (kind, value) not in listed
            ]
        result.withdrawn = sorted(set(result.withdrawn))
        log_bank_changes(
            self._s, [e.entry_id for e in result.added] + result.withdrawn + result.restored
        )
        if result.withdrawn:
            self._s.execute(
                update(BankEntryRow)
                .where(BankEntryRow.id.in_(result.withdrawn))
                .values(withdrawn_at=now, disabled_until=FOREVER)
            )
        if result.restored:
            self._s.execute(
                update(BankEntryRow)
                .where(BankEntryRow.id.in_(result.restored))
                .values(withdrawn_at=None, disabled_until=None)
            )
        return result

    def _held(
        self, bank_id: int, keys: list[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[int, int | None, datetime | None]]:
        """(id, exchange, withdrawn at) of the bank's entries with these (type, value) keys."""
        found: dict[tuple[str, str], tuple[int, int | None, datetime | None]] = {}
        for i in range(0, len(keys), _LOOKUP_CHUNK):
            rows = self._s.execute(
                select(
                    BankEntryRow.signal_type,
                    BankEntryRow.value,
                    BankEntryRow.id,
                    BankEntryRow.exchange_id,
                    BankEntryRow.withdrawn_at,
                ).where(
                    BankEntryRow.bank_id == bank_id,
                    tuple_(BankEntryRow.signal_type, BankEntryRow.value).in_(
                        keys[i : i + _LOOKUP_CHUNK]
                    ),
                )
            )
            for kind, value, entry_id, owner, withdrawn_at in rows:
                found[(kind, value)] = (entry_id, owner, withdrawn_at)
        return found

    def _owned(self, exchange_id: int, *where: Any) -> list[int]:
        """Ids of the exchange's entries, not withdrawn, that meet ``where``."""
        return [
            int(i)
            for i in self._s.scalars(
                select(BankEntryRow.id).where(
                    BankEntryRow.exchange_id == exchange_id,
                    BankEntryRow.withdrawn_at.is_(None),
                    *where,
                )
            )
        ]

    def _owned_rows(self, exchange_id: int) -> list[tuple[int, str, str]]:
        rows = self._s.execute(
            select(BankEntryRow.id, BankEntryRow.signal_type, BankEntryRow.value).where(
                BankEntryRow.exchange_id == exchange_id, BankEntryRow.withdrawn_at.is_(None)
            )
        )
        return [(int(i), str(t), str(v)) for i, t, v in rows]

    def entry_provenance(self, entry_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """For bank entries an exchange gave: which exchange, its id there, its tags, when."""
        found: dict[int, dict[str, Any]] = {}
        ids = list(entry_ids)
        for i in range(0, len(ids), _LOOKUP_CHUNK):
            rows = self._s.execute(
                select(
                    BankEntryRow.id,
                    ExchangeRow.name,
                    ExchangeRow.kind,
                    BankEntryRow.external_id,
                    BankEntryRow.tags,
                    BankEntryRow.added_at,
                    BankEntryRow.withdrawn_at,
                )
                .join(ExchangeRow, ExchangeRow.id == BankEntryRow.exchange_id)
                .where(BankEntryRow.id.in_(ids[i : i + _LOOKUP_CHUNK]))
            )
            for entry_id, name, kind, external_id, tags, added_at, withdrawn_at in rows:
                found[int(entry_id or 0)] = {
                    "exchange": name,
                    "kind": kind,
                    "external_id": external_id,
                    "tags": json.loads(tags) if tags else [],
                    "fetched_at": added_at.isoformat(),
                    "withdrawn": withdrawn_at is not None,
                }
        return found

    def entry_sources(self, entry_ids: Sequence[int]) -> dict[int, str]:
        """Each entry's ``source`` (an import's name, "confirmed", "exchange:NAME")."""
        found: dict[int, str] = {}
        ids = list(entry_ids)
        for i in range(0, len(ids), _LOOKUP_CHUNK):
            rows = self._s.execute(
                select(BankEntryRow.id, BankEntryRow.source).where(
                    BankEntryRow.id.in_(ids[i : i + _LOOKUP_CHUNK])
                )
            )
            found.update((int(a), str(b or "")) for a, b in rows)
        return found

    def exchange_entries(self, entry_ids: Sequence[int]) -> list[tuple[int, int, str, str, str]]:
        """(entry id, exchange id, external id, signal type, value) of those of ``entry_ids``
        an exchange gave."""
        rows = self._s.execute(
            select(
                BankEntryRow.id,
                BankEntryRow.exchange_id,
                BankEntryRow.external_id,
                BankEntryRow.signal_type,
                BankEntryRow.value,
            ).where(BankEntryRow.id.in_(list(entry_ids)), BankEntryRow.exchange_id.is_not(None))
        )
        return [(int(a), int(b or 0), str(c or ""), str(d), str(e)) for a, b, c, d, e in rows]

    def owe_feedback(
        self,
        *,
        exchange_id: int,
        entry_id: int,
        case_id: int,
        verdict: Feedback,
        now: datetime,
    ) -> bool:
        """Record feedback owed; False when it is owed already (the same case, entry and
        verdict: a decision's reaction run twice)."""
        exists = self._s.scalar(
            select(ExchangeFeedbackRow.id).where(
                and_(
                    ExchangeFeedbackRow.exchange_id == exchange_id,
                    ExchangeFeedbackRow.entry_id == entry_id,
                    ExchangeFeedbackRow.case_id == case_id,
                    ExchangeFeedbackRow.verdict == verdict.value,
                )
            )
        )
        if exists is not None:
            return False
        self._s.add(
            ExchangeFeedbackRow(
                exchange_id=exchange_id,
                entry_id=entry_id,
                case_id=case_id,
                verdict=verdict.value,
                state="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )
        self._s.flush()
        return True

    def feedback_due(self, now: datetime, limit: int, *, lock: bool = True) -> list[FeedbackDue]:
        """Pending feedback due by ``now`` (held from other senders with ``lock``)."""
        q = (
            select(ExchangeFeedbackRow)
            .where(
                ExchangeFeedbackRow.state == "pending", ExchangeFeedbackRow.next_attempt_at <= now
            )
            .order_by(ExchangeFeedbackRow.next_attempt_at, ExchangeFeedbackRow.id)
            .limit(limit)
        )
        rows = self._s.scalars(q.with_for_update(skip_locked=True) if lock else q)
        return [
            FeedbackDue(r.id, r.exchange_id, r.entry_id, r.case_id, Feedback(r.verdict), r.attempts)
            for r in rows
        ]

    def hold_feedback(self, feedback_id: int, until: datetime) -> None:
        """Taken by a sender: not due again before ``until`` (a sender that dies lets it go)."""
        self._s.execute(
            update(ExchangeFeedbackRow)
            .where(ExchangeFeedbackRow.id == feedback_id)
            .values(next_attempt_at=until)
        )

    def live_entries(self, exchange_id: int) -> int:
        """How many of the exchange's entries match now (not withdrawn)."""
        return int(
            self._s.scalar(
                select(func.count())
                .select_from(BankEntryRow)
                .where(BankEntryRow.exchange_id == exchange_id, BankEntryRow.withdrawn_at.is_(None))
            )
            or 0
        )

    def feedback_done(
        self,
        feedback_id: int,
        *,
        sent_at: datetime | None,
        error: str | None,
        retry_at: datetime | None,
    ) -> None:
        """Sent (``sent_at``), to try again (``retry_at``), or given up (neither)."""
        row = self._s.get(ExchangeFeedbackRow, feedback_id)
        assert row is not None
        row.attempts += 1
        row.last_error = error
        if sent_at is not None:
            row.state, row.sent_at = "sent", sent_at
        elif retry_at is not None:
            row.next_attempt_at = retry_at
        else:
            row.state = "failed"

    def feedback_for(self, exchange_id: int) -> list[tuple[int, int, str, str]]:
        """(entry id, case id, verdict, state) of the feedback owed to an exchange."""
        rows = self._s.execute(
            select(
                ExchangeFeedbackRow.entry_id,
                ExchangeFeedbackRow.case_id,
                ExchangeFeedbackRow.verdict,
                ExchangeFeedbackRow.state,
            )
            .where(ExchangeFeedbackRow.exchange_id == exchange_id)
            .order_by(ExchangeFeedbackRow.id)
        )
        return [(int(a), int(b), str(c), str(d)) for a, b, c, d in rows]
