"""The rendition cache: one fetch per item and view while it lasts, bounded memory, no
original kept, and a burst of requests for one item fetching it once."""

import threading
import time

import pytest

from takedown.cases import Reviewer
from takedown.services.errors import Busy
from takedown.services.review_media import ItemAccess, MediaGone, MediaSettings, Renditions, View
from tests.review_support import SECRET, platform_media

ANA = Reviewer(user_id=1, name="ana")


def access(blur: int = 24, kind: str | None = "image") -> ItemAccess:
    return ItemAccess(
        reviewer=ANA, media_kind=kind, view=View(blur_radius=blur, grayscale=True, warning=True)
    )


@pytest.fixture
def T() -> float:
    """Now: the platform checks signatures against its own clock."""
    return time.time()


@pytest.fixture
def served():
    with platform_media() as media:
        yield media, MediaSettings(url_template=media.template, secret=SECRET)


def test_an_item_is_fetched_once_per_view_while_its_renditions_last(served, T):
    media, settings = served
    original = media.add("post-1")
    cache = Renditions(ttl=60)
    first = cache.get(settings, "post-1", access(), now=T)
    assert cache.get(settings, "post-1", access(), now=T + 10) is first
    assert all(original not in shown for shown in first)
    assert len(media.requests) == 1
    cache.get(settings, "post-1", access(blur=40), now=T + 10)  # another view: made anew
    assert len(media.requests) == 2
    cache.get(settings, "post-1", access(), now=T + 61)  # past its time: fetched again
    assert len(media.requests) == 3
    assert cache.held_bytes == sum(len(b) for b in first) + sum(
        len(b) for b in cache.get(settings, "post-1", access(blur=40), now=T + 61)
    )


def test_the_cache_holds_no_more_than_its_bound(served, T):
    media, settings = served
    for n in range(6):
        media.add(f"post-{n}", n=n)
    one = sum(len(b) for b in Renditions().get(settings, "post-0", access(), now=T))
    cache = Renditions(max_bytes=int(one * 2.5))
    for n in range(6):
        cache.get(settings, f"post-{n}", access(), now=T)
        assert cache.held_bytes <= cache.max_bytes
    before = len(media.requests)
    cache.get(settings, "post-5", access(), now=T)  # the latest is still there
    assert len(media.requests) == before
    cache.get(settings, "post-0", access(), now=T)  # the oldest went first
    assert len(media.requests) == before + 1


def test_failures_are_not_kept_and_a_burst_for_one_item_fetches_it_once(served, T):
    media, settings = served
    cache = Renditions()
    with pytest.raises(MediaGone):
        cache.get(settings, "post-late", access(), now=T)
    media.add("post-late")
    assert cache.get(settings, "post-late", access(), now=T)  # the 404 was not kept

    media.add("post-hot", n=2)
    answers: list[object] = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(cache.get(settings, "post-hot", access(), now=T))
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(answers) == 8 and all(a is answers[0] for a in answers)
    assert [c for c, _ in media.requests].count("post-hot") == 1


def test_past_its_fetches_a_cache_answers_busy(T):
    settings = MediaSettings(url_template="http://127.0.0.1:9/{content_id}", secret=SECRET)
    cache = Renditions(fetches=1)
    cache._fetches.acquire()  # one original is being fetched
    started = time.monotonic()
    with pytest.raises(Busy):
        cache.get(settings, "post-1", access(), now=T)
    assert time.monotonic() - started < 30
