"""The upload path over real HTTP: banks filled, uploads scanned, copies found, bad media
refused with a clear error, and the service still serving."""

import pytest

from takedown.bootstrap import default_registry
from takedown.identity import Role, Scope
from takedown.media import hash_image
from takedown.server.container import Container
from tests.conftest import add_key, add_staff, make_settings, start_live_server
from tests.media_support import at_megapixels, encode, photo
from tests.unit.test_media_decoding import BROKEN
from tests.waiting import wait_until


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def people(container):
    lead = bearer(add_staff(container, "lead", Role.child_safety_lead))
    platform = bearer(add_key(container, "upload path", Scope.scan)[1])
    return lead, platform


def scan(client, headers, data, content_id, account_id="acct-1", parent=None, name="a.jpg"):
    form = {"content_id": content_id, "account_id": account_id}
    if parent:
        form["parent_content_id"] = parent
    return client.post(
        "/v1/scan",
        headers=headers,
        data=form,
        files={"media": (name, data, "application/octet-stream")},
    )


def test_a_banked_photo_and_its_altered_copies_are_blocked(live_server, people):
    lead, platform = people
    original = at_megapixels(photo("chelsea.png"), 1)
    known = encode(original, quality=92)
    hashes = hash_image(known)
    with live_server.client() as c:
        r = c.post(
            "/v1/banks",
            headers=lead,
            json={"name": "known-csam-test", "policy": "block_and_report"},
        )
        assert r.status_code == 201, r.text
        r = c.post("/v1/banks", headers=lead, json={"name": "watch", "policy": "review"})
        assert r.status_code == 201
        r = c.post(
            "/v1/banks/known-csam-test/entries",
            headers=lead,
            json={
                "entries": [
                    {"signal_type": "pdq", "value": hashes.pdq.hex, "source": "test"},
                    {"signal_type": "md5", "value": hashes.md5.upper()},
                    {"signal_type": "pdq", "value": "xyz"},
                    {"signal_type": "phash", "value": "00"},
                    {"signal_type": "pdq", "value": hashes.pdq.hex},
                ]
            },
        )
        body = r.json()
        assert (body["added"], body["duplicates"]) == (2, 1)
        assert [i["position"] for i in body["invalid"]] == [2, 3]

        same = scan(c, platform, known, "post-1").json()
        assert same["verdict"] == "block"
        assert {(m["signal_type"], m["distance"]) for m in same["matches"]} == {
            ("md5", 0),
            ("pdq", 0),
        }
        assert same["kind"] == "image"
        assert same["hashes"] == {
            "pdq": hashes.pdq.hex,
            "pdq_quality": hashes.pdq.quality,
            "md5": hashes.md5,
            "sha256": hashes.sha256,
            "frames": None,
            "truncated": False,
        }
        # Cut short, it is still the picture people see: hashed, matched, and said so.
        for keep in (len(known) - 2, len(known) * 9 // 10):
            cut = scan(c, platform, known[:keep], f"cut-{keep}")
            assert cut.status_code == 200, cut.text
            assert cut.json()["verdict"] == "block"
        assert cut.json()["hashes"]["truncated"] is True
        smaller = encode(original.resize((original.width // 2, original.height // 2)), quality=60)
        copy = scan(c, platform, smaller, "post-2", parent="post-1").json()
        assert copy["verdict"] == "block"
        assert [m["signal_type"] for m in copy["matches"]] == ["pdq"]
        assert 0 < copy["matches"][0]["distance"] <= 31
        other = scan(c, platform, encode(at_megapixels(photo("coffee.png"), 1)), "post-3").json()
        assert other == {**other, "verdict": "allow", "matches": []}

        # A disabled entry stops matching at the next scan; enabling brings it back.
        pdq_entry = body["entry_ids"][0]
        c.post(f"/v1/banks/known-csam-test/entries/{pdq_entry}/disable", headers=lead, json={})
        assert scan(c, platform, smaller, "post-4").json()["verdict"] == "allow"
        c.post(f"/v1/banks/known-csam-test/entries/{pdq_entry}/enable", headers=lead)
        assert scan(c, platform, smaller, "post-5").json()["verdict"] == "block"
        # A disabled bank matches nothing.
        c.patch("/v1/banks/known-csam-test", headers=lead, json={"enabled": False})
        assert scan(c, platform, known, "post-6").json()["verdict"] == "allow"
        c.patch(
            "/v1/banks/known-csam-test", headers=lead, json={"enabled": True, "policy": "review"}
        )
        assert scan(c, platform, known, "post-7").json()["verdict"] == "review"

        looked = c.post("/v1/lookup", headers=platform, json={"md5": hashes.md5}).json()
        assert looked["verdict"] == "review" and looked["matches"][0]["bank"] == "known-csam-test"
        entries = c.get("/v1/banks/known-csam-test/entries", headers=lead).json()
        assert [e["signal_type"] for e in entries] == ["pdq", "md5"]
        assert entries[1]["value"] == hashes.md5  # stored lower-case


def test_a_mirrored_rotated_or_cropped_copy_of_a_banked_photo_is_blocked(live_server, people):
    """A new user's attempt: the banked picture mirrored and trimmed, turned a quarter, or
    flipped upside down, each encoded anew, was allowed while only the upload's own PDQ was
    looked up. Its mirrored and rotated variants are looked up too; an unrelated photo,
    mirrored, still matches nothing."""
    from PIL import Image

    lead, platform = people
    original = at_megapixels(photo("chelsea.png"), 1).convert("RGB")
    with live_server.client() as c:
        c.post(
            "/v1/banks", headers=lead, json={"name": "known", "policy": "block_and_report"}
        ).raise_for_status()
        c.post(
            "/v1/banks/known/entries",
            headers=lead,
            json={
                "entries": [{"signal_type": "pdq", "value": hash_image(encode(original)).pdq.hex}]
            },
        ).raise_for_status()
        w, h = original.size
        # A thin border trimmed (1% a side): PDQ itself does not survive much more (2% a
        # side moves the hash about 38 bits, mirrored or not).
        mirrored_cropped = original.transpose(Image.Transpose.FLIP_LEFT_RIGHT).crop(
            (w // 100, h // 100, w - w // 100, h - h // 100)
        )
        for n, copy in enumerate(
            (
                mirrored_cropped,
                original.transpose(Image.Transpose.ROTATE_90),
                original.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
            )
        ):
            answer = scan(c, platform, encode(copy, quality=80), f"turned-{n}").json()
            assert answer["verdict"] == "block", n
            assert [m["signal_type"] for m in answer["matches"]] == ["pdq"]
            assert answer["matches"][0]["distance"] <= 31
        unrelated = at_megapixels(photo("coffee.png"), 1).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        other = scan(c, platform, encode(unrelated), "unrelated").json()
        assert other["verdict"] == "allow" and other["matches"] == []


def test_weak_hashes_never_block_on_their_own(live_server, people):
    lead, platform = people
    from PIL import Image

    flat = encode(Image.new("RGB", (400, 300), (120, 120, 120)), "PNG")
    weak = hash_image(flat)
    assert weak.pdq.quality < 50
    with live_server.client() as c:
        c.post("/v1/banks", headers=lead, json={"name": "b", "policy": "block"})
        c.post(
            "/v1/banks/b/entries",
            headers=lead,
            json={"entries": [{"signal_type": "pdq", "value": weak.pdq.hex}]},
        )
        result = scan(c, platform, flat, "flat-1").json()
        assert result["matches"] and result["verdict"] == "review"


def test_the_registry_records_scans_and_reposts(live_server, people, container):
    _, platform = people
    data = encode(at_megapixels(photo("rocket.jpg"), 0.5))
    with live_server.client() as c:
        assert scan(c, platform, data, "orig", account_id="u1").status_code == 200
        r = c.post(
            "/v1/content",
            headers=platform,
            json={"content_id": "repost", "account_id": "u2", "parent_content_id": "orig"},
        )
        assert r.status_code == 201
        r = c.post(
            "/v1/content",
            headers=platform,
            json={"content_id": "x", "account_id": "u2", "md5": "nothex"},
        )
        assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "md5"
    with container.uow(readonly=True) as uow:
        original = uow.content.get("orig")
        repost = uow.content.get("repost")
    assert original.sha256 == hash_image(data).sha256 and original.last_scanned_at
    assert repost.parent_content_id == "orig" and repost.account_id == "u2"


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_media_gets_a_clear_4xx_and_the_service_keeps_serving(live_server, people, name):
    _, platform = people
    data, error = BROKEN[name]
    with live_server.client() as c:
        r = scan(c, platform, data, f"broken-{name}")
        assert r.status_code in (413, 422), r.text
        assert r.json()["error"]["code"] == error.code
        assert c.get("/healthz").status_code == 200
        good = scan(c, platform, encode(at_megapixels(photo("coffee.png"), 0.2)), "after")
        assert good.status_code == 200


def test_scan_requires_its_fields(live_server, people):
    _, platform = people
    with live_server.client() as c:
        r = c.post(
            "/v1/scan",
            headers=platform,
            data={"content_id": "x"},
            files={"media": ("a", b"123", "image/jpeg")},
        )
        assert r.status_code == 422
        assert "body.account_id" in {d["field"] for d in r.json()["error"]["details"]}


def test_scan_takes_uploads_over_the_ordinary_1_mb_limit(live_server, people):
    _, platform = people
    big = encode(at_megapixels(photo("astronaut.png"), 4), "PNG")
    assert len(big) > 1_048_576
    with live_server.client() as c:
        r = scan(c, platform, big, "big-png", name="big.png")
        assert r.status_code == 200, r.text
        assert r.json()["hashes"]["pdq_quality"] > 50


def test_a_video_whose_frames_are_banked_is_blocked_in_another_encoding(
    live_server, people, container
):
    from takedown.media import hash_video
    from tests.media_support import reencode, video

    lead, platform = people
    clip = video(seconds=5)
    frames = hash_video(clip).frames
    with live_server.client() as c:
        c.post("/v1/banks", headers=lead, json={"name": "known-videos", "policy": "block"})
        r = c.post(
            "/v1/banks/known-videos/entries",
            headers=lead,
            json={
                "entries": [
                    {"signal_type": "pdq", "value": f.pdq.hex, "note": f"frame at {f.timestamp}s"}
                    for f in frames
                ]
            },
        )
        assert r.json()["added"] == len(frames) == 5
        copy = scan(c, platform, reencode(clip), "video-copy", name="copy.avi").json()
        assert copy["kind"] == "video" and copy["verdict"] == "block"
        assert len(copy["hashes"]["frames"]) == 5 and copy["hashes"]["pdq"] is None
        assert {m["bank"] for m in copy["matches"]} == {"known-videos"}
        assert copy["frames_matched"] == {"known-videos": 5}
        other = scan(c, platform, video(seconds=3, name="coffee.png"), "video-other").json()
        assert other["verdict"] == "allow" and other["matches"] == []
    with container.uow(readonly=True) as uow:
        assert uow.content.get("video-copy").media_kind == "video"


def test_the_raw_body_upload_gives_the_same_answer_as_multipart(live_server, people):
    _, platform = people
    data = encode(at_megapixels(photo("coffee.png"), 2), quality=90)
    with live_server.client() as c:
        form = scan(c, platform, data, "via-form")
        raw = c.post(
            "/v1/content/via-raw/scan",
            params={"account_id": "acct-1", "parent_content_id": "via-form"},
            headers={**platform, "Content-Type": "image/jpeg"},
            content=data,
        )
        assert form.status_code == raw.status_code == 200, raw.text
        assert raw.json()["hashes"] == form.json()["hashes"]
        assert raw.json()["content_id"] == "via-raw"
        wrong_type = c.post(
            "/v1/content/x/scan",
            params={"account_id": "a"},
            headers={**platform, "Content-Type": "application/json"},
            content=b"{}",
        )
        assert wrong_type.status_code == 422
        assert wrong_type.json()["error"]["details"][0]["field"] == "media"
        no_account = c.post(
            "/v1/content/x/scan", headers={**platform, "Content-Type": "image/jpeg"}, content=data
        )
        assert no_account.status_code == 422 and "account_id" in no_account.text
        broken = c.post(
            "/v1/content/x/scan",
            params={"account_id": "a"},
            headers={**platform, "Content-Type": "image/jpeg"},
            content=b"\xff\xd8" + bytes(range(256)) * 8,  # a JPEG marker, then junk
        )
        assert broken.status_code == 422
    with live_server.container.uow(readonly=True) as uow:
        item = uow.content.get("via-raw")
    assert item.parent_content_id == "via-form" and item.pdq == form.json()["hashes"]["pdq"]


def test_a_one_core_process_hashes_small_uploads_on_its_event_loop(container, people, monkeypatch):
    """On one core a hashing thread only adds hand-offs: uploads up to the inline size are
    hashed on the loop (no hashing thread is ever made); larger ones still go to a thread."""
    _, platform = people
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0})
    assert container.hash_inline_bytes == container.settings.hash_inline_bytes > 0
    small = encode(at_megapixels(photo("chelsea.png"), 0.3), quality=90)
    large = encode(at_megapixels(photo("chelsea.png"), 2), quality=95)
    container.__dict__["hash_inline_bytes"] = len(small)  # the large one goes to a thread
    live = start_live_server(container)
    try:
        with live.client() as c:
            inline = scan(c, platform, small, "inline-1")
            assert inline.status_code == 200, inline.text
            assert inline.json()["hashes"]["pdq"] == hash_image(small).pdq.hex
            data, error = BROKEN["damaged png data"]
            broken = scan(c, platform, data, "inline-2")
            assert broken.status_code == 422, broken.text
            assert broken.json()["error"]["code"] == error.code
            assert "media_pool" not in container.__dict__  # no hashing thread so far
            threaded = scan(c, platform, large, "thread-1")
            assert threaded.status_code == 200, threaded.text
            assert "media_pool" in container.__dict__
    finally:
        live.server.should_exit = True
        live.thread.join(15)


def test_hashing_inline_needs_one_core_and_no_hashing_threads(
    database_url, db, tmp_path, monkeypatch
):
    def inline_bytes(cores: set[int], **overrides: object) -> int:
        monkeypatch.setattr("os.sched_getaffinity", lambda pid: cores)
        settings = make_settings(database_url, tmp_path, **overrides)
        return Container(settings=settings, db=db, registry=default_registry()).hash_inline_bytes

    assert inline_bytes({0}) == 1_048_576
    assert inline_bytes({0}, hash_inline_bytes=5000) == 5000
    assert inline_bytes({0, 1}) == 0
    assert inline_bytes({0}, hash_threads=1) == 0


def test_images_never_wait_behind_videos_and_a_full_video_queue_says_retry(
    database_url, db, tmp_path
):
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from tests.media_support import video

    settings = make_settings(database_url, tmp_path, video_threads=1, video_queue=2)
    container = Container(settings=settings, db=db, registry=default_registry())
    platform = bearer(add_key(container, "upload path", Scope.scan)[1])
    live = start_live_server(container)
    release = threading.Event()
    clip = video(seconds=2)
    try:
        # Every video thread is busy, as with long 4K clips.
        container.video_pool.submit(release.wait, 60)
        with ThreadPoolExecutor(2) as pool, live.client() as c:
            waiting = pool.submit(scan, c, platform, clip, "video-1", name="v.mp4")
            wait_until(lambda: container._videos >= 1, what="the video queued")
            started = time.monotonic()
            image = scan(c, platform, encode(at_megapixels(photo("coffee.png"), 1)), "img-1")
            assert image.status_code == 200 and time.monotonic() - started < 5
            second = pool.submit(scan, c, platform, clip, "video-2", name="v.mp4")
            wait_until(lambda: container._videos >= 2, what="the second video queued")
            full = scan(c, platform, clip, "video-3", name="v.mp4")
            assert full.status_code == 503, full.text
            assert full.json()["error"]["code"] == "busy" and int(full.headers["retry-after"]) > 0
            assert not waiting.done()
            release.set()
            assert waiting.result(30).json()["kind"] == "video"
            assert second.result(30).status_code == 200
    finally:
        release.set()
        live.server.should_exit = True
        live.thread.join(15)
