"""The one rule for deferred work that can fail: how long a claim is held, when a failed
attempt is tried again, and when the work is parked for an operator.

Every lane of the job runtime follows it: outbox events, actions for the platform's webhook,
reports to NCMEC. A lane has its own values (a webhook is retried twelve times, an event
eight), never its own rule. A claim is a lease: a process that dies holding work lets it go
when the lease ends, and another takes it. After failed attempt *n* the work waits
``backoff · 2^(n-1)``, at most ``max_backoff``, give or take ``jitter`` (so that many
failures at once do not all come back at the same moment); once ``max_attempts`` attempts
have failed it is parked: it waits, with its last error, on the operations page for a person
to retry it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    backoff_seconds: float = 2.0
    max_backoff_seconds: float = 3600.0
    lease_seconds: float = 60.0
    jitter: float = 0.2

    def delay(self, attempt: int) -> timedelta:
        """The wait after failed attempt ``attempt`` (1-based)."""
        base = min(self.backoff_seconds * 2 ** (attempt - 1), self.max_backoff_seconds)
        spread = random.uniform(1 - self.jitter, 1 + self.jitter) if self.jitter else 1.0  # noqa: S311
        return timedelta(seconds=base * spread)

    def parks(self, attempts: int) -> bool:
        """Whether work that has failed ``attempts`` times waits for a person now."""
        return attempts >= self.max_attempts

    def next_try(self, attempts: int, now: datetime) -> datetime | None:
        """When work that has failed ``attempts`` times is tried again; None: parked."""
        return None if self.parks(attempts) else now + self.delay(attempts)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.lease_seconds)
