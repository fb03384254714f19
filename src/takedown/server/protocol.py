"""The HTTP/1.1 connection: uvicorn's httptools protocol with time limits on reading.

uvicorn closes a keep-alive connection left idle after an answer, but it waits as long as a
client likes for a request's headers (from the moment it connects) and for each part of its
body. A few thousand slow clients would then hold as many connections, and the memory and
file descriptors behind them, for ever. Here:

- a request's headers must be complete ``header_timeout`` seconds after the connection opened
  or the previous answer ended; else the answer is 408 and the connection is closed;
- while a body is read, ``body_timeout`` seconds with nothing received end the request: 408
  if nothing was answered yet, and the connection is closed. The app sees the client gone
  (``http.disconnect``), as it does when a client hangs up mid-body.

``server.errors`` answers a client that hung up mid-body (Starlette's ``ClientDisconnect``)
without logging an error: nothing went wrong on the server's side.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEADER_TIMEOUT = 10.0
BODY_TIMEOUT = 30.0

_TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)


def _timeout_answer(what: str) -> bytes:
    body = (
        b'{"error":{"code":"request_timeout","message":"%s","details":[]},"request_id":null}'
        % what.encode()
    )
    return _TIMEOUT_ANSWER % (len(body), body)


class TimedHttpProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with the read time limits of the module (``timed`` makes one
    with other limits)."""

    header_timeout = HEADER_TIMEOUT
    body_timeout = BODY_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timer: asyncio.TimerHandle | None = None

    def _arm(self, seconds: float, handler: Any) -> None:
        self._disarm()
        self._read_timer = self.loop.call_later(seconds, handler)

    def _disarm(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, self._headers_too_slow)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._read_timer is None:
            self._arm(self.header_timeout, self._headers_too_slow)

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.more_body:
            self._arm(self.body_timeout, self._body_too_slow)

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if self._read_timer is not None:
            self._arm(self.body_timeout, self._body_too_slow)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            # The next request's headers are timed once its first byte comes (uvicorn's own
            # keep-alive timeout closes a connection that sends none).
            self._disarm()

    def _headers_too_slow(self) -> None:
        self._read_timer = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(_timeout_answer("the request's headers came too slowly"))
        self.transport.close()

    def _body_too_slow(self) -> None:
        self._read_timer = None
        cycle = self.cycle
        if self.transport.is_closing() or cycle is None:
            return
        if not cycle.response_started:
            self.transport.write(_timeout_answer("the request's body came too slowly"))
        cycle.disconnected = True  # the app's next read sees the client gone
        cycle.message_event.set()
        self.transport.close()


def timed(*, header_timeout: float, body_timeout: float) -> type[TimedHttpProtocol]:
    """A protocol class with these limits, to give uvicorn (``http=``) in this process (a
    server in a process of its own, started by uvicorn, is given ``TimedHttpProtocol`` itself,
    which uvicorn sends it by name, and ``configure`` sets its limits there)."""
    return type(
        "TimedHttpProtocolWithLimits",
        (TimedHttpProtocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )


def configure(*, header_timeout: float, body_timeout: float) -> None:
    """Set ``TimedHttpProtocol``'s limits for this whole process (a server process of
    ``TAKEDOWN_WEB_PROCESSES`` above 1, from its settings)."""
    TimedHttpProtocol.header_timeout = header_timeout
    TimedHttpProtocol.body_timeout = body_timeout
