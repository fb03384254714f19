"""Safe image decoding, shaped for hashing.

Limits come first: the byte limit before anything is parsed, the pixel limit from the header
before any pixel is decoded (a decompression bomb is refused without inflating it), and a time
limit checked each time the decoder asks for more data. EXIF orientation is applied, so a
photo hashes as it is shown.

For speed, nothing is decoded at full size when it need not be: a JPEG is decoded by libjpeg at
1/2, 1/4 or 1/8 scale, luma only (its own Y channel, which uses PDQ's coefficients), keeping the
short side at least ``MIN_SHORT_SIDE``; other formats are decoded and box-reduced by an integer
factor. ``takedown.media.pdq`` then folds PDQ's full-size weights over the blocks, so samples
stay where the full-size algorithm puts them.
"""

from __future__ import annotations

import io
import struct
import threading
import time
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFile, ImageFilter, ImageOps, UnidentifiedImageError

from takedown.media.errors import (
    Corrupt,
    DecodeTimeout,
    NotMedia,
    TooLarge,
    TooSmall,
    Truncated,
    UnsupportedFormat,
)

IMAGE_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF")
try:  # HEIC/HEIF (phone photos), where pillow-heif's wheel installs cleanly
    import pillow_heif

    pillow_heif.register_heif_opener()
    IMAGE_FORMATS += ("HEIF",)
except ImportError:  # pragma: no cover - depends on the platform's wheels
    pass
MIN_SHORT_SIDE = 256
ORIENTATION_TAG = 0x0112
# EXIF orientation → (transpose, flip rows, flip columns), applied in that order.
_ORIENTATIONS = {
    1: (False, False, False),
    2: (False, False, True),
    3: (False, True, True),
    4: (False, True, False),
    5: (True, False, False),
    6: (True, False, True),
    7: (True, True, True),
    8: (True, True, False),
}
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class _ThreadFlag(threading.local):
    """Pillow's ``ImageFile.LOAD_TRUNCATED_IMAGES``, per thread: Pillow reads the module
    global at each truncation it meets, so this object stands in for it and answers for the
    calling thread only. A lenient decode (``_load(lenient=True)``) turns it on for itself
    while other threads keep refusing truncated data."""

    on = False

    def __bool__(self) -> bool:
        return self.on


_LENIENT = _ThreadFlag()
ImageFile.LOAD_TRUNCATED_IMAGES = _LENIENT  # type: ignore[assignment]


@dataclass(frozen=True)
class ImageLimits:
    max_bytes: int = 64 * 1024 * 1024
    max_pixels: int = 80_000_000
    max_seconds: float = 10.0
    # A 5 × 15,999,999 strip is under the pixel limit and a few kilobytes on the wire, yet
    # meaningless to a perceptual hash (64 samples along 5 pixels) and costly to weigh. Long
    # screenshots and comic strips stay well inside both.
    max_side: int = 65_535
    max_aspect: int = 100


class MemoryBudget:
    """Bytes that decodes in flight may hold together: a decode waits until its estimate
    fits (one that alone exceeds the budget runs when nothing else holds any), so a burst of
    decompression bombs, each under the limits and a few kilobytes on the wire, cannot add up
    past it."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0
        self.peak = 0
        self._cond = threading.Condition()

    def acquire(self, amount: int) -> None:
        with self._cond:
            while self.used and self.used + amount > self.total:
                self._cond.wait()
            self.used += amount
            self.peak = max(self.peak, self.used)

    def release(self, amount: int) -> None:
        with self._cond:
            self.used -= amount
            self._cond.notify_all()


DECODE_MEMORY = MemoryBudget(1 << 30)
"""What all image decodes in this process hold at once, at most (estimated from the header)."""


def _decode_estimate(width: int, height: int, fmt: str, scale: int) -> int:
    """Bytes a decode of ``width`` × ``height`` holds at its peak: Pillow's pixels (four
    bytes each, as Pillow keeps RGB; at the scale the decoder reduces to for JPEG, at full
    size for the others, which reduce after decoding), the float32 luma, and the strips the
    luma is computed in."""
    pixels = width * height
    decoded = pixels // (scale * scale) if fmt == "JPEG" else pixels
    return decoded * 4 + (pixels // (scale * scale)) * 4 + 2 * _STRIP_BYTES


@dataclass(frozen=True)
class DecodedLuma:
    """Luma (float32, 0–255) of an image decoded at 1/``scale``, already oriented.

    ``width`` × ``height`` is the full-size image as shown (after orientation); ``reverse``
    says per axis (rows, cols) whether it was mirrored after decoding. ``truncated``: the
    data ended early and what was there was decoded, the rest filled as a browser shows it.
    """

    luma: NDArray[np.float32]
    width: int
    height: int
    scale: int
    reverse: tuple[bool, bool]
    format: str
    truncated: bool = False


class _DeadlineReader(io.BytesIO):
    """Raises ``DecodeTimeout`` when a decoder asks for more data after the deadline."""

    def __init__(self, data: bytes, deadline: float) -> None:
        super().__init__(data)
        self.deadline = deadline

    def read(self, size: int | None = -1) -> bytes:
        if time.monotonic() > self.deadline:
            raise DecodeTimeout("decoding took longer than the time limit")
        return super().read(size)


def _open(data: bytes, limits: ImageLimits) -> Image.Image:
    if not data:
        raise NotMedia("the file is empty")
    if len(data) > limits.max_bytes:
        raise TooLarge(f"the file is {len(data)} bytes; the limit is {limits.max_bytes}")
    reader = _DeadlineReader(data, time.monotonic() + limits.max_seconds)
    try:
        with warnings.catch_warnings():
            # Our pixel limit is checked below, with a clear error; Pillow's warning would
            # only repeat it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(reader, formats=None)
    except Image.DecompressionBombError as exc:
        raise TooLarge("the image declares more pixels than the limit") from exc
    except UnidentifiedImageError as exc:
        raise NotMedia("the file is not an image of a known format") from exc
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        raise Corrupt("the image header is damaged", detail=str(exc)) from exc
    if image.format not in IMAGE_FORMATS:
        raise UnsupportedFormat(
            f"{image.format} images are not accepted; send one of {', '.join(IMAGE_FORMATS)}"
        )
    width, height = image.size
    if width * height > limits.max_pixels:
        raise TooLarge(
            f"the image is {width}×{height} = {width * height} pixels; "
            f"the limit is {limits.max_pixels}"
        )
    if max(width, height) > limits.max_side:
        raise TooLarge(
            f"the image is {width}×{height} pixels; no side may be longer than {limits.max_side}"
        )
    if max(width, height) > limits.max_aspect * max(1, min(width, height)):
        raise TooLarge(
            f"the image is {width}×{height} pixels: more than {limits.max_aspect} times as "
            "long as it is wide, which no perceptual hash can describe"
        )
    return image


def _load(image: Image.Image, *, lenient: bool = False) -> None:
    """Decode the pixels. ``lenient``: data that ends early decodes what is there."""
    try:
        _LENIENT.on = lenient
        image.load()
    except DecodeTimeout:
        raise
    except OSError as exc:
        text = str(exc)
        if "truncated" in text or "premature end" in text:
            raise Truncated("the image data ends early", detail=text) from exc
        raise Corrupt("the image data is damaged", detail=text) from exc
    except (SyntaxError, ValueError, struct.error, zlib.error, IndexError) as exc:
        raise Corrupt("the image data is damaged", detail=str(exc)) from exc
    finally:
        _LENIENT.on = False


def _luma_of(image: Image.Image) -> NDArray[np.float32]:
    """Luma as PDQ computes it (0.299 R + 0.587 G + 0.114 B), float32."""
    mode = image.mode
    if mode == "L":
        return np.asarray(image, dtype=np.float32)
    if mode.startswith("I;16"):
        return np.asarray(image, dtype=np.float32) / np.float32(257.0)
    if mode in ("I", "F"):
        return np.clip(np.asarray(image, dtype=np.float32), 0, 255)
    if mode != "RGB":
        image = image.convert("RGB")
    # A strip of rows at a time: the float32 copy of a whole 80-megapixel RGB image would be
    # 960 MB; strips keep the working memory to a few megabytes beyond the luma itself.
    width, height = image.size
    rows = max(1, _STRIP_BYTES // (width * 12))
    luma: NDArray[np.float32] = np.empty((height, width), dtype=np.float32)
    for top in range(0, height, rows):
        strip = np.asarray(image.crop((0, top, width, min(height, top + rows))))
        luma[top : top + rows] = strip.astype(np.float32) @ LUMA
    return luma


_STRIP_BYTES = 8 << 20


def _scale_for(short_side: int, *, powers_of_two: bool) -> int:
    if short_side < 2 * MIN_SHORT_SIDE:
        return 1
    if powers_of_two:
        scale = 1
        while scale < 8 and short_side // (scale * 2) >= MIN_SHORT_SIDE:
            scale *= 2
        return scale
    return short_side // MIN_SHORT_SIDE


def decode_luma(
    data: bytes, limits: ImageLimits | None = None, *, full_decode: bool = False
) -> DecodedLuma:
    """Decode ``data`` to oriented luma for hashing, under ``limits``; ``full_decode``: at full
    scale, with luma taken from the colours (as the reference, ``pdqhash``, takes it), never
    libjpeg's reduced or luma-only decode.

    Data that ends early is decoded as far as it goes, as a browser shows it (the rest is
    filled in), and marked ``truncated``: an upload cut short is still the image people
    see, and must still meet the banks. Raises a ``MediaError`` subclass naming the
    problem; never anything else for bad input. Animated formats give their first frame.
    """
    limits = limits or ImageLimits()
    try:
        return _decode(data, limits, full_decode=full_decode, lenient=False)
    except Truncated:
        return _decode(data, limits, full_decode=full_decode, lenient=True)


def _decode(data: bytes, limits: ImageLimits, *, full_decode: bool, lenient: bool) -> DecodedLuma:
    image = _open(data, limits)
    fmt = str(image.format)
    width, height = image.size
    if width < 5 or height < 5:
        raise TooSmall(f"the image is {width}×{height} pixels; PDQ needs 5×5 at least")
    short = min(width, height)
    guess = 1 if full_decode else _scale_for(short, powers_of_two=fmt == "JPEG")
    estimate = _decode_estimate(width, height, fmt, guess)
    DECODE_MEMORY.acquire(estimate)
    reader = getattr(image, "fp", None)
    if isinstance(reader, _DeadlineReader):  # the time limit is for decoding, not for waiting
        reader.deadline = time.monotonic() + limits.max_seconds
    kept = False
    try:
        decoded = _decode_open(image, fmt, width, height, full_decode=full_decode, lenient=lenient)
        held = getattr(_HOLDING, "amounts", None)
        if held is not None:  # the caller still works on the luma: released when it is done
            held.append(estimate)
            kept = True
        return decoded
    finally:
        if not kept:
            DECODE_MEMORY.release(estimate)


class _Holding(threading.local):
    amounts: list[int] | None = None


_HOLDING = _Holding()


@contextmanager
def holding_decode_memory() -> Iterator[None]:
    """Decodes in this thread inside the block keep their share of ``DECODE_MEMORY`` until
    the block ends, for a caller that goes on working on the luma (hashing it). A thread
    holds one block at a time and decodes nothing else inside it but what it hashes, so
    waiting for the budget can never deadlock."""
    if _HOLDING.amounts is not None:
        raise RuntimeError("decode memory is already held in this thread")
    _HOLDING.amounts = []
    try:
        yield
    finally:
        for amount in _HOLDING.amounts:
            DECODE_MEMORY.release(amount)
        _HOLDING.amounts = None


def _decode_open(
    image: Image.Image, fmt: str, width: int, height: int, *, full_decode: bool, lenient: bool
) -> DecodedLuma:
    short = min(width, height)
    if fmt == "JPEG":
        # EXIF sits in the header; read it before the decoder is switched to reduced scale.
        orientation = _orientation(image)
        scale = 1 if full_decode else _scale_for(short, powers_of_two=True)
        if not full_decode:
            # Luma only, even at full scale: libjpeg skips the colour conversion. (A full
            # decode keeps the colours and takes luma from them, as the reference does.)
            image.draft("L", (-(-width // scale), -(-height // scale)))
        _load(image, lenient=lenient)
        scale = _actual_scale(width, height, image.size)
        luma = _luma_of(image)
    else:
        _load(image, lenient=lenient)  # first: some formats (PNG) keep EXIF after the pixels
        orientation = _orientation(image)
        scale = 1 if full_decode else _scale_for(short, powers_of_two=False)
        if image.mode in ("I", "F") or image.mode.startswith("I;16"):
            luma = _block_mean(_luma_of(image), scale)  # rare: 16-bit and float images
        else:
            if image.mode not in ("L", "RGB"):
                image = image.convert("RGB")
            luma = _luma_of(image.reduce(scale) if scale > 1 else image)
    transpose, flip_rows, flip_cols = _ORIENTATIONS.get(orientation, _ORIENTATIONS[1])
    if transpose:
        luma = luma.T
        width, height = height, width
    if flip_rows:
        luma = luma[::-1, :]
    if flip_cols:
        luma = luma[:, ::-1]
    return DecodedLuma(
        luma=np.ascontiguousarray(luma),
        width=width,
        height=height,
        scale=scale,
        reverse=(flip_rows, flip_cols),
        format=fmt,
        truncated=lenient,
    )


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(ORIENTATION_TAG, 1))
    except Exception:
        return 1


def _block_mean(a: NDArray[np.float32], scale: int) -> NDArray[np.float32]:
    """Mean of each scale×scale block; short edge blocks average the pixels they have."""
    if scale == 1:
        return a
    rows = np.arange(0, a.shape[0], scale)
    cols = np.arange(0, a.shape[1], scale)
    sums = np.add.reduceat(np.add.reduceat(a, rows, axis=0), cols, axis=1)
    counts = np.outer(np.diff(np.append(rows, a.shape[0])), np.diff(np.append(cols, a.shape[1])))
    mean: NDArray[np.float32] = (sums / counts).astype(np.float32)
    return mean


def _actual_scale(width: int, height: int, decoded: tuple[int, int]) -> int:
    for scale in (1, 2, 4, 8):
        if decoded == (-(-width // scale), -(-height // scale)):
            return scale
    raise Corrupt(f"the decoder returned {decoded} for a {width}×{height} image")


def rendition(
    data: bytes,
    *,
    blur_radius: float,
    grayscale: bool,
    max_side: int = 512,
    limits: ImageLimits | None = None,
) -> bytes:
    """A JPEG of an image for a reviewer who has not revealed it: decoded by the same safe
    decoder as scanning (every limit holds, a damaged file raises a ``MediaError``), shown
    the right way up, scaled to at most ``max_side`` pixels, in grayscale if asked, and
    blurred with a Gaussian of ``blur_radius`` pixels at that size. Nothing of the original
    file (its bytes, metadata or colour profile) is carried over."""
    image = _open(data, limits or ImageLimits())
    image.draft("RGB", (max_side, max_side))  # JPEG: decode at a fraction of the size
    _load(image, lenient=True)
    return blurred(ImageOps.exif_transpose(image), blur_radius, grayscale, max_side)


def blurred(image: Image.Image, blur_radius: float, grayscale: bool, max_side: int) -> bytes:
    """``image`` scaled to ``max_side``, grayscale if asked, blurred: a JPEG."""
    shown = image.convert("L" if grayscale else "RGB")
    shown.thumbnail((max_side, max_side))
    shown = shown.filter(ImageFilter.GaussianBlur(blur_radius))
    out = io.BytesIO()
    shown.save(out, "JPEG", quality=70)
    return out.getvalue()


def image_format(data: bytes) -> str | None:
    """The format Pillow reads ``data`` as (``JPEG``, ``PNG``, …), from its header only; None
    when it is not an image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None
