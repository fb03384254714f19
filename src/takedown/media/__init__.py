"""Media: safe decoding and hashing (PDQ, MD5, SHA-256). Pure: no HTTP, SQL or Celery."""

from takedown.media.errors import (
    Corrupt,
    DecodeTimeout,
    MediaError,
    NotMedia,
    TooLarge,
    TooSmall,
    Truncated,
    UnsupportedFormat,
)
from takedown.media.hashing import ImageHashes, file_digests, hash_image
from takedown.media.images import ImageLimits, decode_luma
from takedown.media.pdq import WEAK_QUALITY, PdqHash, distance, hash_luma

__all__ = [
    "WEAK_QUALITY",
    "Corrupt",
    "DecodeTimeout",
    "ImageHashes",
    "ImageLimits",
    "MediaError",
    "NotMedia",
    "PdqHash",
    "TooLarge",
    "TooSmall",
    "Truncated",
    "UnsupportedFormat",
    "decode_luma",
    "distance",
    "file_digests",
    "hash_image",
    "hash_luma",
]
