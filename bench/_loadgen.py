"""An open-loop HTTP load generator, run in its own process: ``python -m bench._loadgen``.

Requests are sent at a fixed arrival rate whatever the server does; each one's latency is
counted from the moment it was *scheduled*, not from when a connection was free to send it,
so a server that falls behind shows it in the tail instead of hiding it in a queue (the
"coordinated omission" a closed loop makes). Raw asyncio sockets with HTTP/1.1 keep-alive
keep the generator's own cost low. Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import random
import time
from urllib.parse import urlsplit


def report_body(
    rng: random.Random, i: int, tag: str, hot: list[str], hot_share: float = 0.3
) -> bytes:
    """The ``i``-th report of a load: about ``hot_share`` of them about one of the ``hot``
    items, the rest each about an item of its own; two in three with a contact address."""
    content = rng.choice(hot) if rng.random() < hot_share else f"item-{tag}-{i}"
    return json.dumps(
        {
            "content_id": content,
            "category": rng.choice(["csam", "ncii", "other_illegal", "policy"]),
            "reporter_role": rng.choice(["user", "depicted_person", "parent_guardian"]),
            "contact": {"email": f"r{tag}-{i}@example.org"} if i % 3 else None,
            "description": "benchmark report",
        }
    ).encode()


def build_requests(args: argparse.Namespace) -> list[bytes]:
    rng = random.Random(7)  # noqa: S311 - a repeatable load, not a secret
    host = urlsplit(args.url).netloc
    hot = [f"hot-{i}" for i in range(args.hot_items)]
    out = []
    total = int(args.rate * args.seconds)
    for i in range(total):
        body = report_body(rng, i, args.tag, hot, args.hot_share)
        head = (
            f"POST /v1/reports HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {args.key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append(head + body)
    return out


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def run(args: argparse.Namespace) -> dict[str, object]:
    requests = build_requests(args)
    parts = urlsplit(args.url)
    free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(args.connections):
        free.put_nowait(await asyncio.open_connection(parts.hostname, parts.port))
    latencies: list[float] = []
    lags: list[float] = []
    statuses: dict[int, int] = {}
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.2
    interval = 1.0 / args.rate

    async def one(i: int, payload: bytes) -> None:
        scheduled = start + i * interval
        # How late the generator itself was (its own loop, or its core busy elsewhere): a
        # latency it adds that the server did not cause.
        lags.append(loop.time() - scheduled)
        conn = await free.get()
        reader, writer = conn
        try:
            writer.write(payload)
            status = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError):
            status = 0
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
            conn = (reader, writer)
        latencies.append(loop.time() - scheduled)
        statuses[status] = statuses.get(status, 0) + 1
        free.put_nowait(conn)

    tasks = []
    for i, payload in enumerate(requests):
        delay = start + i * interval - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i, payload)))
    await asyncio.gather(*tasks)
    elapsed = loop.time() - start
    latencies.sort()
    lags.sort()

    def pct(p: float, values: list[float] = latencies) -> float:
        return values[min(len(values) - 1, int(p * len(values)))] * 1000

    return {
        "offered_rps": args.rate,
        "sent": len(requests),
        "seconds": elapsed,
        "achieved_rps": len(requests) / elapsed,
        "ok": statuses.get(201, 0),
        "statuses": {str(k): v for k, v in statuses.items()},
        "p50_ms": pct(0.50),
        "p90_ms": pct(0.90),
        "p99_ms": pct(0.99),
        "max_ms": latencies[-1] * 1000,
        "lag_p50_ms": pct(0.50, lags),
        "lag_p99_ms": pct(0.99, lags),
        "lag_max_ms": lags[-1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--hot-items", type=int, default=50)
    parser.add_argument("--hot-share", type=float, default=0.3)
    parser.add_argument("--tag", default="0")
    args = parser.parse_args()
    try:
        import uvloop

        factory = uvloop.new_event_loop
    except ImportError:
        factory = asyncio.new_event_loop
    t0 = time.perf_counter()
    # The generator's own garbage collection would stall its sends and reads (it keeps every
    # request's task until the end): the latencies would include its pauses.
    gc.collect()
    gc.freeze()
    gc.disable()
    with asyncio.Runner(loop_factory=factory) as runner:
        result = runner.run(run(args))
    gc.enable()
    result["wall_s"] = time.perf_counter() - t0
    result["cpu_s"] = time.process_time()
    print(json.dumps(result))


if __name__ == "__main__":
    main()
