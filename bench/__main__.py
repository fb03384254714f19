"""``make bench`` (``python -m bench [NAME…]``): every benchmark, or those named.

Each prints a table and writes ``bench/results/NAME.json``. Work runs on one core (BLAS and
OpenMP threads are pinned to 1 before numpy loads) so figures compare per core.
"""

from __future__ import annotations

import os
import sys

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

BENCHES = (
    "hashing",
    "index",
    "scan_http",
    "foundation",
    "intake",
    "intake_instructions",
    "case_media",
    "review",
    "enforcement",
    "filing",
    "exchange_sync",
    "video_hashing",
    "chaos",
    "cluster_throughput",
    "bank_restart",
    "registry_search",
    "case_search",
    "transparency",
)


def main() -> None:
    names = sys.argv[1:] or list(BENCHES)
    unknown = set(names) - set(BENCHES)
    if unknown:
        raise SystemExit(f"unknown benchmark(s) {sorted(unknown)}; choose from {BENCHES}")
    import importlib

    for name in names:
        importlib.import_module(f"bench.{name}").main()


main()
