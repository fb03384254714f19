"""The one way an exchange's client talks HTTP: through ``outbound`` (no redirect is
followed, so credentials reach no other host), with a time limit and a size limit, and with
errors that say what happened without the request's headers (the credentials) in them.

How an answer maps: 2xx is the body; a 3xx, 401, 403 or other 4xx is ``ExchangeRefused``
(tried again later, but it needs the configuration fixed); a 5xx, a time-out, a dropped
connection or an answer over the size limit is ``ExchangeError`` (tried again with back-off).
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from takedown import outbound
from takedown.matching.exchanges import ExchangeError, ExchangeRefused

MAX_ANSWER = 256 << 20  # an exchange's page: NCMEC's 1,000 entries are well under a megabyte
TIMEOUT = 60.0


def call(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str],
    body: bytes | None = None,
    timeout: float = TIMEOUT,
    max_bytes: int = MAX_ANSWER,
) -> bytes:
    where = _where(url)
    request = urllib.request.Request(  # noqa: S310 - the operator's configured exchange URL
        url, data=body, method=method, headers=dict(headers)
    )
    try:
        with outbound.urlopen(request, timeout=timeout) as answer:
            data = _read(answer, max_bytes + 1)
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            raise ExchangeRefused(
                f"{method} {where}: HTTP {exc.code}, a redirect (never followed: check the URL)"
            ) from None
        if exc.code < 500 and exc.code != 429:
            raise ExchangeRefused(f"{method} {where}: HTTP {exc.code}") from None
        raise ExchangeError(f"{method} {where}: HTTP {exc.code}") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ExchangeError(f"{method} {where}: {type(reason).__name__}: {reason}") from None
    if len(data) > max_bytes:
        raise ExchangeError(f"{method} {where}: the answer is over {max_bytes} bytes")
    return data


def _read(answer: Any, limit: int) -> bytes:
    """Up to ``limit`` bytes, in pieces: ``read(limit)`` would allocate all of ``limit`` at
    once for every page, however small."""
    parts: list[bytes] = []
    size = 0
    while size < limit:
        piece: bytes = answer.read(min(1 << 20, limit - size))
        if not piece:
            break
        parts.append(piece)
        size += len(piece)
    return b"".join(parts)


def _where(url: str) -> str:
    """The URL without its query and any user info: what an error may show."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
