"""Report intake driven in process, for ``bench/intake_instructions.py``: the real app (its
direct lane, group-commit writer and SQLite store) given ``POST /v1/reports`` as ASGI calls,
in waves of ``--wave`` at once (so the writer commits them in groups of that size), without
a socket or an HTTP parser. Run under callgrind by that benchmark, which switches counting on
once the warm-up is done; the timed reports are framed by two calls of ``binascii.crc_hqx``,
where callgrind dumps its counts (nothing else here calls it).

``python -m bench._intake_driver --reports N --wave W --ready FILE --go FILE``
"""

from __future__ import annotations

import argparse
import asyncio
import binascii
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reports", type=int, required=True)
    parser.add_argument("--wave", type=int, required=True)
    parser.add_argument("--warm", type=int, default=300)
    parser.add_argument("--ready", type=Path, required=True)
    parser.add_argument("--go", type=Path, required=True)
    args = parser.parse_args()
    data = tempfile.mkdtemp(prefix="takedown-bench-")
    url = f"sqlite:///{data}/bench.db"
    os.environ.update(
        TAKEDOWN_DATABASE_URL=url,
        TAKEDOWN_DATA_DIR=data,
        TAKEDOWN_LOG_LEVEL="WARNING",
        # The outbox worker runs on its own clock: it would make the count vary.
        TAKEDOWN_WORKER="false",
    )
    from bench._loadgen import report_body
    from bench.intake import prepare_database
    from takedown.config import Settings
    from takedown.server.app import create_app
    from takedown.server.process import tune_server_process

    key = prepare_database(url)
    app = create_app()
    tune_server_process(Settings())
    headers = [
        (b"host", b"127.0.0.1:8000"),
        (b"authorization", f"Bearer {key}".encode()),
        (b"content-type", b"application/json"),
    ]
    statuses: dict[int, int] = {}

    async def one(body: bytes) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/reports",
            "raw_path": b"/v1/reports",
            "root_path": "",
            "query_string": b"",
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.Event().wait()  # the client stays connected
            raise AssertionError

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] = statuses.get(message["status"], 0) + 1

        await app(scope, receive, send)

    async def run() -> None:
        rng = random.Random(7)  # noqa: S311 - a repeatable load, not a secret
        hot = [f"hot-{i}" for i in range(50)]
        async with app.router.lifespan_context(app):
            await asyncio.sleep(1.0)  # the bank indexes and case hashes load at start
            for tag, count in (("warm", args.warm), ("run", args.reports)):
                bodies = [report_body(rng, i, tag, hot) for i in range(count)]
                if tag == "run":
                    args.ready.touch()
                    while not args.go.exists():
                        await asyncio.sleep(0.1)
                    await asyncio.sleep(0.5)
                    binascii.crc_hqx(b"start", 0)
                started = time.process_time()
                for s in range(0, count, args.wave):
                    await asyncio.gather(*(one(b) for b in bodies[s : s + args.wave]))
                if tag == "run":
                    binascii.crc_hqx(b"end", 0)
                    cpu = time.process_time() - started
                    print(f"{cpu * 1000 / count:.3f} ms of CPU a report; answers {statuses}")

    try:  # the loop the server runs on (uvicorn takes uvloop when it is installed)
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = asyncio.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(run())
    if set(statuses) != {201}:
        sys.exit(f"not every report was accepted: {statuses}")


if __name__ == "__main__":
    main()
