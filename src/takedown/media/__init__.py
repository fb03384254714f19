"""Media: safe decoding and hashing: PDQ, MD5 and SHA-256 of images; vPDQ-style frame hashes,
MD5 and SHA-256 of videos. Pure: no HTTP, SQL or Celery."""

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
from takedown.media.images import ImageLimits, blurred, decode_luma, image_format, rendition
from takedown.media.pdq import WEAK_QUALITY, PdqHash, distance, hash_luma
from takedown.media.video import FrameHash, VideoHashes, VideoLimits, hash_video, key_frames

__all__ = [
    "WEAK_QUALITY",
    "Corrupt",
    "DecodeTimeout",
    "FrameHash",
    "ImageHashes",
    "ImageLimits",
    "MediaError",
    "NotMedia",
    "PdqHash",
    "TooLarge",
    "TooSmall",
    "Truncated",
    "UnsupportedFormat",
    "VideoHashes",
    "VideoLimits",
    "blurred",
    "decode_luma",
    "distance",
    "file_digests",
    "hash_image",
    "hash_luma",
    "hash_video",
    "image_format",
    "key_frames",
    "rendition",
]
