"""The API-key cache: one check at a time for each key, checked again before it expires, and
never used past its time. Time is a ``MovableClock`` the tests move; a check runs until the
test opens its gate."""

from __future__ import annotations

import asyncio

import pytest

from takedown.clock import MovableClock
from takedown.identity import NotAuthenticated, Principal, PrincipalKind
from takedown.server.auth_cache import REFRESH_SHARE, CredentialCache

KEY = Principal(kind=PrincipalKind.api_key, subject_id=1, name="platform")
TTL = 30.0


class Checks:
    """A stand-in for the database check, counting its calls; ``refuse`` makes it fail, and
    while ``gate`` is set and closed a check waits for it."""

    def __init__(self) -> None:
        self.calls = 0
        self.finished = 0
        self.refuse = False
        self.gate: asyncio.Event | None = None

    async def __call__(self) -> Principal:
        self.calls += 1
        try:
            if self.gate is not None:
                await self.gate.wait()
            await yield_to_others()
            if self.refuse:
                raise NotAuthenticated("unknown or revoked key")
            return KEY
        finally:
            self.finished += 1


async def yield_to_others(times: int = 1) -> None:
    for _ in range(times):
        await asyncio.sleep(0)  # lets the loop run the other tasks once; no time passes


async def until(condition, *, turns: int = 100) -> None:
    """Let the loop run until ``condition()`` holds (at most ``turns`` times round)."""
    for _ in range(turns):
        if condition():
            return
        await yield_to_others()
    raise AssertionError("the background check did not finish")


async def due_for_a_check(check: Checks) -> tuple[CredentialCache, MovableClock]:
    """A cache holding ``tdk_a``, checked by ``check``, once it is due to be checked again."""
    clock = MovableClock()
    cache = CredentialCache(TTL, clock=clock)
    await cache.principal("tdk_a", check)
    clock.advance(TTL * REFRESH_SHARE + 1)
    return cache, clock


def test_requests_that_miss_together_share_one_check():
    async def scenario() -> None:
        cache, check = CredentialCache(5.0), Checks()
        got = await asyncio.gather(*(cache.principal("tdk_a", check) for _ in range(50)))
        assert got == [KEY] * 50 and check.calls == 1
        assert await cache.principal("tdk_a", check) is KEY and check.calls == 1

    asyncio.run(scenario())


def test_a_key_in_use_is_checked_again_in_the_background_before_it_expires():
    async def scenario() -> None:
        check = Checks()
        cache, clock = await due_for_a_check(check)
        # Due: answered at once from the cache, one check started for all of these.
        answers = await asyncio.gather(*(cache.principal("tdk_a", check) for _ in range(20)))
        assert answers == [KEY] * 20 and check.calls == 2
        await until(lambda: check.finished == 2)
        clock.advance(TTL * (1 - REFRESH_SHARE))  # past the old entry's time
        assert cache.get("tdk_a") is KEY  # the new entry lasts past it
        assert await cache.principal("tdk_a", check) is KEY and check.calls == 2

    asyncio.run(scenario())


def test_a_key_revoked_meanwhile_is_dropped_by_its_background_check():
    async def scenario() -> None:
        check = Checks()
        cache, _ = await due_for_a_check(check)
        check.refuse = True
        assert await cache.principal("tdk_a", check) is KEY  # still within its time
        await until(lambda: check.finished == 2)
        assert cache.get("tdk_a") is None
        with pytest.raises(NotAuthenticated):
            await cache.principal("tdk_a", check)

    asyncio.run(scenario())


def test_an_expired_entry_is_never_used_while_its_check_runs():
    async def scenario() -> None:
        clock = MovableClock()
        cache, check = CredentialCache(5.0, clock=clock), Checks()
        await cache.principal("tdk_a", check)
        clock.advance(6)
        check.refuse = True  # revoked in another process
        check.gate = asyncio.Event()
        waiting = [asyncio.ensure_future(cache.principal("tdk_a", check)) for _ in range(10)]
        await yield_to_others(5)
        assert not any(w.done() for w in waiting)  # they wait for the check, not the old entry
        check.gate.set()
        results = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(isinstance(r, NotAuthenticated) for r in results) and check.calls == 2
        check.refuse = False
        assert await cache.principal("tdk_a", check) is KEY and check.calls == 3

    asyncio.run(scenario())


def test_a_caller_that_gives_up_does_not_cancel_the_shared_check():
    async def scenario() -> None:
        cache, check = CredentialCache(5.0), Checks()
        check.gate = asyncio.Event()
        first = asyncio.ensure_future(cache.principal("tdk_a", check))
        second = asyncio.ensure_future(cache.principal("tdk_a", check))
        await yield_to_others(3)
        first.cancel()
        check.gate.set()
        assert await second is KEY and check.calls == 1

    asyncio.run(scenario())


def test_with_no_cache_time_every_request_is_checked():
    async def scenario() -> None:
        cache, check = CredentialCache(0), Checks()
        for _ in range(3):
            assert await cache.principal("tdk_a", check) is KEY
        assert check.calls == 3 and cache.get("tdk_a") is None

    asyncio.run(scenario())


def test_a_check_left_behind_by_a_closed_event_loop_is_not_awaited_by_the_next():
    cache, check = CredentialCache(5.0), Checks()
    left: list[asyncio.Future[Principal]] = []

    async def start_a_check() -> None:
        check.gate = asyncio.Event()  # never opened on this loop
        left.append(asyncio.ensure_future(cache.principal("tdk_a", check)))
        await yield_to_others(3)

    old = asyncio.new_event_loop()
    old.run_until_complete(start_a_check())
    old.close()  # closed with the check still pending, never cancelled
    check.gate = None

    async def next_loop() -> Principal:
        return await cache.principal("tdk_a", check)

    assert asyncio.run(next_loop()) is KEY and check.calls == 2
