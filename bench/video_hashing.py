"""Video hashing against Meta's ``vpdq`` on the same clips, on one core: generated H.264 clips
of ``BENCH_VIDEO_SECONDS`` (default 20) seconds at 30 frames a second, at 1280×720 and
1920×1080. Both take one frame a second and hash it with PDQ (``vpdq.computeHash`` with
``seconds_per_hash=1`` and one thread; ours is ``media.hash_video``). The process is pinned to
one core, so neither gains from threads. Timed in alternating rounds (``BENCH_VIDEO_ROUNDS``,
default 3), medians reported. Goal: at least as fast as vpdq at both sizes. Each run also
checks that the two take the same frames and agree within 16 bits.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.intake import machine_speed

OUT = Path(__file__).resolve().parent / "results"
console = Console(stderr=True)
SECONDS = float(os.environ.get("BENCH_VIDEO_SECONDS", "20"))
ROUNDS = int(os.environ.get("BENCH_VIDEO_ROUNDS", "3"))
SIZES = ((1280, 720), (1920, 1080))


def main() -> None:
    try:
        import vpdq
    except ImportError:
        console.print("[yellow]vpdq is not installed (make video-reference): skipped[/yellow]")
        return
    from tests.media_support import video

    from takedown.media import hash_video
    from takedown.media.pdq import distance

    speed = machine_speed()
    os.sched_setaffinity(0, {0})
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for w, h in SIZES:
            data = video(seconds=SECONDS, fps=30, size=(w, h), codec="libx264", shift=3)
            path = Path(tmp) / f"clip-{w}x{h}.mp4"
            path.write_bytes(data)
            ours_t, theirs_t = [], []
            ours = theirs = None
            for _ in range(ROUNDS):
                start = time.perf_counter()
                ours = hash_video(data)
                ours_t.append(time.perf_counter() - start)
                start = time.perf_counter()
                theirs = vpdq.computeHash(str(path), seconds_per_hash=1, thread_count=1)
                theirs_t.append(time.perf_counter() - start)
            assert ours is not None and theirs is not None
            same_frames = len(ours.frames) == len(theirs)
            worst = max(
                (
                    distance(vpdq.hash_to_hex(a.hash), b.pdq.hex)
                    for a, b in zip(theirs, ours.frames, strict=False)
                ),
                default=0,
            )
            mine, meta = statistics.median(ours_t), statistics.median(theirs_t)
            rows.append(
                {
                    "size": f"{w}x{h}",
                    "frames_hashed": len(ours.frames),
                    "video_seconds": SECONDS,
                    "ours_s": mine,
                    "vpdq_s": meta,
                    "ratio": meta / mine,
                    "same_frames": same_frames,
                    "worst_distance": worst,
                }
            )
    table = Table(title=f"video hashing on one core: {SECONDS:.0f} s clips at 30 fps")
    for col in ("size", "frames", "takedown", "vpdq", "ratio (goal ≥ 1)", "agree"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["size"],
            str(r["frames_hashed"]),
            f"{r['ours_s']:.2f} s",
            f"{r['vpdq_s']:.2f} s",
            f"{r['ratio']:.2f}×",
            "yes" if r["same_frames"] and r["worst_distance"] <= 16 else "NO",
        )
    console.print(table)
    console.print(f"machine speed (ms, lower is faster): {speed}")
    OUT.mkdir(exist_ok=True)
    (OUT / "video_hashing.json").write_text(
        json.dumps({"rounds": ROUNDS, "machine_speed": speed, "runs": rows}, indent=2)
    )


if __name__ == "__main__":
    main()
