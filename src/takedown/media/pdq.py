"""PDQ, Meta's perceptual hash for photos, computed as two small matrix products.

PDQ (``facebook/ThreatExchange/pdq``) blurs the luma image with two passes of a box filter
along each axis (a "Jarosz" filter), samples it at 64×64 points, takes a 16×16 corner of its
DCT and thresholds each coefficient at the median: 256 bits. Every step before the DCT is
linear and separable, so the 64×64 image is ``Wr · Y · Wcᵀ`` where ``Wr`` (64×H) and ``Wc``
(64×W) depend only on the image size. They are computed once per size and cached.

That is what makes the fast path exact in its sample positions: when the decoder gives a
reduced image whose pixel ``b`` stands for a block of full-size pixels (a JPEG decoded at 1/s
scale, an image reduced by ``s``), the weights of the block's pixels are summed into one column
(``fold``), so the result is the full-size algorithm applied to a block-constant image — never
a 64×64 computed from a differently sampled small image.

Functions here take a luma array (float32, 0–255) and never decode; ``takedown.media.images``
does the decoding.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

HASH_BITS = 256
MIN_HASHABLE_DIM = 5
WEAK_QUALITY = 50
"""Hashes of lower quality are marked weak and never trigger an automatic action."""

FloatArray = NDArray[np.float32]


@dataclass(frozen=True)
class PdqHash:
    """A PDQ hash (64 hex digits, Meta's format) and its quality (0–100). ``variants``: the
    hashes the image would have mirrored or rotated (the seven other elements of the dihedral
    group, ``dihedral_variants``), where the hash was computed from the image; empty for a
    hash read from elsewhere."""

    hex: str
    quality: int
    variants: tuple[str, ...] = field(default=(), compare=False)

    @property
    def weak(self) -> bool:
        return self.quality < WEAK_QUALITY

    @property
    def bits(self) -> NDArray[np.uint8]:
        return hex_to_bits(self.hex)


def window_size(old_dimension: int, new_dimension: int = 64) -> int:
    """Meta's ``computeJaroszFilterWindowSize``: about old/(2·new), rounded up."""
    return (old_dimension + 2 * new_dimension - 1) // (2 * new_dimension)


def _box_matrix(n: int, window: int) -> NDArray[np.float64]:
    """The box filter of Meta's ``box1DFloat`` as an n×n matrix (row o averages its window).

    Output ``o`` averages inputs ``max(0, o + half - window) … min(n - 1, o + half - 1)`` with
    ``half = (window + 2) // 2``: a centred window, clipped and renormalised at the edges.
    """
    half = (window + 2) // 2
    o = np.arange(n)
    lo = np.maximum(0, o + half - window)
    hi = np.minimum(n - 1, o + half - 1)
    cols = np.arange(n)
    inside = (cols[None, :] >= lo[:, None]) & (cols[None, :] <= hi[:, None])
    matrix: NDArray[np.float64] = inside / (hi - lo + 1)[:, None]
    return matrix


def _sample_positions(n: int, out: int = 64) -> NDArray[np.intp]:
    """Meta's ``decimateFloat``: output i samples input ``int((i + 0.5) · n / out)``."""
    return ((np.arange(out) + 0.5) * n / out).astype(np.intp)


class _BytesCache:
    """A least-recently-used cache bounded by the bytes of the arrays it holds, not by their
    count: weights for a long side are large, and a cache bounded by count alone grew by
    hundreds of megabytes per distinct height. An array larger than the whole budget is made
    and returned, never kept."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[Hashable, NDArray[Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], NDArray[Any]]) -> NDArray[Any]:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
                return found
        made = make()
        made.setflags(write=False)
        with self._lock:
            if made.nbytes <= self.max_bytes and key not in self._items:
                self._items[key] = made
                self.bytes += made.nbytes
                while self.bytes > self.max_bytes:
                    _, old = self._items.popitem(last=False)
                    self.bytes -= old.nbytes
        return made

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.bytes = 0


_AXIS = _BytesCache(32 << 20)
_FOLDED = _BytesCache(32 << 20)
_ROWS_AT_ONCE = 8  # rows of the weights made together: bounds the working arrays to 8×n


def axis_weights(n: int) -> NDArray[np.float64]:
    """The 64×n matrix taking one axis of a full-size image to PDQ's 64 samples.

    Two Jarosz passes (box, box) then decimation: rows of ``S · B · B``. Each row is computed
    from the one-hot sample vector through two box filters applied as cumulative sums, so the
    cost is O(64·n), not O(n²), for large images; a few rows at a time, so the working
    arrays stay a small multiple of one row. Kept in a cache bounded by bytes.
    """
    return _AXIS.get(n, lambda: _axis_weights(n))


def _axis_weights(n: int) -> NDArray[np.float64]:
    window = window_size(n)
    positions = _sample_positions(n)
    weights = np.empty((64, n))
    for start in range(0, 64, _ROWS_AT_ONCE):
        rows = np.zeros((_ROWS_AT_ONCE, n))
        rows[np.arange(_ROWS_AT_ONCE), positions[start : start + _ROWS_AT_ONCE]] = 1.0
        for _ in range(2):
            rows = _apply_box_transpose(rows, window)
        weights[start : start + _ROWS_AT_ONCE] = rows
    return weights


def _apply_box_transpose(v: NDArray[np.float64], window: int) -> NDArray[np.float64]:
    """``v · B`` for each row of ``v``, where B is ``_box_matrix(n, window)``.

    ``(v·B)[j] = Σ_o v[o] / count(o) · [lo(o) ≤ j ≤ hi(o)]``. Both window ends grow with
    ``o``, so the outputs ``o`` whose window holds ``j`` form one run: a difference of prefix
    sums. O(rows·n).
    """
    n = v.shape[1]
    half = (window + 2) // 2
    o = np.arange(n)
    lo = np.maximum(0, o + half - window)
    hi = np.minimum(n - 1, o + half - 1)
    share = v / (hi - lo + 1)[None, :]
    prefix = np.concatenate([np.zeros((v.shape[0], 1)), np.cumsum(share, axis=1)], axis=1)
    first = np.searchsorted(hi, o, side="left")  # first output whose window reaches j
    last = np.searchsorted(lo, o, side="right")  # one past the last whose window starts ≤ j
    result: NDArray[np.float64] = prefix[:, last] - prefix[:, first]
    return result


def folded_weights(n: int, blocks: int, scale: int, reverse: bool) -> NDArray[np.float32]:
    """``axis_weights(n)`` with the columns of each decoded block summed (64×blocks).

    Decoded pixel ``b`` covers full-size pixels ``b·scale … b·scale + scale - 1`` (the last
    block may be short). ``reverse``: the axis was mirrored after decoding (EXIF orientation),
    so decoded pixel 0 is the block that held the *last* full-size pixels. Kept in a cache
    bounded by bytes.
    """
    return _FOLDED.get(
        (n, blocks, scale, reverse), lambda: _folded_weights(n, blocks, scale, reverse)
    )


def _folded_weights(n: int, blocks: int, scale: int, reverse: bool) -> NDArray[np.float32]:
    weights = axis_weights(n)
    starts = np.arange(0, n, scale)
    if len(starts) != blocks:
        raise ValueError(f"{n} pixels at scale 1/{scale} make {len(starts)} blocks, not {blocks}")
    if reverse:
        # Blocks are aligned to the far end of the mirrored axis: fold in decoded order,
        # then mirror the decoded columns back.
        folded = np.add.reduceat(weights[:, ::-1], starts, axis=1)[:, ::-1]
    else:
        folded = np.add.reduceat(weights, starts, axis=1)
    result: NDArray[np.float32] = np.ascontiguousarray(folded, dtype=np.float32)
    return result


@lru_cache(maxsize=1)
def dct_matrix() -> NDArray[np.float32]:
    """Meta's 16×64 DCT-II rows 1…16 (the DC row is skipped), scaled by sqrt(2/64)."""
    i = np.arange(1, 17)[:, None]
    j = np.arange(64)[None, :]
    matrix: NDArray[np.float32] = (
        np.sqrt(2.0 / 64.0) * np.cos(np.pi / 128.0 * i * (2 * j + 1))
    ).astype(np.float32)
    return matrix


def quality_of(image64: NDArray[np.floating]) -> int:
    """Meta's image-domain quality metric: summed gradients of the 64×64, scaled to 0–100."""
    a = image64.astype(np.float32)
    vertical = np.trunc((a[:-1, :] - a[1:, :]) * np.float32(100.0) / np.float32(255.0))
    horizontal = np.trunc((a[:, :-1] - a[:, 1:]) * np.float32(100.0) / np.float32(255.0))
    total = int(np.abs(vertical).sum() + np.abs(horizontal).sum())
    return min(total // 90, 100)


def _threshold(coefficients: NDArray[np.floating]) -> str:
    flat = coefficients.ravel()
    median = np.sort(flat)[(flat.size + 1) // 2 - 1]  # Meta's Torben median: the lower one
    bits = (flat > median).astype(np.uint8)  # bit k = row k//16, column k%16
    return bits_to_hex(bits)


# Mirroring an axis (x → 63 − x) multiplies the coefficient of frequency k by (−1)^k; the rows
# of the DCT kept are frequencies 1 … 16.
_MIRROR = np.where(np.arange(1, 17) % 2 == 1, -1.0, 1.0).astype(np.float32)


def dihedral_variants(coefficients: NDArray[np.floating]) -> tuple[str, ...]:
    """The hashes of the image mirrored or rotated, from its 16×16 DCT coefficients alone (as
    Meta's reference computes them): mirrored left to right, top to bottom, both (rotated a
    half turn), and those four transposed (the quarter turns and the diagonal mirrors). The
    quality is the same for all eight: it sums gradients along both axes."""
    c = coefficients.astype(np.float32)
    across, down = c * _MIRROR[None, :], c * _MIRROR[:, None]
    both = across * _MIRROR[:, None]
    return tuple(_threshold(v) for v in (across, down, both, c.T, across.T, down.T, both.T))


def hash_from_image64(image64: NDArray[np.floating]) -> PdqHash:
    """Hash a 64×64 PDQ-decimated image: DCT, median threshold, quality, and the seven
    mirrored and rotated variants."""
    dct = dct_matrix()
    coefficients = dct @ image64.astype(np.float32) @ dct.T  # 16×16
    return PdqHash(
        hex=_threshold(coefficients),
        quality=quality_of(image64),
        variants=dihedral_variants(coefficients),
    )


def hash_luma(luma: NDArray[np.floating]) -> PdqHash:
    """PDQ of a full-size luma image (H×W, 0–255). Raises ``ValueError`` below 5×5."""
    return hash_reduced_luma(luma, full_size=luma.shape, scale=1)


def hash_reduced_luma(
    luma: NDArray[np.floating],
    *,
    full_size: tuple[int, int],
    scale: int,
    reverse: tuple[bool, bool] = (False, False),
) -> PdqHash:
    """PDQ of an image of ``full_size`` (rows, cols) given as ``luma`` decoded at 1/``scale``.

    ``reverse`` says, per axis, that the decoded image was mirrored after decoding (so its
    blocks run backwards). With ``scale`` 1 this is exactly the full-size algorithm.
    """
    rows, cols = full_size
    if rows < MIN_HASHABLE_DIM or cols < MIN_HASHABLE_DIM:
        raise ValueError(f"image of {cols}×{rows} pixels is too small for PDQ (5×5 at least)")
    wr = folded_weights(rows, luma.shape[0], scale, reverse[0])
    wc = folded_weights(cols, luma.shape[1], scale, reverse[1])
    image64 = wr @ luma.astype(np.float32, copy=False) @ wc.T
    return hash_from_image64(image64)


def bits_to_hex(bits: NDArray[np.uint8]) -> str:
    """256 bits (bit k at index k) as Meta's 64 hex digits: 16-bit words w[15] … w[0]."""
    value = int.from_bytes(np.packbits(bits[::-1]).tobytes(), "big")
    return f"{value:064x}"


def hex_to_bits(value: str) -> NDArray[np.uint8]:
    if len(value) != 64:
        raise ValueError("a PDQ hash is 64 hex digits")
    raw = np.frombuffer(int(value, 16).to_bytes(32, "big"), dtype=np.uint8)
    return np.unpackbits(raw)[::-1].copy()


def distance(a: str, b: str) -> int:
    """Hamming distance between two hashes in hex."""
    return (int(a, 16) ^ int(b, 16)).bit_count()
