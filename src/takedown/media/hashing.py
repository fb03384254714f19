"""Hashes of one file: PDQ (images), MD5 and SHA-256 (every file)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from takedown.media.images import ImageLimits, decode_luma
from takedown.media.pdq import PdqHash, hash_reduced_luma


@dataclass(frozen=True)
class ImageHashes:
    format: str
    width: int
    height: int
    pdq: PdqHash
    md5: str
    sha256: str


def file_digests(data: bytes) -> tuple[str, str]:
    """(MD5, SHA-256) of the bytes, in hex."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest(), hashlib.sha256(data).hexdigest()


def hash_image(data: bytes, limits: ImageLimits | None = None) -> ImageHashes:
    """Decode under ``limits`` and hash. Raises a ``takedown.media.MediaError`` for bad input.

    Example::

        hashes = hash_image(Path("photo.jpg").read_bytes())
        hashes.pdq.hex, hashes.pdq.quality, hashes.md5
    """
    decoded = decode_luma(data, limits)
    pdq = hash_reduced_luma(
        decoded.luma,
        full_size=(decoded.height, decoded.width),
        scale=decoded.scale,
        reverse=decoded.reverse,
    )
    md5, sha256 = file_digests(data)
    return ImageHashes(
        format=decoded.format,
        width=decoded.width,
        height=decoded.height,
        pdq=pdq,
        md5=md5,
        sha256=sha256,
    )
