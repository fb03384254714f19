"""Hashes of one file: PDQ (images), MD5 and SHA-256 (every file)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import numpy as np

from takedown.media.images import DecodedLuma, ImageLimits, decode_luma, holding_decode_memory
from takedown.media.pdq import WEAK_QUALITY, PdqHash, hash_reduced_luma


@dataclass(frozen=True)
class ImageHashes:
    format: str
    width: int
    height: int
    pdq: PdqHash
    md5: str
    sha256: str
    truncated: bool = False  # the data ended early; what was there was hashed


def file_digests(data: bytes) -> tuple[str, str]:
    """(MD5, SHA-256) of the bytes, in hex."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest(), hashlib.sha256(data).hexdigest()


def hash_image(data: bytes, limits: ImageLimits | None = None) -> ImageHashes:
    """Decode under ``limits`` and hash. Raises a ``takedown.media.MediaError`` for bad input.

    Example::

        hashes = hash_image(Path("photo.jpg").read_bytes())
        hashes.pdq.hex, hashes.pdq.quality, hashes.md5
    """
    decoded, pdq = _decoded_pdq(data, limits, full_decode=False)
    if pdq.quality < WEAK_QUALITY and (decoded.scale > 1 or decoded.format == "JPEG"):
        # A nearly flat image has few gradients, and a reduced or luma-only decode (libjpeg's
        # own downscaling, its Y channel) moves them enough to flip many bits (34 of 256 on
        # a photo of quality 0): such images are hashed again from a full colour decode, as
        # pdqhash is, which keeps them within a few bits of it.
        decoded, pdq = _decoded_pdq(data, limits, full_decode=True)
    md5, sha256 = file_digests(data)
    return ImageHashes(
        format=decoded.format,
        width=decoded.width,
        height=decoded.height,
        pdq=pdq,
        md5=md5,
        sha256=sha256,
        truncated=decoded.truncated,
    )


def _decoded_pdq(
    data: bytes, limits: ImageLimits | None, *, full_decode: bool
) -> tuple[DecodedLuma, PdqHash]:
    """Decode and hash, the decode's memory held (``DECODE_MEMORY``) until the hash is made;
    the luma is dropped before returning, so a second decode never overlaps the first."""
    with holding_decode_memory():
        decoded = decode_luma(data, limits, full_decode=full_decode)
        pdq = _pdq(decoded)
    return replace(decoded, luma=_NO_LUMA), pdq


_NO_LUMA = np.zeros((0, 0), dtype=np.float32)


def _pdq(decoded: DecodedLuma) -> PdqHash:
    return hash_reduced_luma(
        decoded.luma,
        full_size=(decoded.height, decoded.width),
        scale=decoded.scale,
        reverse=decoded.reverse,
    )
