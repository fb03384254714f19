"""Why a file could not be hashed. Each error has a stable ``code`` for API responses.

Exception tree::

    MediaError              (code)
    ├── NotMedia            not_media: not an image or video at all (random bytes, text)
    ├── UnsupportedFormat   unsupported_format: media, but of a format we do not accept
    ├── TooLarge            too_large: over the byte, pixel, duration or frame limit
    ├── Truncated           truncated: the data ends early
    ├── Corrupt             corrupt: the data is damaged
    ├── DecodeTimeout       timeout: decoding ran past the time limit
    └── TooSmall            too_small: too few pixels to hash (under 5×5)
"""

from __future__ import annotations


class MediaError(Exception):
    code = "media_error"

    def __init__(self, message: str, *, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotMedia(MediaError):
    code = "not_media"


class UnsupportedFormat(MediaError):
    code = "unsupported_format"


class TooLarge(MediaError):
    code = "too_large"


class Truncated(MediaError):
    code = "truncated"


class Corrupt(MediaError):
    code = "corrupt"


class DecodeTimeout(MediaError):
    code = "timeout"


class TooSmall(MediaError):
    code = "too_small"
