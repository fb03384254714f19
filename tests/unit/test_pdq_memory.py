"""PDQ's memory is bounded whatever the image's shape: a strip of 5 × 15,000,000 pixels (under
the pixel limit, a few kilobytes as PNG) is refused from its header with a 4xx-mapped error,
and six 80-megapixel bombs hashed at once stay inside the decode budget. Run in a child
process under an address-space limit, which reports its own peak memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

CHILD = textwrap.dedent(
    r"""
    import json, resource, struct, sys, threading, zlib
    from concurrent.futures import ThreadPoolExecutor

    limit = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    from takedown.media import MediaError, hash_image
    from takedown.media.images import DECODE_MEMORY

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    def png(width, height, channels):
        # Written row by row, so making the bomb costs no more memory than it weighs.
        colour = {1: 0, 3: 2}[channels]
        header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
        out = [b"\x89PNG\r\n\x1a\n", chunk(b"IHDR", header)]
        z = zlib.compressobj(9)
        row = b"\x00" + bytes(width * channels)
        parts = []
        for y in range(height):
            parts.append(z.compress(row))
        parts.append(z.flush())
        out.append(chunk(b"IDAT", b"".join(parts)))
        out.append(chunk(b"IEND", b""))
        return b"".join(out)

    def rss():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    results = {"baseline": rss()}
    strip = png(5, 15_000_000, 1)
    results["strip_bytes"] = len(strip)
    try:
        hash_image(strip)
        results["strip"] = "hashed"
    except MediaError as refused:
        results["strip"] = f"{type(refused).__name__}: {refused}"
    del strip
    bomb = png(8000, 10000, 3)
    results["bomb_bytes"] = len(bomb)

    def one(_):
        try:
            return hash_image(bomb).pdq.hex
        except MediaError as refused:
            return type(refused).__name__

    with ThreadPoolExecutor(6) as pool:
        results["bombs"] = list(pool.map(one, range(6)))
    results["peak"] = rss()
    results["budget_peak"] = DECODE_MEMORY.peak
    print(json.dumps(results))
    """
)

LIMIT = 3 << 30  # the address space the child may use; the server grew to 24 GB before


def test_a_long_strip_is_refused_and_a_burst_of_bombs_stays_in_budget():
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(LIMIT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["strip_bytes"] < 200_000 and result["bomb_bytes"] < 1_000_000
    assert result["strip"].startswith("TooLarge"), result["strip"]
    assert "5×15000000" in result["strip"]
    assert all(len(h) == 64 for h in result["bombs"]), result["bombs"]  # each one hashed
    assert result["budget_peak"] <= 1 << 30
    # Under the limit with room to spare: the decode budget (1 GiB) and what the allocator
    # keeps of freed blocks across six threads' arenas (before the budget, 3.8 GB).
    assert result["peak"] - result["baseline"] < 2_400 << 20, result
