"""A TCP proxy in front of PostgreSQL that counts round trips: the messages after which a
client waits for the server's ``ReadyForQuery`` (``Sync``, which ends a pipeline or an
extended-protocol exchange, and a simple ``Query``). Tests read the count to hold a code
path to the round trips it is meant to make. Connect without TLS (``sslmode=disable``) so
the stream can be read."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import make_url


class RoundTrips:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    def add(self) -> None:
        with self._lock:
            self.count += 1

    def take(self) -> int:
        """The count since the last ``take``."""
        with self._lock:
            count, self.count = self.count, 0
            return count


def _client_to_server(client: socket.socket, server: socket.socket, trips: RoundTrips) -> None:
    try:
        _count(client, server, trips)
    except OSError:  # the proxy closed its sockets
        return


def _count(client: socket.socket, server: socket.socket, trips: RoundTrips) -> None:
    buffer = b""
    started = False  # the startup message has no type byte
    while data := client.recv(65536):
        server.sendall(data)
        buffer += data
        while True:
            if not started:
                if len(buffer) < 4:
                    break
                (length,) = struct.unpack("!i", buffer[:4])
                if len(buffer) < length:
                    break
                buffer, started = buffer[length:], True
                continue
            if len(buffer) < 5:
                break
            kind = buffer[:1]
            (length,) = struct.unpack("!i", buffer[1:5])
            if len(buffer) < 1 + length:
                break
            if kind in (b"S", b"Q"):
                trips.add()
            buffer = buffer[1 + length :]
    server.shutdown(socket.SHUT_WR)


def _server_to_client(server: socket.socket, client: socket.socket) -> None:
    try:
        while data := server.recv(65536):
            client.sendall(data)
        client.shutdown(socket.SHUT_WR)
    except OSError:  # the proxy closed its sockets
        return


@contextmanager
def counting_proxy(url: str) -> Iterator[tuple[str, RoundTrips]]:
    """Yield a URL that reaches ``url``'s server through the proxy, and its counter."""
    target = make_url(url)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    trips = RoundTrips()
    sockets: list[socket.socket] = [listener]

    def accept() -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection((target.host or "localhost", target.port or 5432))
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sockets.extend((client, server))
            threading.Thread(
                target=_client_to_server, args=(client, server, trips), daemon=True
            ).start()
            threading.Thread(target=_server_to_client, args=(server, client), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    proxied = target.set(host="127.0.0.1", port=port, query={**target.query, "sslmode": "disable"})
    try:
        yield proxied.render_as_string(hide_password=False), trips
    finally:
        for s in sockets:
            s.close()
