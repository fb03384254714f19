"""Delivering actions to the platform's webhook: signed batches, retried until a 2xx.

A deliverer takes up to ``batch`` pending actions that are due, holds them for ``lease``
seconds (so two processes never send the same ones at once, and a process killed mid-batch
lets them go), and ``POST``s ``{"actions": [...]}`` to ``TAKEDOWN_PLATFORM_WEBHOOK_URL``
signed with ``Takedown-Signature`` (``identity.signatures``). A 2xx marks every action of the
batch ``delivered``; anything else (an error status, a refused connection, a timeout) counts
an attempt, and the lane's ``RetryPolicy`` (the rule of every lane, ``takedown.retry``) says
when the batch is tried again or that its actions are parked: ``failed``, shown on the
operations page with the last error, until someone retries them. Every action keeps its
``action_id`` through every attempt and restart, so a receiver that saw a batch before can
tell. The state is in the database: a restart or a crash loses nothing.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass
from functools import partial
from typing import Any

from takedown import outbound
from takedown.cases import case_number
from takedown.cases.enforcement import ContentRemoved
from takedown.clock import SYSTEM_CLOCK, Clock
from takedown.identity import SIGNATURE_HEADER, sign
from takedown.jobs.loop import StoreLoop
from takedown.retry import RetryPolicy
from takedown.store.db import Database
from takedown.store.enforcement_repos import ActionRecord
from takedown.store.group_commit import GroupCommitter
from takedown.store.uow import UnitOfWork

log = logging.getLogger("takedown.delivery")


DELIVERY_RETRY = RetryPolicy(max_attempts=12, backoff_seconds=2.0, lease_seconds=60.0)


@dataclass(frozen=True)
class DeliverySettings:
    url: str
    secret: str
    batch: int = 100
    retry: RetryPolicy = DELIVERY_RETRY
    timeout_seconds: float = 10.0
    poll_seconds: float = 1.0


def action_json(action: ActionRecord) -> dict[str, Any]:
    """An action as the platform receives it (the webhook's and the pull API's)."""
    body: dict[str, Any] = {
        "action_id": action.action_id,
        "type": action.type,
        "case_id": action.case_id,
        "case_number": case_number(action.case_id),
        "category": action.category,
        "reason": action.reason,
        "statement_of_reasons": action.statement,
    }
    if action.content_id is not None:
        body["content_id"] = action.content_id
    if action.account_id is not None:
        body["account_id"] = action.account_id
    return body


class Deliverer(StoreLoop):
    """The ``delivery`` lane of the job runtime, in a process that delivers (``takedown
    serve`` with the worker on, or ``takedown worker``) where a webhook is set. It polls; a
    commit that plans actions wakes it at once."""

    thread_name = "takedown-delivery"
    log_name = "takedown.delivery"

    def __init__(
        self,
        db: Database,
        settings: DeliverySettings,
        *,
        writer: GroupCommitter | None = None,
        clock: Clock = SYSTEM_CLOCK,
    ) -> None:
        self.settings = settings
        self.poll_seconds = settings.poll_seconds
        super().__init__(db, writer=writer, clock=clock)

    def run_once(self) -> int:
        """Send one batch of due actions; returns how many were sent (delivered or not)."""
        s = self.settings
        now = self.clock.now()
        until = now + s.retry.lease
        batch: list[ActionRecord] = self._write(
            partial(_claim, now=now, until=until, limit=s.batch)
        )
        if not batch:
            return 0
        body = json.dumps({"actions": [action_json(a) for a in batch]}).encode()
        error = self._post(body)
        ids = [a.id for a in batch]
        done = self.clock.now()
        if error is None:
            self._write(partial(_delivered, batch=batch, at=done))
        else:
            attempts = min(a.attempts for a in batch) + 1
            retry_at = s.retry.next_try(attempts, done)
            log.warning(
                "the platform's webhook refused a batch",
                extra={
                    "actions": len(ids),
                    "error": error,
                    "retry_in_s": None if retry_at is None else (retry_at - done).total_seconds(),
                },
            )
            self._write(
                partial(_failed, ids=ids, error=error, retry_at=retry_at or done, policy=s.retry)
            )
        return len(batch)

    def _post(self, body: bytes) -> str | None:
        """None when the platform answered 2xx; else what went wrong."""
        s = self.settings
        request = urllib.request.Request(  # noqa: S310 - the operator's configured URL
            s.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(s.secret, body, now=self.clock.time()),
            },
        )
        try:
            with outbound.urlopen(request, timeout=s.timeout_seconds) as answer:
                answer.read(1024)
                return None
        except urllib.error.HTTPError as exc:
            if 300 <= exc.code < 400:
                return f"HTTP {exc.code}: a redirect, never followed (check the webhook's URL)"
            return f"HTTP {exc.code}"
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            return f"{type(exc).__name__}: {exc}"[:500]

    def _more_waiting(self, worked: int) -> bool:
        return worked >= self.settings.batch  # a full batch: more may be due


def _claim(uow: UnitOfWork, *, now: Any, until: Any, limit: int) -> list[ActionRecord]:
    return uow.actions.claim_due(now=now, until=until, limit=limit)


def _delivered(uow: UnitOfWork, *, batch: list[ActionRecord], at: Any) -> None:
    uow.actions.delivered([a.id for a in batch], at=at)
    publish_removals(uow, batch)


def publish_removals(uow: UnitOfWork, done: list[ActionRecord]) -> None:
    """``ContentRemoved`` for each case whose remove actions are among ``done``."""
    removed: dict[int, list[str]] = {}
    for action in done:
        if action.type == "remove" and action.content_id:
            removed.setdefault(action.case_id, []).append(action.content_id)
    for case_id, content_ids in removed.items():
        uow.publish(ContentRemoved(case_id=case_id, content_ids=content_ids))


def _failed(
    uow: UnitOfWork, *, ids: list[int], error: str, retry_at: Any, policy: RetryPolicy
) -> None:
    uow.actions.attempt_failed(
        ids, error=error, retry_at=retry_at, give_up_after=policy.max_attempts
    )
