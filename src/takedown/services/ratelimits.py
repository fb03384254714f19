"""Rate limits kept in the database, so one limit holds across every web process.

A limit counts attempts per *bucket* (the limit's name and a pseudonym of whom it counts: a
keyed digest of a client address, a status link's digest) in fixed windows, and estimates
the sliding window from the current and the previous one (the previous weighted by how much
of it the sliding window still covers). ``check`` only reads; ``hit`` counts one attempt in
the caller's unit of work, so an attempt is counted only if what it did commits: a refused
report is never counted against its sender.

Time is passed in (``now``, unix seconds), so tests move it instead of sleeping.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from takedown.store.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class RateLimit:
    """``limit`` attempts per ``window_seconds`` for each one counted, under ``name``."""

    name: str
    limit: int
    window_seconds: int

    def bucket(self, who: str) -> str:
        return f"{self.name}:{who}"[:128]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt by ``who`` at ``now`` against ``rule``, to count (``hit``) in the unit of
    work of what it did, so it counts only if that commits."""

    rule: RateLimit
    who: str
    now: float

    def count(self, uow: UnitOfWork) -> None:
        hit(uow, self.rule, self.who, now=self.now)


@dataclass(frozen=True, slots=True)
class RateVerdict:
    allowed: bool
    retry_after: int  # seconds until one more attempt is allowed (0 when allowed)


def _windows(rule: RateLimit, now: float) -> tuple[int, int, float]:
    w = rule.window_seconds
    current = int(now // w) * w
    return current, current - w, (now - current) / w


def check(uow: UnitOfWork, rule: RateLimit, who: str, *, now: float) -> RateVerdict:
    """Whether ``who`` may make one more attempt now (reads only, in a unit of work of its
    own)."""
    with uow:
        return estimate(uow, rule, who, now=now)


def estimate(uow: UnitOfWork, rule: RateLimit, who: str, *, now: float) -> RateVerdict:
    """``check`` in an entered unit of work."""
    current, previous, elapsed = _windows(rule, now)
    counts = uow.rate_counters.counts(rule.bucket(who), (current, previous))
    return verdict(rule, counts.get(current, 0), counts.get(previous, 0), elapsed)


def verdict(rule: RateLimit, current: int, previous: int, elapsed: float) -> RateVerdict:
    """The sliding estimate ``current + previous × (1 − elapsed)`` against the limit, and
    when it will next be under it. ``elapsed``: the share of the current window gone."""
    w, limit = rule.window_seconds, rule.limit
    if current + previous * (1 - elapsed) < limit:
        return RateVerdict(True, 0)
    if current < limit:
        # The previous window's share must fall to limit − current: it falls linearly.
        wait = (1 - (limit - current) / previous - elapsed) * w
    else:
        # Only once this window is the previous one: then ``current`` × (1 − x) < limit.
        wait = (1 - elapsed) * w + (1 - limit / current) * w
    return RateVerdict(False, max(1, math.ceil(wait + 1e-9)))


def hit(uow: UnitOfWork, rule: RateLimit, who: str, *, now: float) -> None:
    """Count one attempt by ``who`` in an entered unit of work (no commit)."""
    current, _, _ = _windows(rule, now)
    counters = uow.rate_counters
    counters.hit(rule.bucket(who), current)
    if random.random() < 0.01:  # noqa: S311 (housekeeping, not security)
        counters.forget_before(rule.name, current - rule.window_seconds)
