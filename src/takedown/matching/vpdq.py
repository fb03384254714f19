"""vPDQ's rule for whether two videos match, as Meta's ``vpdq`` states it. Pure.

A video's vPDQ hash is its frames' PDQ hashes (about one a second), each with its quality.
Two videos are compared on their frames of quality 50 or more, each distinct hash once: the
*query share* is the share of the query's frames that are within 31 bits of some frame of the
other video, the *compared share* the share of the other's frames within 31 bits of some frame
of the query. The videos match when the query share is at least 80% and the compared share at
least 0% (python-threatexchange's defaults for its vPDQ signal: a short clip cut from a long
banked video matches it). A video with no frame left after the quality filter matches nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from takedown.matching.pdq_index import hashes_to_words

QUALITY = 50  # frames under this quality are left out of the comparison
DISTANCE = 31  # two frames match within this many bits
QUERY_PERCENT = 80.0  # of the query's frames that must match the other video's
COMPARED_PERCENT = 0.0  # of the other video's frames that must match the query's


@dataclass(frozen=True)
class VpdqFrame:
    pdq: str  # 64 hex digits
    quality: int


@dataclass(frozen=True)
class VpdqResult:
    query_percent: float
    compared_percent: float

    def matches(
        self, *, query_percent: float = QUERY_PERCENT, compared_percent: float = COMPARED_PERCENT
    ) -> bool:
        return (
            self.query_percent > 0
            and self.query_percent >= query_percent
            and self.compared_percent >= compared_percent
        )


FRAME_LINE = re.compile(r"^\s*(\d+),(\d{1,3}),([0-9a-fA-F]{64}),(\d+(?:\.\d+)?)\s*$")
MAX_FRAMES = 100_000  # about 28 hours at one frame a second


def parse(text: str) -> list[VpdqFrame]:
    """A video's frames from Meta's vPDQ file format (``frame,quality,pdq_hex,seconds`` a
    line). Raises ``ValueError`` naming the first line that is not a frame."""
    frames = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        found = FRAME_LINE.match(line)
        if found is None or int(found.group(2)) > 100:
            raise ValueError(f"line {number} is not a vPDQ frame (frame,quality,pdq_hex,seconds)")
        frames.append(VpdqFrame(found.group(3).lower(), int(found.group(2))))
        if len(frames) > MAX_FRAMES:
            raise ValueError(f"a vPDQ hash has at most {MAX_FRAMES} frames")
    if not frames:
        raise ValueError("a vPDQ hash has at least one frame")
    return frames


def digest(frames: Sequence[VpdqFrame]) -> str:
    """The video's identity in a bank (its entry's value): SHA-256 of its frames in order."""
    text = "\n".join(f"{f.pdq.lower()},{f.quality}" for f in frames)
    return hashlib.sha256(text.encode()).hexdigest()


def usable(frames: Sequence[VpdqFrame], *, quality: int = QUALITY) -> list[str]:
    """The distinct hashes of the frames of at least ``quality``, in order of first showing."""
    return list(dict.fromkeys(f.pdq.lower() for f in frames if f.quality >= quality))


def compare(
    query: Sequence[VpdqFrame],
    compared: Sequence[VpdqFrame],
    *,
    quality: int = QUALITY,
    distance: int = DISTANCE,
) -> VpdqResult:
    """The query share and the compared share, in percent (``VpdqResult.matches`` decides)."""
    mine, theirs = usable(query, quality=quality), usable(compared, quality=quality)
    if not mine or not theirs:
        return VpdqResult(0.0, 0.0)
    close = within(hashes_to_words(mine), hashes_to_words(theirs), distance)
    return VpdqResult(
        100.0 * int(close.any(axis=1).sum()) / len(mine),
        100.0 * int(close.any(axis=0).sum()) / len(theirs),
    )


def within(a: np.ndarray, b: np.ndarray, distance: int) -> np.ndarray:
    """(len(a), len(b)) booleans: which pairs of hashes ((n, 4) uint64 words) are within
    ``distance`` bits."""
    xor = a[:, None, :] ^ b[None, :, :]
    bits = np.bitwise_count(xor).sum(axis=2)
    return np.asarray(bits <= distance)
