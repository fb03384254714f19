"""Statements of reasons to the DSA Transparency Database (Article 24(5)): the ``transparency``
lane of the job runtime, where ``TAKEDOWN_DSA_TDB_URL`` and ``TAKEDOWN_DSA_TDB_TOKEN`` are set.

Each pass claims up to 100 due statements (``statements_of_reasons``, written with their
actions in the decision's transaction) and sends them in one call, ``POST
{url}/statements`` with ``{"statements": [...]}`` and the token as Bearer. The database takes a
call whole or not at all:

- 2xx: every statement of the call is stored there (``sent``);
- 422 naming ``existing_puids``: those are there already, which is success for them; the rest
  are due again at once and go in the next call;
- 422 naming statements by their place (``statement_N``): those are refused for good
  (``failed``, with the database's words, on the operations page); the rest are due again;
- anything else (a 5xx, a timeout, a refused token, a redirect, which is never followed): the
  whole call is tried again after the lane's back-off, and parked after its last attempt.

Nothing is sent where the settings are missing: the statements wait, and go once they are
set. ``takedown statements export`` writes them to a file for a manual upload instead.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from takedown import outbound
from takedown.clock import SYSTEM_CLOCK, Clock
from takedown.identity import Permission, Principal, require
from takedown.jobs.loop import StoreLoop
from takedown.retry import RetryPolicy
from takedown.store.db import Database
from takedown.store.enforcement_repos import StoredStatement
from takedown.store.group_commit import GroupCommitter
from takedown.store.uow import UnitOfWork

log = logging.getLogger(__name__)

BATCH = 100  # the most the database takes in one call
TDB_RETRY = RetryPolicy(max_attempts=12, backoff_seconds=30.0, lease_seconds=120.0)
MAX_ANSWER = 1 << 20


@dataclass(frozen=True)
class TdbSettings:
    url: str  # the API root, e.g. https://transparency.dsa.ec.europa.eu/api/v1
    token: str
    retry: RetryPolicy = TDB_RETRY
    timeout_seconds: float = 30.0
    poll_seconds: float = 5.0


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no answer (a timeout, a refused connection)
    body: dict[str, Any]
    error: str | None  # what went wrong, for the log and the operations page


class TdbLane(StoreLoop):
    """The ``transparency`` lane: statements of reasons to the Transparency Database."""

    thread_name = "takedown-transparency"
    log_name = "takedown.transparency"

    def __init__(
        self,
        db: Database,
        settings: TdbSettings,
        *,
        writer: GroupCommitter | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings
        self.poll_seconds = settings.poll_seconds
        super().__init__(db, writer=writer, clock=clock)

    def run_once(self) -> int:
        """Send one call's worth of due statements; returns how many were claimed."""
        s = self.settings
        now = self.clock.now()
        batch: list[StoredStatement] = self._write(
            partial(_claim, now=now, until=now + s.retry.lease, limit=BATCH)
        )
        if not batch:
            return 0
        answer = self._post([st.fields for st in batch])
        self._write(
            partial(_settle, batch=batch, answer=answer, at=self.clock.now(), retry=s.retry)
        )
        return len(batch)

    def _post(self, statements: list[dict[str, Any]]) -> Answer:
        s = self.settings
        body = json.dumps({"statements": statements}).encode()
        request = urllib.request.Request(  # noqa: S310 - the operator's configured URL
            s.url.rstrip("/") + "/statements",
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json",
                "Authorization": f"Bearer {s.token}",
            },
        )
        try:
            with outbound.urlopen(request, timeout=s.timeout_seconds) as answer:
                return Answer(answer.status, _json(answer.read(MAX_ANSWER)), None)
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:
                return Answer(exc.code, {}, f"HTTP {exc.code}: a redirect, never followed")
            return Answer(exc.code, _json(exc.read(MAX_ANSWER)), f"HTTP {exc.code}")
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            return Answer(None, {}, f"{type(exc).__name__}: {exc}"[:500])

    def _more_waiting(self, worked: int) -> bool:
        return worked >= BATCH


def _json(data: bytes) -> dict[str, Any]:
    try:
        found = json.loads(data)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _claim(uow: UnitOfWork, *, now: datetime, until: datetime, limit: int) -> list[StoredStatement]:
    return uow.statements.claim_due(now=now, until=until, limit=limit)


def _refused(batch: list[StoredStatement], errors: dict[str, Any]) -> dict[int, str]:
    """Statement id → why, for each statement a 422 names by its place (``statement_N``)."""
    found = {}
    for key, why in errors.items():
        place = key.removeprefix("statement_")
        if key.startswith("statement_") and place.isdigit() and int(place) < len(batch):
            words = "; ".join(map(str, why)) if isinstance(why, list) else str(why)
            found[batch[int(place)].id] = words[:1000]
    return found


def _settle(
    uow: UnitOfWork,
    *,
    batch: list[StoredStatement],
    answer: Answer,
    at: datetime,
    retry: RetryPolicy,
) -> None:
    """Record what the database's answer means for each statement of the call."""
    ids = [st.id for st in batch]
    if answer.status is not None and 200 <= answer.status < 300:
        uow.statements.sent(ids, at=at)
        return
    errors = answer.body.get("errors") if answer.status == 422 else None
    if isinstance(errors, dict):
        existing = set(errors.get("existing_puids") or [])
        there = [st.id for st in batch if st.puid in existing]
        refused = _refused(batch, errors)
        if there or refused:
            uow.statements.sent(there, at=at)
            for statement_id, why in refused.items():
                uow.statements.attempt_failed(
                    [statement_id], error=f"refused: {why}", retry_at=at, give_up_after=1
                )
            uow.statements.released([i for i in ids if i not in refused and i not in there])
            if refused:
                log.warning(
                    "the Transparency Database refused statements", extra={"refused": len(refused)}
                )
            return
    attempts = min(st.attempts for st in batch) + 1
    retry_at = retry.next_try(attempts, at) or at
    error = answer.error or f"HTTP {answer.status}"
    log.warning(
        "the Transparency Database did not take a call",
        extra={"statements": len(ids), "error": error},
    )
    uow.statements.attempt_failed(
        ids, error=error, retry_at=retry_at, give_up_after=retry.max_attempts
    )


EXPORT_PAGE = 1000
# The columns of a CSV export: the database's fields, lists joined by commas.
CSV_FIELDS = (
    "puid", "decision_visibility", "end_date_visibility_restriction", "decision_account",
    "end_date_account_restriction", "decision_ground", "illegal_content_legal_ground",
    "illegal_content_explanation", "incompatible_content_ground",
    "incompatible_content_explanation", "incompatible_content_illegal", "category",
    "category_specification", "content_type", "content_type_other", "territorial_scope",
    "content_date", "application_date", "decision_facts", "source_type", "automated_detection",
    "automated_decision",
)  # fmt: skip


def export(
    *, uow: Callable[[], UnitOfWork], actor: Principal, start: datetime, end: datetime
) -> Iterator[StoredStatement]:
    """Every statement of reasons made in ``[start, end)``, oldest first, read a page at a
    time: for a manual upload to the Transparency Database, or to check what was sent. The
    statements hold no personal data; ``transparency:read``."""
    require(actor, Permission.transparency_read)
    after = 0
    while True:
        with uow() as reading:
            page = reading.statements.between(start, end, after_id=after, limit=EXPORT_PAGE)
        yield from page
        if len(page) < EXPORT_PAGE:
            return
        after = page[-1].id


def csv_row(fields: dict[str, Any]) -> list[str]:
    """A statement's fields as a CSV export's row (``CSV_FIELDS``)."""
    out = []
    for name in CSV_FIELDS:
        value = fields.get(name)
        out.append(
            ",".join(value) if isinstance(value, list) else "" if value is None else str(value)
        )
    return out
