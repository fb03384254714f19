"""Video hashing in the form of Meta's vPDQ: the PDQ of about one frame a second, with its
timestamp, plus MD5 and SHA-256 of the file.

Decoded with PyAV, whose wheels carry FFmpeg, so installing needs nothing from the system.
Limits: bytes, duration, frames sampled, pixels per frame, and a decoding deadline; a file
over any of them is refused with a ``MediaError`` naming the limit, never hashed in part.
Frames are taken as full-range luma (FFmpeg's ``gray``), which is PDQ's input.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable
from dataclasses import dataclass

import av
import numpy as np
from av.error import FFmpegError
from PIL import Image

from takedown.media.errors import (
    Corrupt,
    DecodeTimeout,
    NotMedia,
    TooLarge,
    TooSmall,
    UnsupportedFormat,
)
from takedown.media.hashing import file_digests
from takedown.media.pdq import MIN_HASHABLE_DIM, PdqHash, hash_luma


@dataclass(frozen=True)
class VideoLimits:
    max_bytes: int = 512 * 1024 * 1024
    max_duration_seconds: float = 3 * 3600
    max_frames: int = 3 * 3600
    max_frame_pixels: int = 8192 * 4320
    max_seconds: float = 300.0
    seconds_per_frame: float = 1.0


@dataclass(frozen=True)
class FrameHash:
    timestamp: float  # seconds from the start
    pdq: PdqHash
    frame: int = 0  # its number in decoding order, from 0 (vPDQ's frame number)


@dataclass(frozen=True)
class VideoHashes:
    format: str
    width: int
    height: int
    duration: float
    frames: list[FrameHash]
    md5: str
    sha256: str


def _open(data: bytes) -> av.container.InputContainer:
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (FFmpegError, ValueError) as exc:
        raise NotMedia("the file is not a video of a known format", detail=str(exc)) from exc
    if not container.streams.video:
        container.close()
        raise UnsupportedFormat("the file has no video stream")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        # FFmpeg found a stream it cannot decode (an SVG read as an image sequence, a
        # damaged MP4's unknown codec).
        name = getattr(stream, "name", None) or "unknown"
        container.close()
        raise UnsupportedFormat(f"the file's video stream ({name}) cannot be decoded")
    return container


def hash_video(data: bytes, limits: VideoLimits | None = None) -> VideoHashes:
    """Hash a video file. Raises a ``MediaError`` subclass for bad or oversized input.

    Example::

        hashes = hash_video(Path("clip.mp4").read_bytes())
        [(f.timestamp, f.pdq.hex) for f in hashes.frames]
    """
    limits = limits or VideoLimits()
    if not data:
        raise NotMedia("the file is empty")
    if len(data) > limits.max_bytes:
        raise TooLarge(f"the file is {len(data)} bytes; the limit is {limits.max_bytes}")
    deadline = time.monotonic() + limits.max_seconds
    with _open(data) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > limits.max_frame_pixels:
            raise TooLarge(f"frames of {width}×{height} are over the pixel limit")
        if width < MIN_HASHABLE_DIM or height < MIN_HASHABLE_DIM:
            raise TooSmall(f"frames of {width}×{height} are too small to hash")
        declared = (
            float(stream.duration * stream.time_base)
            if stream.duration and stream.time_base
            else (container.duration or 0) / 1_000_000
        )
        if declared > limits.max_duration_seconds:
            raise TooLarge(
                f"the video lasts {declared:.0f} s; the limit is {limits.max_duration_seconds:.0f}"
            )
        frames: list[FrameHash] = []
        next_sample = 0.0
        last_time = 0.0
        try:
            for number, frame in enumerate(container.decode(stream)):
                if time.monotonic() > deadline:
                    raise DecodeTimeout("decoding took longer than the time limit")
                when = float(frame.time) if frame.time is not None else last_time
                last_time = max(last_time, when)
                if when > limits.max_duration_seconds:
                    raise TooLarge("the video runs past the duration limit")
                if when + 1e-6 < next_sample:
                    continue
                if len(frames) >= limits.max_frames:
                    raise TooLarge(f"the video has more than {limits.max_frames} sampled frames")
                luma = frame.to_ndarray(format="gray").astype(np.float32)
                frames.append(
                    FrameHash(timestamp=round(when, 3), pdq=hash_luma(luma), frame=number)
                )
                next_sample = when + limits.seconds_per_frame
        except (FFmpegError, ValueError, TypeError, MemoryError) as exc:
            if not frames:
                raise Corrupt("the video data is damaged", detail=str(exc)) from exc
            # A damaged tail after good frames: keep what was decoded, as players do.
        if not frames:
            raise Corrupt("no frame of the video could be decoded")
        fmt = container.format.name.split(",")[0]
    md5, sha256 = file_digests(data)
    return VideoHashes(
        format=fmt,
        width=width,
        height=height,
        duration=max(declared, last_time),
        frames=frames,
        md5=md5,
        sha256=sha256,
    )


def key_frames(
    data: bytes, *, count: int = 4, limits: VideoLimits | None = None
) -> list[Image.Image]:
    """Up to ``count`` key frames of a video, spread over it, as images (no sound is ever
    decoded). Raises a ``MediaError`` subclass for bad or oversized input."""
    limits = limits or VideoLimits()
    if not data:
        raise NotMedia("the file is empty")
    if len(data) > limits.max_bytes:
        raise TooLarge(f"the file is {len(data)} bytes; the limit is {limits.max_bytes}")
    deadline = time.monotonic() + limits.max_seconds
    frames: list[Image.Image] = []
    with _open(data) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > limits.max_frame_pixels:
            raise TooLarge(f"frames of {width}×{height} are over the pixel limit")
        stream.codec_context.skip_frame = "NONKEY"
        try:
            for frame in container.decode(stream):
                frames.append(frame.to_image())  # type: ignore[no-untyped-call]
                if time.monotonic() > deadline or len(frames) >= count * 8:
                    break
        except FFmpegError as exc:
            if not frames:
                raise Corrupt("the video data is damaged", detail=str(exc)) from exc
    if not frames:
        raise Corrupt("the video has no frame that decodes")
    step = max(1, len(frames) // count)
    return frames[::step][:count]


def format_vpdq(frames: Iterable[tuple[int, int, str, float]]) -> str:
    """A video's frames, ``(frame number, quality, PDQ hex, seconds)``, in Meta's vPDQ file
    format: one line each, the time to the millisecond."""
    return "".join(f"{n},{q},{h},{t:.3f}\n" for n, q, h, t in frames)
