"""A platform's webhook receiver, as a strict one would be: it checks ``Takedown-Signature``
(HMAC-SHA256 of ``"<t>." + body``, a ``t`` within five minutes), refuses anything else with
401, and records each action once by its ``action_id`` (a retried batch is recognised).
It can be told to fail (answer 500), to be slow, or to hang, for fault tests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from takedown.identity import SIGNATURE_HEADER, signature_valid

SECRET = "webhook-secret-for-tests"


@dataclass
class Receiver:
    url: str = ""
    actions: dict[str, dict] = field(default_factory=dict)  # by action_id
    deliveries: int = 0  # accepted requests
    repeats: int = 0  # actions received again after being accepted
    refused_signatures: int = 0
    fail_next: int = 0  # answer 500 to this many requests
    delay: float = 0.0  # seconds to wait before answering
    lock: threading.Lock = field(default_factory=threading.Lock)

    def of_type(self, kind: str) -> list[dict]:
        with self.lock:
            return [a for a in self.actions.values() if a["type"] == kind]


@contextmanager
def receiver(secret: str = SECRET, port: int = 0) -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            if state.delay:
                time.sleep(state.delay)  # deliberately slow: the fault tests ask for it
            ok = signature_valid(self.headers.get(SIGNATURE_HEADER), secret, body, now=time.time())
            with state.lock:
                if not ok:
                    state.refused_signatures += 1
                    self._answer(401)
                    return
                if state.fail_next > 0:
                    state.fail_next -= 1
                    self._answer(500)
                    return
                for action in json.loads(body)["actions"]:
                    if action["action_id"] in state.actions:
                        state.repeats += 1
                    state.actions[action["action_id"]] = action
                state.deliveries += 1
            self._answer(200)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/takedown/actions"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
