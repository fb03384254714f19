"""Outgoing HTTP: every request takedown makes to another system (the platform's webhook and
media server, NCMEC) goes through ``urlopen`` here, which follows no redirect.

Why: urllib follows a 3xx on its own, turning a webhook's POST into a body-less GET whose 200
would count the actions delivered, and sending ``Takedown-Signature`` or NCMEC's Basic
credentials on to whatever host the redirect names. Here any 3xx is an ``HTTPError`` with its
status, which each caller treats as a failure like any other status it did not expect; the
request's headers go nowhere but the address configured.
"""

from __future__ import annotations

import io
import urllib.error
import urllib.request
from email.message import Message
from http.client import HTTPResponse
from typing import IO, Any


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None  # urllib then raises HTTPError(code): the redirect is the answer


_OPENER = urllib.request.build_opener(_RefuseRedirects())


MAX_ERROR_BODY = 64 * 1024


def urlopen(request: urllib.request.Request, *, timeout: float) -> Any:
    """``urllib.request.urlopen`` that never follows a redirect: a 3xx raises
    ``urllib.error.HTTPError`` with its code, like a 4xx. Returns the response (a context
    manager), as urlopen does. An ``HTTPError`` raised here holds the first
    ``MAX_ERROR_BODY`` bytes of the answer in memory, its connection already closed, so a
    caller that never reads it leaks no socket."""
    try:
        response: HTTPResponse = _OPENER.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read(MAX_ERROR_BODY) if exc.fp is not None else b""
        except OSError:
            body = b""
        finally:
            exc.close()
        raise urllib.error.HTTPError(
            exc.url, exc.code, exc.msg, exc.headers, io.BytesIO(body)
        ) from None
    return response


__all__ = ["urlopen"]
