"""PDQ lookups: single lookups per second, build time and memory at 1M and 10M hashes.

Anchors, measured in the same run on the same data: python-threatexchange's ``PDQIndex``
(faiss ``IndexBinaryMultiHash``, what HMA uses) and faiss ``IndexBinaryFlat`` (one scan per
query). Queries are planted: half within 0–31 bits of a bank entry (each must be found), half
32–40 bits from one (none may be returned); answers are checked against a brute-force scan.
A clustered bank (families of near-identical hashes, as real banks have) is checked too.
``BENCH_INDEX_SIZES`` (default ``1000000,10000000``) picks the sizes.

Each index is built in a process of its own (so its memory growth is its own), and the three
are then timed in alternating rounds (``BENCH_INDEX_ROUNDS``, default 5) and each figure is
the median of its rounds: on this project's machine a timing drifts by a quarter or more
within minutes, so a ratio of figures taken minutes apart measures the machine.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from takedown.matching import PdqIndex, hashes_to_words

OUT = Path(__file__).resolve().parent / "results"
console = Console(stderr=True)
QUERIES = 400
ROUNDS = int(os.environ.get("BENCH_INDEX_ROUNDS", "5"))


def rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def to_hex(words: np.ndarray) -> str:
    return "".join(f"{int(w):016x}" for w in words)


def flip(words: np.ndarray, rng: np.random.Generator, n: int) -> np.ndarray:
    out = words.copy()
    for b in rng.choice(256, n, replace=False):
        out[b // 64] ^= np.uint64(1) << np.uint64(63 - b % 64)
    return out


def make_bank(n: int, clustered: bool, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    words = rng.integers(0, 2**64 - 1, size=(n, 4), dtype=np.uint64, endpoint=True)
    if clustered:  # 1% of the bank in families of 50 near-identical hashes
        for family in range(n // 5000):
            base = words[family * 50]
            for i in range(family * 50 + 1, family * 50 + 50):
                words[i] = flip(base, rng, int(rng.integers(0, 10)))
    return words


def planted(words: np.ndarray, rng: np.random.Generator) -> list[tuple[str, int, int]]:
    """(query, target row, bits flipped): half 0–31 (matches), half 32–40 (near-misses)."""
    out = []
    for i in range(QUERIES):
        target = int(rng.integers(len(words)))
        d = int(rng.integers(0, 32)) if i % 2 == 0 else int(rng.integers(32, 41))
        out.append((to_hex(flip(words[target], rng, d)), target, d))
    return out


def truth(words: np.ndarray, query: str, threshold: int = 31) -> set[int]:
    d = np.bitwise_count(words ^ hashes_to_words([query])[0]).sum(axis=1)
    return set(np.nonzero(d <= threshold)[0].tolist())


def qps(fn, queries: list[str]) -> tuple[float, list]:
    results = []
    start = time.perf_counter()
    for q in queries:
        results.append(fn(q))
    return len(queries) / (time.perf_counter() - start), results


Built = tuple[Callable[[str], set[int]], dict[str, Any]]
"""An index's search (query → matching rows) and what building it cost."""


def build_ours(words: np.ndarray) -> Built:
    PdqIndex.build(np.arange(1000), words[:1000]).search(to_hex(words[0]))  # compile first
    gc.collect()
    before = rss()
    start = time.perf_counter()
    index = PdqIndex.build(np.arange(len(words)), words)
    build = time.perf_counter() - start
    memory = rss() - before
    index.search(to_hex(words[0]))  # compiled on first use; not timed

    def search(q: str) -> set[int]:
        return {i for i, _ in index.search(q, 31)}

    return search, {"build_s": build, "rss_bytes": memory, "index_bytes": index.nbytes}


def build_pdqindex(words: np.ndarray) -> Built:
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex

    hexes = [to_hex(w) for w in words]
    gc.collect()
    before = rss()
    start = time.perf_counter()
    index = PDQIndex(((h, i) for i, h in enumerate(hexes)))
    build = time.perf_counter() - start
    memory = rss() - before
    del hexes

    def search(q: str) -> set[int]:
        return {m.metadata for m in index.query(q)}

    return search, {"build_s": build, "rss_bytes": memory}


def build_flat(words: np.ndarray) -> Built:
    import faiss

    faiss.omp_set_num_threads(1)
    packed = words.astype(">u8").view(np.uint8).reshape(len(words), 32)
    gc.collect()
    before = rss()
    start = time.perf_counter()
    index = faiss.IndexBinaryFlat(256)
    index.add(packed)
    build = time.perf_counter() - start
    memory = rss() - before

    def search(q: str) -> set[int]:
        qa = np.frombuffer(bytes.fromhex(q), dtype=np.uint8).reshape(1, 32)
        _, _, labels = index.range_search(qa, 32)  # distances < 32
        return set(labels.tolist())

    return search, {"build_s": build, "rss_bytes": memory}


BUILDERS = {
    "takedown": build_ours,
    "PDQIndex (HMA)": build_pdqindex,
    "faiss IndexBinaryFlat": build_flat,
}


def serve(conn: Connection, name: str, n: int, clustered: bool) -> None:
    """A child process: build one index, report what it cost, then time the planted queries
    each time the parent asks (sending the answers the first time), until it sends None."""
    words = make_bank(n, clustered)
    queries = [q for q, _, _ in planted(words, np.random.default_rng(n))]
    search, built = BUILDERS[name](words)
    del words
    conn.send(built)
    first = True
    while conn.recv() is not None:
        rate, found = qps(search, queries)
        conn.send((rate, [sorted(f) for f in found] if first else None))
        first = False


def check(found: list[set[int]], queries: list[tuple[str, int, int]], expected: list[set[int]]):
    planted_hits = sum(t in f for f, (_, t, d) in zip(found, queries, strict=True) if d <= 31)
    near_misses = sum(t in f for f, (_, t, d) in zip(found, queries, strict=True) if d > 31)
    exact = all(f == e for f, e in zip(found, expected, strict=True))
    return planted_hits / (QUERIES // 2), near_misses, exact


def main() -> None:
    sizes = [int(s) for s in os.environ.get("BENCH_INDEX_SIZES", "1000000,10000000").split(",")]
    rows = []
    for n in sizes:
        for clustered in (False, True) if n == sizes[0] else (False,):
            label = f"{n:,}" + (" clustered" if clustered else "")
            console.print(f"index: {label} …")
            words = make_bank(n, clustered)
            queries = planted(words, np.random.default_rng(n))
            expected = [truth(words, q) for q, _, _ in queries]
            del words
            context = multiprocessing.get_context("spawn")
            children = {}
            for name in BUILDERS:  # one at a time, so each build has the machine to itself
                parent, child = context.Pipe()
                process = context.Process(target=serve, args=(child, name, n, clustered))
                process.start()
                children[name] = (process, parent, parent.recv())
            rates: dict[str, list[float]] = {name: [] for name in BUILDERS}
            answers: dict[str, list[set[int]]] = {}
            for _ in range(ROUNDS):
                for name, (_, conn, _) in children.items():
                    conn.send(True)
                    rate, found = conn.recv()
                    rates[name].append(rate)
                    if found is not None:
                        answers[name] = [set(f) for f in found]
            for name, (process, conn, built) in children.items():
                conn.send(None)
                process.join()
                recall, misses, exact = check(answers[name], queries, expected)
                rows.append(
                    {
                        "bank": label,
                        "index": name,
                        **built,
                        "qps": statistics.median(rates[name]),
                        "qps_rounds": rates[name],
                        "recall": recall,
                        "near_misses_returned": misses,
                        "exact": exact,
                    }
                )
    table = Table(title="PDQ lookups within 31 bits, one core")
    for col in (
        "bank",
        "index",
        "lookups/s",
        "vs PDQIndex",
        "build s",
        "RSS growth MB",
        "arrays MB",
        "recall",
        "near-misses",
        "= brute force",
    ):
        table.add_column(col, justify="right")
    for row in rows:
        anchor = next(
            r for r in rows if r["bank"] == row["bank"] and r["index"] == "PDQIndex (HMA)"
        )
        table.add_row(
            row["bank"],
            row["index"],
            f"{row['qps']:.0f}",
            f"{row['qps'] / anchor['qps']:.1f}×",
            f"{row['build_s']:.1f}",
            f"{row['rss_bytes'] / 1e6:.0f}",
            f"{row['index_bytes'] / 1e6:.0f}" if "index_bytes" in row else "",
            f"{row['recall']:.0%}",
            str(row["near_misses_returned"]),
            "yes" if row["exact"] else "no",
        )
    Console().print(table)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "index.json").write_text(json.dumps(rows, indent=2))
    console.print(f"written to {OUT / 'index.json'}")
