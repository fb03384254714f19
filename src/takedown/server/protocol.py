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

The limits cost nothing per request: one timer per connection checks a deadline that each
phase moves (``TimedHttpProtocol``). And each answer goes out in one write, its head held
until its body comes (``_Answer``): two writes cost the kernel twice the work per answer.

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


class _Answer:
    """What a request's cycle writes through: the answer's first write (its head, or a
    ``100 Continue``) is held and goes out with the next (its body), so a whole answer is one
    write and one TCP segment instead of two. Whatever is held is written before a close, and
    at the latest on the event loop's next turn, so an answer whose body is slow to come (a
    file, a stream) sends its head as soon as uvicorn would have."""

    __slots__ = ("_first", "_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._first = True

    def write(self, data: bytes) -> None:
        if self._first:
            self._first = False
            self._held = data
            self._loop.call_soon(self.flush)
            return
        held = self._held
        if held is not None:
            self._held = None
            data = held + data
        self._transport.write(data)

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()


class TimedHttpProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` with the read time limits of the module (``timed`` makes one
    with other limits), and each answer written at once (``_Answer``). A request's phase and
    deadline are two attributes; the connection's one timer, re-armed only when it fires
    before the deadline or is due after a nearer one, checks them."""

    header_timeout = HEADER_TIMEOUT
    body_timeout = BODY_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        self._waiting_for: str | None = None  # "headers", "body" or None
        self._deadline = 0.0

    def _expect(self, part: str, seconds: float) -> None:
        self._waiting_for = part
        self._deadline = deadline = self.loop.time() + seconds
        if self._timer is None or self._timer_at > deadline:
            self._arm(deadline)

    def _arm(self, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self.loop.call_at(at, self._check)

    def _check(self) -> None:
        self._timer = None
        part = self._waiting_for
        if part is None or self.transport.is_closing():
            return
        if self._deadline > self.loop.time():
            self._arm(self._deadline)
        elif part == "headers":
            self._headers_too_slow()
        else:
            self._body_too_slow()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._expect("headers", self.header_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._waiting_for = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._waiting_for is None:
            self._expect("headers", self.header_timeout)

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is None:
            return
        cycle.transport = _Answer(self.transport, self.loop)  # type: ignore[assignment]
        if cycle.more_body:
            self._expect("body", self.body_timeout)
        else:
            self._waiting_for = None

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        if self._waiting_for == "body":
            self._deadline = self.loop.time() + self.body_timeout

    def on_message_complete(self) -> None:
        self._waiting_for = None
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self._waiting_for == "headers":
            # A request that began before this answer ended (pipelined): its headers are
            # timed from now. Otherwise the next request's headers are timed once its first
            # byte comes (uvicorn's own keep-alive timeout closes a connection that sends none).
            self._expect("headers", self.header_timeout)

    def _headers_too_slow(self) -> None:
        self._waiting_for = None
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(_timeout_answer("the request's headers came too slowly"))
        self.transport.close()

    def _body_too_slow(self) -> None:
        self._waiting_for = None
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
