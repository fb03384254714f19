"""PDQ lookups: single lookups per second, build time and memory at 1M and 10M hashes.

Anchors, measured in the same run on the same data: python-threatexchange's ``PDQIndex``
(faiss ``IndexBinaryMultiHash``, what HMA uses) and faiss ``IndexBinaryFlat`` (one scan per
query). Queries are planted: half within 0–31 bits of a bank entry (each must be found), half
32–40 bits from one (none may be returned); answers are checked against a brute-force scan.
A clustered bank (families of near-identical hashes, as real banks have) is checked too.
``BENCH_INDEX_SIZES`` (default ``1000000,10000000``) picks the sizes.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from takedown.matching import PdqIndex, hashes_to_words

OUT = Path(__file__).resolve().parent / "results"
console = Console(stderr=True)
QUERIES = 400


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


def run_ours(words: np.ndarray, queries: list[tuple[str, int, int]]) -> dict:
    PdqIndex.build(np.arange(1000), words[:1000]).search(queries[0][0])  # compile first
    gc.collect()
    before = rss()
    start = time.perf_counter()
    index = PdqIndex.build(np.arange(len(words)), words)
    build = time.perf_counter() - start
    memory = rss() - before
    index.search(queries[0][0])  # compiled on first use; not timed
    rate, results = qps(lambda q: index.search(q, 31), [q for q, _, _ in queries])
    found = [{i for i, _ in r} for r in results]
    held = index.nbytes
    return {"build_s": build, "rss_bytes": memory, "index_bytes": held, "qps": rate, "found": found}


def run_pdqindex(words: np.ndarray, queries: list[tuple[str, int, int]]) -> dict:
    from threatexchange.signal_type.pdq.pdq_index import PDQIndex

    hexes = [to_hex(w) for w in words]
    gc.collect()
    before = rss()
    start = time.perf_counter()
    index = PDQIndex(((h, i) for i, h in enumerate(hexes)))
    build = time.perf_counter() - start
    memory = rss() - before
    rate, results = qps(index.query, [q for q, _, _ in queries])
    found = [{m.metadata for m in r} for r in results]
    return {"build_s": build, "rss_bytes": memory, "qps": rate, "found": found}


def run_flat(words: np.ndarray, queries: list[tuple[str, int, int]]) -> dict:
    import faiss

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

    rate, found = qps(search, [q for q, _, _ in queries])
    return {"build_s": build, "rss_bytes": memory, "qps": rate, "found": found}


RUNNERS = {"takedown": run_ours, "PDQIndex (HMA)": run_pdqindex, "faiss IndexBinaryFlat": run_flat}


def in_child(name: str, n: int, clustered: bool) -> dict:
    """Build and query one index in a fresh process, so its memory is its own."""
    words = make_bank(n, clustered)
    queries = planted(words, np.random.default_rng(n))
    result = RUNNERS[name](words, queries)
    result["found"] = [sorted(f) for f in result["found"]]
    return result


def check(found: list[set[int]], queries: list[tuple[str, int, int]], expected: list[set[int]]):
    planted_hits = sum(t in f for f, (_, t, d) in zip(found, queries, strict=True) if d <= 31)
    near_misses = sum(t in f for f, (_, t, d) in zip(found, queries, strict=True) if d > 31)
    exact = all(f == e for f, e in zip(found, expected, strict=True))
    return planted_hits / (QUERIES // 2), near_misses, exact


def main() -> None:
    import faiss

    faiss.omp_set_num_threads(1)
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
            for name in RUNNERS:
                context = multiprocessing.get_context("spawn")
                with ProcessPoolExecutor(1, mp_context=context) as pool:
                    result = pool.submit(in_child, name, n, clustered).result()
                found = [set(f) for f in result.pop("found")]
                recall, misses, exact = check(found, queries, expected)
                rows.append(
                    {
                        "bank": label,
                        "index": name,
                        **result,
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
