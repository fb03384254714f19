"""Renditions for review without a server: an image gives one blurred grayscale JPEG, a
video a few blurred key frames; reveal tokens open one item for one session until they
expire."""

import io

import pytest
from PIL import Image

from takedown.identity import Principal, PrincipalKind, Role
from takedown.services import review_media
from takedown.services.errors import NotFound
from tests.media_support import encode, photo, video

KEY = b"k" * 32
ANA = Principal(PrincipalKind.staff_session, 1, "ana", Role.reviewer, credential_id=10)
ANA_ELSEWHERE = Principal(PrincipalKind.staff_session, 1, "ana", Role.reviewer, credential_id=11)


def test_an_image_gives_one_blurred_grayscale_rendition():
    data = encode(photo("astronaut.png"), "PNG")
    (shown,) = review_media.renditions(data, media_kind="image", blur_radius=24, grayscale=True)
    image = Image.open(io.BytesIO(shown))
    assert (image.format, image.mode, max(image.size)) == ("JPEG", "L", 512)


def test_a_video_gives_blurred_key_frames_and_no_sound():
    data = video(seconds=4, fps=10)
    frames = review_media.renditions(data, media_kind="video", blur_radius=24, grayscale=True)
    assert 1 <= len(frames) <= 4
    for frame in frames:
        assert Image.open(io.BytesIO(frame)).mode == "L"


def test_a_reveal_token_opens_one_item_for_its_session_until_it_expires():
    token = review_media.reveal_token(KEY, ANA, 7, "post/1 é", expires=1_000)
    assert review_media.open_token(KEY, ANA, token, now=999) == (7, "post/1 é")
    for actor, now, key in ((ANA_ELSEWHERE, 999, KEY), (ANA, 1_001, KEY), (ANA, 999, b"x" * 32)):
        with pytest.raises(NotFound):
            review_media.open_token(key, actor, token, now=now)
    for bad in ("", "1.2.3", "x.y.z.w", token.replace("7.", "8.", 1)):
        with pytest.raises(NotFound):
            review_media.open_token(KEY, ANA, bad, now=999)


def test_the_original_is_sent_as_the_type_its_bytes_are():
    assert review_media.original_type(encode(photo("coffee.png"), "PNG"), None) == "image/png"
    assert review_media.original_type(b"<html>", "image") == "application/octet-stream"
    assert review_media.original_type(video(seconds=1), "video") == "video/mp4"
