"""Video hashes: about one PDQ a second with timestamps, close across re-encodes, and a clear
error for anything that is not a video within the limits."""

import pytest

from takedown.media import (
    Corrupt,
    MediaError,
    NotMedia,
    TooLarge,
    TooSmall,
    VideoLimits,
    distance,
    file_digests,
    hash_video,
)
from tests.media_support import reencode, video


@pytest.fixture(scope="module")
def clip():
    return video(seconds=6, fps=10)


def test_one_frame_a_second_with_timestamps_and_file_digests(clip):
    result = hash_video(clip)
    assert [f.timestamp for f in result.frames] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert (result.width, result.height) == (640, 360)
    assert 5.9 <= result.duration <= 6.1
    assert all(f.pdq.quality >= 50 for f in result.frames)
    assert (result.md5, result.sha256) == file_digests(clip)


def test_a_reencoded_smaller_copy_has_close_frame_hashes(clip):
    original = hash_video(clip)
    copy = hash_video(reencode(clip))
    assert copy.format == "avi" and (copy.width, copy.height) == (426, 240)
    # Same video, other codec, container and size: frame by frame within PDQ's match distance.
    assert len(copy.frames) == len(original.frames)
    for a, b in zip(original.frames, copy.frames, strict=True):
        assert abs(a.timestamp - b.timestamp) < 0.2
        assert distance(a.pdq.hex, b.pdq.hex) <= 31


def test_different_videos_do_not_match():
    a = hash_video(video(seconds=3, name="astronaut.png"))
    b = hash_video(video(seconds=3, name="coffee.png"))
    assert all(distance(x.pdq.hex, y.pdq.hex) > 31 for x in a.frames for y in b.frames)


@pytest.mark.parametrize(
    "data,error",
    [
        (b"", NotMedia),
        (b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 4, NotMedia),
        (bytes(5000), NotMedia),
    ],
)
def test_not_a_video(data, error):
    with pytest.raises(error):
        hash_video(data)


def test_truncated_video_is_refused_or_keeps_only_whole_frames(clip):
    for cut in (len(clip) // 10, len(clip) // 2):
        try:
            result = hash_video(clip[:cut])
        except MediaError as exc:
            assert isinstance(exc, NotMedia | Corrupt)
        else:
            assert result.frames and result.frames[0].timestamp == 0.0


def test_limits_are_enforced(clip):
    with pytest.raises(TooLarge, match="bytes"):
        hash_video(clip, VideoLimits(max_bytes=1000))
    with pytest.raises(TooLarge, match="lasts"):
        hash_video(clip, VideoLimits(max_duration_seconds=2))
    with pytest.raises(TooLarge, match="sampled frames"):
        hash_video(clip, VideoLimits(max_frames=3))
    with pytest.raises(TooLarge, match="pixel"):
        hash_video(clip, VideoLimits(max_frame_pixels=1000))
    with pytest.raises(TooSmall):
        hash_video(video(seconds=1, size=(4, 4), codec="mpeg4"))


@pytest.mark.parametrize(
    "clip_of",
    [
        pytest.param(lambda: video(seconds=6, fps=10), id="h264-640x360-10fps"),
        pytest.param(lambda: reencode(video(seconds=6, fps=10)), id="mpeg4-426x240"),
        pytest.param(
            lambda: reencode(
                video(seconds=6, fps=10), size=(1280, 720), codec="libx264", fmt="mp4"
            ),
            id="h264-1280x720",
        ),
        pytest.param(lambda: video(seconds=5, fps=24, name="coffee.png"), id="h264-24fps"),
        pytest.param(lambda: video(seconds=4, fps=15, codec="libvpx-vp9", fmt="webm"), id="vp9"),
    ],
)
def test_frame_hashes_agree_with_meta_vpdq(clip_of, tmp_path):
    """Meta's vpdq, on the same file, takes the same frames (one a second, by time) and hashes
    each within Meta's cross-implementation tolerance of ours, at the same quality."""
    vpdq = pytest.importorskip(
        "vpdq", reason="Meta's vpdq is not installed here (make video-reference installs it)"
    )
    data = clip_of()
    path = tmp_path / "clip"
    path.write_bytes(data)
    theirs = vpdq.computeHash(path, seconds_per_hash=1)
    ours = hash_video(data).frames
    assert [round(f.timestamp, 2) for f in theirs] == [round(f.timestamp, 2) for f in ours]
    for a, b in zip(theirs, ours, strict=True):
        assert distance(vpdq.hash_to_hex(a.hash), b.pdq.hex) <= 16, a.timestamp
        assert abs(a.quality - b.pdq.quality) <= 2
