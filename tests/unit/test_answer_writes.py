"""An answer's head goes out with its body in one write (``server.protocol._Answer``), and
nothing it holds is lost when no body follows at once or the connection closes."""

from __future__ import annotations

import asyncio

from takedown.server.protocol import _Answer


class Recorded(asyncio.Transport):
    """A transport that records what is written to it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:  # type: ignore[override]
        assert not self.closed, "written after close"
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


def _run(steps) -> Recorded:
    async def main() -> Recorded:
        transport = Recorded()
        await steps(_Answer(transport, asyncio.get_running_loop()), transport)
        await asyncio.sleep(0)  # the loop's next turn
        await asyncio.sleep(0)
        return transport

    return asyncio.run(main())


def test_head_and_body_are_one_write():
    async def steps(answer, transport):
        answer.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n")
        assert transport.writes == []
        answer.write(b"{}")
        answer.write(b"more")

    assert _run(steps).writes == [b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}", b"more"]


def test_a_head_without_a_body_at_once_goes_out_on_the_next_turn():
    async def steps(answer, transport):
        answer.write(b"HTTP/1.1 200 OK\r\n\r\n")  # a HEAD request's, or a slow stream's
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        assert transport.writes == [b"HTTP/1.1 200 OK\r\n\r\n"]
        answer.write(b"chunk")

    assert _run(steps).writes == [b"HTTP/1.1 200 OK\r\n\r\n", b"chunk"]


def test_a_close_writes_what_is_held_first_and_nothing_after():
    async def steps(answer, transport):
        answer.write(b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n")
        answer.close()
        assert transport.closed and answer.is_closing()

    assert _run(steps).writes == [b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n"]


def test_nothing_is_written_to_a_transport_closed_under_it():
    async def steps(answer, transport):
        answer.write(b"HTTP/1.1 200 OK\r\n\r\n")
        transport.close()  # the server closed the connection (a timeout, shutdown)

    assert _run(steps).writes == []
