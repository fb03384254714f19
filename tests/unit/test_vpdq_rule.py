"""vPDQ's rule for whether two videos match (``matching.vpdq``): its parts on hand-made
hashes, then the same decisions as on Meta's ``vpdq`` hashes of the same files, for clips and
their re-encodings (bitrate, resolution, trim, frame rate) and an unrelated clip."""

from __future__ import annotations

import pytest

from takedown.matching.vpdq import VpdqFrame, VpdqResult, compare, usable
from takedown.media import hash_video
from tests.media_support import reencode, video

A = "0" * 64


def flipped(n: int) -> str:
    """A hash ``n`` bits from ``A``."""
    return f"{(1 << n) - 1:064x}"


def test_frames_under_quality_50_and_repeats_are_left_out():
    frames = [VpdqFrame(A, 100), VpdqFrame(A, 90), VpdqFrame(flipped(40), 49)]
    assert usable(frames) == [A]


def test_shares_are_counted_each_way_within_31_bits():
    query = [VpdqFrame(A, 100), VpdqFrame(flipped(64), 100)]
    other = [VpdqFrame(flipped(31), 100), VpdqFrame(flipped(200), 100), VpdqFrame("f" * 64, 90)]
    result = compare(query, other)
    assert result == VpdqResult(50.0, 100.0 / 3)
    assert not result.matches()
    assert compare([VpdqFrame(A, 100)], [VpdqFrame(flipped(32), 100)]).query_percent == 0
    assert compare([VpdqFrame(A, 100)], other).matches()  # every query frame: 100% ≥ 80%


def test_a_video_with_no_usable_frame_matches_nothing():
    assert compare([VpdqFrame(A, 10)], [VpdqFrame(A, 100)]) == VpdqResult(0.0, 0.0)
    assert not VpdqResult(0.0, 0.0).matches(query_percent=0)


def ours(data: bytes) -> list[VpdqFrame]:
    return [VpdqFrame(f.pdq.hex, f.pdq.quality) for f in hash_video(data).frames]


def theirs(vpdq, data: bytes, tmp_path, name: str) -> list[VpdqFrame]:
    path = tmp_path / name
    path.write_bytes(data)
    return [
        VpdqFrame(vpdq.hash_to_hex(f.hash), f.quality)
        for f in vpdq.computeHash(str(path), seconds_per_hash=1)
    ]


def test_the_same_decisions_as_on_meta_vpdq_hashes(tmp_path):
    vpdq = pytest.importorskip(
        "vpdq", reason="Meta's vpdq is not installed here (make video-reference installs it)"
    )
    original = video(seconds=8, fps=10, size=(640, 360), name="astronaut.png")
    copies = {
        "bitrate": reencode(original, (640, 360), "libx264", "mp4", bitrate=150_000),
        "resolution": reencode(original, (320, 180), "mpeg4", "avi"),
        "trim": reencode(original, (640, 360), "libx264", "mp4", skip_seconds=2),
        "frame rate": reencode(original, (640, 360), "libx264", "mp4", every=2),
        "unrelated": video(seconds=8, fps=10, size=(640, 360), name="coffee.png"),
    }
    banked_ours, banked_theirs = ours(original), theirs(vpdq, original, tmp_path, "o.mp4")
    decisions = {}
    for name, data in copies.items():
        mine = compare(ours(data), banked_ours).matches()
        meta = compare(theirs(vpdq, data, tmp_path, f"{len(decisions)}.bin"), banked_theirs)
        assert mine == meta.matches(), name
        decisions[name] = mine
    assert decisions == {
        "bitrate": True,
        "resolution": True,
        "trim": True,
        "frame rate": True,
        "unrelated": False,
    }
