"""Signal types as plug-ins: each declares, once, everything the rest of the code asks of it.

A signal type (``SignalType``: ``pdq``, ``md5``, ``sha256``, ``video_md5``, ``vpdq``, stable
names as rows, settings and files store them) is a ``Signal``: how its value is checked and
written (``normalize``), how its entries are indexed (``indexing``: exact values, PDQ within a
distance, whole videos by vPDQ's rule), its default distance, which value an upload has for it
(``of_upload``) and which column of the content registry holds that value (for retroactive
matching), and its names in the exchanges' formats (NCMEC, StopNCII, ThreatExchange,
python-threatexchange's files). Code that needs one of these asks ``SIGNALS[t]`` rather than
branching on the type; a new type (a text hash, say) is one entry here and its index.
``TAKEDOWN_SIGNAL_TYPES`` says which are on in a process (``enabled``).
Pure: no SQL, no HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from takedown.matching.banks import InvalidSignal, SignalType
from takedown.media import ImageHashes, VideoHashes

_HEX = re.compile(r"^[0-9a-f]+$")


class Indexing(StrEnum):
    exact = "exact"  # equal values
    near = "near"  # PDQ within a distance (a bank's own, else the type's default)
    video = "video"  # a whole video's frames, by vPDQ's rule (``matching.vpdq``)


Upload = ImageHashes | VideoHashes


@dataclass(frozen=True)
class Signal:
    type: SignalType
    indexing: Indexing
    hex_digits: int  # the value's length in hex (a vPDQ entry's value is its frames' SHA-256)
    default_threshold: int = 0
    of_upload: Callable[[Upload], str | None] = field(default=lambda _: None)
    registry_column: str | None = None  # the content registry's column with this value
    # exchange → its names for the type: the first is what takedown writes, all are read
    names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def normalize(self, value: str) -> str:
        """Lower-case hex of the right length, or ``InvalidSignal`` saying what is wrong."""
        cleaned = value.strip().lower()
        if len(cleaned) != self.hex_digits or not _HEX.match(cleaned):
            raise InvalidSignal(
                f"a {self.type} hash is {self.hex_digits} hex digits; got {value[:80]!r}"
            )
        return cleaned


def _pdq_of(upload: Upload) -> str | None:
    return upload.pdq.hex if isinstance(upload, ImageHashes) else None


SIGNALS: dict[SignalType, Signal] = {
    SignalType.pdq: Signal(
        SignalType.pdq,
        Indexing.near,
        64,
        default_threshold=31,
        of_upload=_pdq_of,
        registry_column="pdq",
        names={
            "pytx": ("pdq",),
            "stopncii": ("ImagePDQ",),
            "ncmec": ("image:pdq",),
            "ncmec_feedback": ("PDQ",),
            "threatexchange": ("HASH_PDQ",),
        },
    ),
    SignalType.md5: Signal(
        SignalType.md5,
        Indexing.exact,
        32,
        of_upload=lambda u: u.md5,
        registry_column="md5",
        names={
            "pytx": ("md5", "photo_md5"),
            "ncmec": ("image:md5",),
            "ncmec_feedback": ("MD5",),
            "threatexchange": ("HASH_MD5",),
        },
    ),
    SignalType.sha256: Signal(
        SignalType.sha256,
        Indexing.exact,
        64,
        of_upload=lambda u: u.sha256,
        registry_column="sha256",
        names={"pytx": ("sha256",)},
    ),
    # The exchanges' name for a video file's MD5: the same bytes' MD5, looked up for every
    # upload (a file with those bytes is that file, whatever it is called).
    SignalType.video_md5: Signal(
        SignalType.video_md5,
        Indexing.exact,
        32,
        of_upload=lambda u: u.md5,
        registry_column="md5",
        names={
            "pytx": ("video_md5",),
            "stopncii": ("VideoMD5",),
            "ncmec": ("video:md5",),
            "ncmec_feedback": ("MD5",),
            "threatexchange": ("HASH_VIDEO_MD5",),
        },
    ),
    SignalType.vpdq: Signal(
        SignalType.vpdq, Indexing.video, 64, default_threshold=31, names={"pytx": ("vpdq",)}
    ),
}


def normalize(signal_type: SignalType, value: str) -> str:
    """``value`` checked and written as ``signal_type`` stores it (``Signal.normalize``)."""
    return SIGNALS[signal_type].normalize(value)


def from_exchange(exchange: str, name: str) -> SignalType | None:
    """The signal type an exchange calls ``name`` (None: one takedown does not match)."""
    for signal in SIGNALS.values():
        if name in signal.names.get(exchange, ()):
            return signal.type
    return None


def name_in(exchange: str, signal_type: SignalType) -> str | None:
    """What ``exchange`` calls ``signal_type`` (None: it has no name for it)."""
    names = SIGNALS[signal_type].names.get(exchange)
    return names[0] if names else None


def upload_values(
    upload: Upload, enabled: Iterable[SignalType] | None = None
) -> dict[SignalType, str]:
    """An upload's value for each signal type that has one (and is on)."""
    on = set(SIGNALS) if enabled is None else set(enabled)
    values = {}
    for signal_type, signal in SIGNALS.items():
        value = signal.of_upload(upload) if signal_type in on else None
        if value:
            values[signal_type] = value
    return values


def registry_values(row: Mapping[str, str]) -> dict[SignalType, str]:
    """A registered item's value for each signal type, from its registry columns."""
    return {
        t: row[s.registry_column]
        for t, s in SIGNALS.items()
        if s.registry_column and row.get(s.registry_column)
    }


def parse_enabled(text: str) -> frozenset[SignalType]:
    """``TAKEDOWN_SIGNAL_TYPES``: comma-separated names; empty: all. Raises ``ValueError``
    naming an unknown one."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        return frozenset(SIGNALS)
    unknown = [n for n in names if n not in SignalType.__members__]
    if unknown:
        raise ValueError(f"unknown signal types {unknown}; known: {', '.join(SignalType)}")
    return frozenset(SignalType(n) for n in names)
