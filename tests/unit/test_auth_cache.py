"""The API-key cache: one check at a time for each key, checked again before it expires, and
never used past its time."""

from __future__ import annotations

import asyncio

import pytest

from takedown.identity import NotAuthenticated, Principal, PrincipalKind
from takedown.server.auth_cache import REFRESH_SHARE, CredentialCache

KEY = Principal(kind=PrincipalKind.api_key, subject_id=1, name="platform")


class Checks:
    """A stand-in for the database check, counting its calls; ``refuse`` makes it fail."""

    def __init__(self, delay: float = 0.02) -> None:
        self.calls = 0
        self.delay = delay
        self.refuse = False

    async def __call__(self) -> Principal:
        self.calls += 1
        await asyncio.sleep(self.delay)
        if self.refuse:
            raise NotAuthenticated("unknown or revoked key")
        return KEY


TTL = 0.3


async def due_for_a_check(ttl: float, check: Checks) -> CredentialCache:
    """A cache holding ``tdk_a``, checked by ``check``, once it is due to be checked again."""
    cache = CredentialCache(ttl)
    await cache.principal("tdk_a", check)
    await asyncio.sleep(ttl * REFRESH_SHARE + 0.02)
    return cache


def test_requests_that_miss_together_share_one_check():
    async def scenario() -> None:
        cache, check = CredentialCache(5.0), Checks()
        got = await asyncio.gather(*(cache.principal("tdk_a", check) for _ in range(50)))
        assert got == [KEY] * 50 and check.calls == 1
        assert await cache.principal("tdk_a", check) is KEY and check.calls == 1

    asyncio.run(scenario())


def test_a_key_in_use_is_checked_again_in_the_background_before_it_expires():
    async def scenario() -> None:
        check = Checks(delay=0.05)
        cache = await due_for_a_check(TTL, check)
        # Due: answered at once from the cache, one check started for all of these.
        answers = await asyncio.gather(*(cache.principal("tdk_a", check) for _ in range(20)))
        assert answers == [KEY] * 20 and check.calls == 2
        await asyncio.sleep(0.1)  # the check is done; the entry now lasts past the old time
        await asyncio.sleep(TTL * (1 - REFRESH_SHARE))
        assert cache.get("tdk_a") is KEY
        assert await cache.principal("tdk_a", check) is KEY and check.calls == 2

    asyncio.run(scenario())


def test_a_key_revoked_meanwhile_is_dropped_by_its_background_check():
    async def scenario() -> None:
        check = Checks(delay=0.01)
        cache = await due_for_a_check(TTL, check)
        check.refuse = True
        assert await cache.principal("tdk_a", check) is KEY  # still within its time
        await asyncio.sleep(0.05)
        assert cache.get("tdk_a") is None
        with pytest.raises(NotAuthenticated):
            await cache.principal("tdk_a", check)

    asyncio.run(scenario())


def test_an_expired_entry_is_never_used_while_its_check_runs():
    async def scenario() -> None:
        cache, check = CredentialCache(0.05), Checks(delay=0.1)
        await cache.principal("tdk_a", check)
        await asyncio.sleep(0.06)
        check.refuse = True  # revoked in another process
        waiting = [asyncio.ensure_future(cache.principal("tdk_a", check)) for _ in range(10)]
        await asyncio.sleep(0.02)
        assert not any(w.done() for w in waiting)  # they wait for the check, not the old entry
        results = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(isinstance(r, NotAuthenticated) for r in results) and check.calls == 2
        check.refuse = False
        assert await cache.principal("tdk_a", check) is KEY and check.calls == 3

    asyncio.run(scenario())


def test_a_caller_that_gives_up_does_not_cancel_the_shared_check():
    async def scenario() -> None:
        cache, check = CredentialCache(5.0), Checks(delay=0.05)
        first = asyncio.ensure_future(cache.principal("tdk_a", check))
        second = asyncio.ensure_future(cache.principal("tdk_a", check))
        await asyncio.sleep(0.01)
        first.cancel()
        assert await second is KEY and check.calls == 1

    asyncio.run(scenario())


def test_with_no_cache_time_every_request_is_checked():
    async def scenario() -> None:
        cache, check = CredentialCache(0), Checks(delay=0)
        for _ in range(3):
            assert await cache.principal("tdk_a", check) is KEY
        assert check.calls == 3 and cache.get("tdk_a") is None

    asyncio.run(scenario())


def test_a_check_left_behind_by_a_closed_event_loop_is_not_awaited_by_the_next():
    cache, check = CredentialCache(5.0), Checks(delay=10)

    left: list[asyncio.Future[Principal]] = []

    async def start_a_check() -> None:
        left.append(asyncio.ensure_future(cache.principal("tdk_a", check)))
        await asyncio.sleep(0.01)

    old = asyncio.new_event_loop()
    old.run_until_complete(start_a_check())
    old.close()  # closed with the check still pending, never cancelled
    check.delay = 0

    async def next_loop() -> Principal:
        return await cache.principal("tdk_a", check)

    assert asyncio.run(next_loop()) is KEY and check.calls == 2
