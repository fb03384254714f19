"""Hashing speed: images per second on JPEGs of 0.3–12 MP, one core, against the anchor.

Anchor: ``pdqhash`` (Meta's C++ PDQ, as python-threatexchange and HMA use it) after a full
Pillow decode to RGB — what platforms run today. Also measured: libjpeg's reduced-scale luma
decode alone, the floor for our path (how close we are to the decoder's own limit).
Conformance on the same images is printed beside the speed: bits apart from the anchor.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pdqhash
import skimage
from PIL import Image
from rich.console import Console
from rich.table import Table

from takedown.media import distance, hash_image
from takedown.media.images import MIN_SHORT_SIDE
from takedown.media.pdq import bits_to_hex

OUT = Path(__file__).resolve().parent / "results"
DATA = os.path.join(os.path.dirname(skimage.__file__), "data")
PHOTOS = [
    "astronaut.png",
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "retina.jpg",
]
MEGAPIXELS = [0.3, 1, 2, 5, 8, 12]
console = Console(stderr=True)


def corpus() -> list[tuple[str, float, bytes]]:
    items = []
    for name in PHOTOS:
        src = Image.open(os.path.join(DATA, name)).convert("RGB")
        for mp in MEGAPIXELS:
            f = (mp * 1e6 / (src.width * src.height)) ** 0.5
            im = src.resize((round(src.width * f), round(src.height * f)), Image.LANCZOS)
            out = io.BytesIO()
            im.save(out, "JPEG", quality=90)
            items.append((name, mp, out.getvalue()))
    return items


def anchor(data: bytes) -> str:
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    vector, _ = pdqhash.compute(rgb)
    return bits_to_hex(vector[::-1].astype(np.uint8))


def ours(data: bytes) -> str:
    return hash_image(data).pdq.hex


def decode_only(data: bytes) -> None:
    """libjpeg at the scale our path picks, luma only: nothing PDQ-specific."""
    im = Image.open(io.BytesIO(data))
    short = min(im.size)
    scale = 1
    while scale < 8 and short // (scale * 2) >= MIN_SHORT_SIDE:
        scale *= 2
    im.draft("L", (-(-im.width // scale), -(-im.height // scale)))
    im.load()


def seconds_per_call(fn: Callable[[bytes], object], data: bytes, budget: float) -> float:
    fn(data)
    runs = []
    deadline = time.perf_counter() + budget
    while time.perf_counter() < deadline or len(runs) < 3:
        t = time.perf_counter()
        fn(data)
        runs.append(time.perf_counter() - t)
    return statistics.median(runs)


def main() -> None:
    budget = float(os.environ.get("BENCH_SECONDS_PER_IMAGE", "0.4"))
    console.print("hashing: building the corpus …")
    items = corpus()
    rows = []
    for name, mp, data in items:
        ref = anchor(data)
        rows.append(
            {
                "photo": name,
                "megapixels": mp,
                "anchor_s": seconds_per_call(anchor, data, budget),
                "ours_s": seconds_per_call(ours, data, budget),
                "decode_s": seconds_per_call(decode_only, data, budget),
                "bits_apart": distance(ours(data), ref),
            }
        )
    table = Table(title="PDQ hashing, one core: images per second")
    for col in (
        "megapixels",
        "pdqhash + full decode",
        "takedown",
        "speed-up",
        "decode alone",
        "takedown / decode",
        "bits apart (mean, max)",
    ):
        table.add_column(col, justify="right")
    summary: dict[str, object] = {}
    groups = [(str(mp), [r for r in rows if r["megapixels"] == mp]) for mp in MEGAPIXELS]
    groups.append(("2–12", [r for r in rows if r["megapixels"] >= 2]))
    groups.append(("all", rows))
    for label, group in groups:
        a = sum(r["anchor_s"] for r in group)
        o = sum(r["ours_s"] for r in group)
        d = sum(r["decode_s"] for r in group)
        bits = [r["bits_apart"] for r in group]
        summary[label] = {
            "anchor_ips": len(group) / a,
            "ours_ips": len(group) / o,
            "speedup": a / o,
            "decode_ips": len(group) / d,
            "ours_share_of_decode_floor": d / o,
            "bits_mean": float(np.mean(bits)),
            "bits_max": int(max(bits)),
        }
        table.add_row(
            label,
            f"{len(group) / a:.1f}",
            f"{len(group) / o:.1f}",
            f"{a / o:.1f}×",
            f"{len(group) / d:.1f}",
            f"{d / o:.0%}",
            f"{np.mean(bits):.2f}, {max(bits)}",
        )
    Console().print(table)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "hashing.json").write_text(json.dumps({"summary": summary, "images": rows}, indent=2))
    console.print(f"written to {OUT / 'hashing.json'}")
