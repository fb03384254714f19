"""``takedown hash``: hash files from the shell, one JSON line each."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from takedown.media import (
    ImageHashes,
    ImageLimits,
    MediaError,
    NotMedia,
    VideoHashes,
    VideoLimits,
    hash_image,
    hash_video,
)
from takedown.media.video import format_vpdq

err = Console(stderr=True, soft_wrap=True)
Line = dict[str, Any]
PROGRESS_FROM = 20  # files; fewer finish before a bar would be worth drawing


def progress_bar(total: int, label: str, *, worth_from: int) -> Progress:
    """A bar on standard error for long runs in a terminal (off for short runs and pipes)."""
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=total < worth_from or not err.is_terminal,
        transient=True,
    )
    progress.add_task(label, total=total)
    return progress


def hash_file(path: str, limits: ImageLimits | None = None) -> ImageHashes | VideoHashes | Line:
    """Hash one file (an image, else a video); a failure comes back as its error line
    (``error`` and ``code``), never raised."""
    limits = limits or ImageLimits()
    try:
        size = os.stat(path).st_size
        if size > limits.max_bytes:
            return {
                "path": path,
                "code": "too_large",
                "error": f"the file is {size} bytes; the limit is {limits.max_bytes}",
            }
        with open(path, "rb") as f:
            data = f.read()
        try:
            return hash_image(data, limits)
        except NotMedia:
            try:
                return hash_video(data, VideoLimits(max_bytes=limits.max_bytes))
            except NotMedia as exc:
                raise NotMedia("the file is not an image or a video of a known format") from exc
    except MediaError as exc:
        return {"path": path, "code": exc.code, "error": exc.message}
    except OSError as exc:
        return {"path": path, "code": "unreadable", "error": exc.strerror or str(exc)}


def line_of(path: str, hashes: ImageHashes | VideoHashes) -> Line:
    """A file's JSON line. Images give ``pdq`` and ``quality`` (and ``truncated`` when the
    data ended early); videos give ``kind: video``, ``duration`` and ``frames`` (one PDQ
    about every second, with its time ``t``)."""
    if isinstance(hashes, VideoHashes):
        return {
            "path": path,
            "kind": "video",
            "md5": hashes.md5,
            "sha256": hashes.sha256,
            "duration": round(hashes.duration, 3),
            "frames": [
                {"t": f.timestamp, "pdq": f.pdq.hex, "quality": f.pdq.quality}
                for f in hashes.frames
            ],
        }
    line: Line = {
        "path": path,
        "pdq": hashes.pdq.hex,
        "quality": hashes.pdq.quality,
        "md5": hashes.md5,
        "sha256": hashes.sha256,
    }
    if hashes.truncated:
        line["truncated"] = True
    return line


def hash_path(path: str, limits: ImageLimits | None = None) -> Line:
    """``hash_file`` as its JSON line."""
    hashes = hash_file(path, limits)
    return hashes if isinstance(hashes, dict) else line_of(path, hashes)


def _results(paths: list[str], jobs: int) -> Iterator[dict[str, Any]]:
    if jobs <= 1 or len(paths) < 2:
        yield from map(hash_path, paths)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        yield from pool.map(hash_path, paths, chunksize=max(1, min(32, len(paths) // (4 * jobs))))


def hash_command(
    files: Annotated[list[Path], typer.Argument(help="Image files to hash.")],
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", min=0, help="Processes to use; 0 means one per core.")
    ] = 1,
    vpdq: Annotated[
        bool,
        typer.Option(
            "--vpdq",
            help="Print each video's vPDQ hash in Meta's file format "
            "(a frame a line: its number, quality, PDQ hash and time, comma-separated), as "
            "`takedown bank import` reads it.",
        ),
    ] = False,
) -> None:
    """Print {"path", "pdq", "quality", "md5", "sha256"} per file as JSON lines, in order.

    A file that cannot be hashed gets a line with "error" and "code" instead, and the exit
    status is 1. A progress bar is drawn on standard error for long runs in a terminal.
    """
    if vpdq:
        _print_vpdq([str(p) for p in files])
        return
    paths = [str(p) for p in files]
    jobs = jobs or os.cpu_count() or 1
    failed = 0
    with progress_bar(len(paths), "hashing", worth_from=PROGRESS_FROM) as progress:
        for line in _results(paths, jobs):
            failed += "error" in line
            typer.echo(json.dumps(line))
            progress.advance(progress.task_ids[0])
    if failed:
        err.print(f"{failed} of {len(paths)} file(s) could not be hashed")
        raise typer.Exit(1)


def _print_vpdq(paths: list[str]) -> None:
    """Each video's frames in Meta's vPDQ file format; a file that is not a video (or cannot be
    hashed) is named on standard error, and the exit status is 1."""
    failed = 0
    for path in paths:
        hashes = hash_file(path)
        if isinstance(hashes, VideoHashes):
            frames = [(f.frame, f.pdq.quality, f.pdq.hex, f.timestamp) for f in hashes.frames]
            typer.echo(format_vpdq(frames), nl=False)
            continue
        failed += 1
        why = hashes["error"] if isinstance(hashes, dict) else "an image, not a video"
        err.print(f"{path}: {why}")
    if failed:
        raise typer.Exit(1)
