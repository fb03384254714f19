"""Failed console logins at a fixed rate, run in its own process beside the report load:
``python -m bench._logins --url URL --rate N --seconds S --name NAME``.

Every login is a browser of its own: it opens the form (for its CSRF cookie) and sends a
wrong password; half name a real account, half a name no one has. Open loop, like
``bench._loadgen``: latency counts from each login's scheduled time. Prints ``ready`` once
started, then one JSON object, on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import ssl
import time

import httpx

# Made once: each client would otherwise build its own TLS context (about 20 ms of this
# process's CPU, which shares a core with the report load generator), though the server is
# plain HTTP. Each browser still has its own connection and cookies.
_TLS = ssl.create_default_context()


async def _attempt(url: str, name: str, password: str) -> int:
    """One browser's try: the form (and its CSRF cookie), then the wrong password."""
    async with httpx.AsyncClient(base_url=url, timeout=60, verify=_TLS) as client:
        page = await client.get("/login")
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        if not found:
            raise SystemExit(f"no login form at {url}/login: {page.status_code}")
        answer = await client.post(
            "/login", data={"name": name, "password": password, "csrf_token": found.group(1)}
        )
        return answer.status_code


async def run(args: argparse.Namespace) -> dict:
    statuses: dict[str, int] = {}
    latencies: list[float] = []

    async def one(i: int, due: float) -> None:
        name = args.name if i % 2 else f"nobody-{i}"
        status = await _attempt(args.url, name, f"wrong-guess-{i:06d}")
        latencies.append(time.perf_counter() - due)
        statuses[str(status)] = statuses.get(str(status), 0) + 1

    # Ready: the bench starts the report load once this line is read, so this process's
    # start-up (imports, about half a second of CPU) is over before reports are timed.
    print("ready", flush=True)
    start = time.perf_counter() + 0.2
    tasks = []
    for i in range(int(args.rate * args.seconds)):
        due = start + i / args.rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    latencies.sort()
    return {
        "sent": len(tasks),
        "rate": args.rate,
        "statuses": statuses,
        "p50_ms": latencies[len(latencies) // 2] * 1000 if latencies else None,
        "max_ms": latencies[-1] * 1000 if latencies else None,
        "cpu_s": time.process_time(),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--name", required=True)
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
