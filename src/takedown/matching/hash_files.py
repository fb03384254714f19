"""Reading hash lists from files: our CSV and python-threatexchange's exports.

Formats, told apart by the first line:

- ``signal_type,value[,note]`` (a header line with those words is optional);
- python-threatexchange ``dataset -P --csv``: header
  ``signal_type,signal_str,collab,category,tags``;
- python-threatexchange ``dataset -P``: ``<signal_type> <signal> ['collab' metadata]`` per line;
- a video's vPDQ hash in Meta's file format (what its ``vpdq`` tools write):
  ``frame_number,quality,pdq_hex,timestamp`` per frame, read as one ``vpdq`` signal: the video,
  matched by vPDQ's own rule (``matching.vpdq``).

Their signal type names map onto ours (``photo_md5`` is an MD5).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from takedown.matching.signals import from_exchange


def _our_name(name: str) -> str:
    """Our signal type's name for a python-threatexchange one (``photo_md5`` is ``md5``);
    a name neither knows stays as it is, to be named invalid."""
    found = from_exchange("pytx", name.strip().lower())
    return found.value if found is not None else name.strip()


@dataclass(frozen=True)
class ListedSignal:
    line: int
    signal_type: str
    value: str
    note: str = ""


_VPDQ_LINE = re.compile(r"^\s*(\d+),(\d{1,3}),([0-9a-fA-F]{64}),(\d+(?:\.\d+)?)\s*$")


def parse_hash_list(text: str) -> list[ListedSignal]:
    """Every signal line of a file (blank lines and comments skipped), not yet validated."""
    lines = text.splitlines()
    first = next((line for line in lines if line.strip() and not line.startswith("#")), "")
    if _VPDQ_LINE.match(first):
        return _vpdq(lines)
    header = [c.strip().lower() for c in first.split(",")]
    if header[:2] == ["signal_type", "signal_str"]:
        return _csv(text, value_column=1, note_columns=(2, 3, 4), skip_header=True)
    if "," in first:
        return _csv(
            text,
            value_column=1,
            note_columns=(2,),
            skip_header=header[:2] == ["signal_type", "value"],
        )
    out = []
    for number, line in enumerate(lines, start=1):
        parts = line.split(maxsplit=2)
        if not parts or line.startswith("#"):
            continue
        kind = _our_name(parts[0])
        value = parts[1] if len(parts) > 1 else ""
        out.append(ListedSignal(number, kind, value, parts[2] if len(parts) > 2 else ""))
    return out


def _vpdq(lines: list[str]) -> list[ListedSignal]:
    """A vPDQ file: one ``vpdq`` signal, the video, from its frame lines; a line that is not a
    frame stays a signal with its text as the value, so it is named as invalid instead of
    dropped."""
    out = []
    frames: list[str] = []
    first = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip() or line.startswith("#"):
            continue
        if _VPDQ_LINE.match(line) is None:
            out.append(ListedSignal(number, "pdq", line.strip(), "not a vPDQ frame line"))
            continue
        first = first or number
        frames.append(line.strip())
    if frames:
        note = f"a video's vPDQ hash, {len(frames)} frames"
        out.insert(0, ListedSignal(first, "vpdq", "\n".join(frames), note))
    return out


def _csv(
    text: str, *, value_column: int, note_columns: tuple[int, ...], skip_header: bool
) -> list[ListedSignal]:
    out = []
    reader = csv.reader(io.StringIO(text))
    for row in reader:
        number = reader.line_num
        if skip_header:
            skip_header = False
            continue
        if not row or not "".join(row).strip() or row[0].startswith("#"):
            continue
        kind = _our_name(row[0])
        value = row[value_column].strip() if len(row) > value_column else ""
        note = " ".join(row[i] for i in note_columns if i < len(row) and row[i]).strip()
        out.append(ListedSignal(number, kind, value, note))
    return out
