"""PDQ agrees with Meta's references: exactly on the same luma, within Meta's tolerance on
their test images, and closely on a corpus of sample photos hashed the fast way."""

import csv
from pathlib import Path

import numpy as np
import pdqhash
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageOps

from takedown.media import distance, hash_image, hash_luma
from takedown.media.pdq import (
    _apply_box_transpose,
    _box_matrix,
    axis_weights,
    bits_to_hex,
    dct_matrix,
    hex_to_bits,
    window_size,
)
from tests.media_support import PHOTOS, at_megapixels, encode, photo, reference_pdq

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "pdq-reference"
if not REFERENCE.exists():  # CI lays shared/ beside the clone
    REFERENCE = Path.cwd().parent / "shared" / "pdq-reference"
META_TOLERANCE = 16  # what Meta's own cross-implementation test accepts


def reference_rows():
    with open(REFERENCE / "expected.csv") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("row", reference_rows(), ids=lambda r: r["file"])
def test_within_16_bits_of_both_meta_references(row):
    result = hash_image((REFERENCE / "images" / row["file"]).read_bytes())
    for column in ("reference_cpp", "reference_python"):
        if row[column]:
            assert distance(result.pdq.hex, row[column]) <= META_TOLERANCE, column


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(64, 900),
    cols=st.integers(64, 900),
    name=st.sampled_from(PHOTOS),
    crop=st.tuples(st.floats(0, 0.3), st.floats(0, 0.3)),
)
def test_matrix_form_equals_meta_cpp_on_the_same_luma(rows, cols, name, crop):
    # From 64 pixels up. Below, PDQ samples repeat pixels, many DCT coefficients are exactly
    # tied and float rounding decides their bits in any implementation (such hashes are weak).
    source = photo(name)
    left, top = int(crop[0] * source.width), int(crop[1] * source.height)
    rgb = np.asarray(source.crop((left, top, source.width, source.height)).resize((cols, rows)))
    luma = (rgb[:, :, 0] * 0.299 + rgb[:, :, 1] * 0.587 + rgb[:, :, 2] * 0.114).astype("float32")
    reference, quality = pdqhash.compute_float(rgb)
    reference = reference[::-1].reshape(16, 16)
    image64 = axis_weights(rows) @ luma @ axis_weights(cols).T
    ours = dct_matrix() @ image64.astype(np.float32) @ dct_matrix().T
    # The same numbers up to float32 rounding (coefficients run to the thousands).
    assert np.abs(ours - reference).max() <= 1e-5 * np.abs(reference).max() + 1e-3
    vector, _ = pdqhash.compute(rgb)
    assert distance(hash_luma(luma).hex, bits_to_hex(vector[::-1].astype(np.uint8))) <= 2
    assert abs(hash_luma(luma).quality - quality) <= 1


def test_weights_are_rows_of_meta_box_filters():
    # Each row sums to 1 (a weighted mean) and is centred on its sample position.
    for n in (5, 64, 1000, 4033):
        w = axis_weights(n)
        assert w.shape == (64, n)
        assert np.allclose(w.sum(axis=1), 1.0)
        centres = (w * np.arange(n)).sum(axis=1)
        assert np.all(np.diff(centres) >= 0) and (n < 64 or np.all(np.diff(centres) > 0))
    assert window_size(1000) == 8 and window_size(10) == 1


@given(n=st.integers(1, 400), window=st.integers(1, 40), seed=st.integers(0, 1000))
def test_prefix_sum_box_equals_meta_box_filter_matrix(n, window, seed):
    window = min(window, n)
    v = np.random.default_rng(seed).random((3, n))
    assert np.allclose(_apply_box_transpose(v, window), v @ _box_matrix(n, window))


def test_hex_round_trip():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2, 256).astype(np.uint8)
    assert np.array_equal(hex_to_bits(bits_to_hex(bits)), bits)


@pytest.fixture(scope="module")
def corpus():
    """Sample photos at 0.3, 2 and 12 megapixels, JPEG quality 90."""
    items = []
    for name in PHOTOS:
        for mp in (0.3, 2, 12):
            data = encode(at_megapixels(photo(name), mp), quality=90)
            items.append((f"{name}@{mp}MP", data, *reference_pdq(data)))
    return items


def test_fast_path_stays_close_to_meta_on_a_full_decode(corpus):
    distances = []
    for label, data, ref_hex, ref_quality in corpus:
        ours = hash_image(data)
        d = distance(ours.pdq.hex, ref_hex)
        distances.append(d)
        if ref_quality >= 80:
            assert d <= 8, label
    assert np.mean(distances) <= 2, distances


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_before_hashing(orientation):
    shown = at_megapixels(photo("coffee.png"), 2)
    # Store the pixels so that applying the EXIF orientation shows `shown` again.
    inverse = {
        1: None,
        2: Image.FLIP_LEFT_RIGHT,
        3: Image.ROTATE_180,
        4: Image.FLIP_TOP_BOTTOM,
        5: Image.TRANSPOSE,
        6: Image.ROTATE_90,
        7: Image.TRANSVERSE,
        8: Image.ROTATE_270,
    }[orientation]
    stored = shown.transpose(inverse) if inverse is not None else shown
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = encode(stored, quality=92, exif=exif.tobytes())
    with Image.open(__import__("io").BytesIO(data)) as check:
        assert np.asarray(ImageOps.exif_transpose(check)).shape[:2] == (shown.height, shown.width)
    ours = hash_image(data)
    assert (ours.width, ours.height) == shown.size
    ref_hex, _ = reference_pdq(data)
    assert distance(ours.pdq.hex, ref_hex) <= 8
    upright = hash_image(encode(shown, quality=92))
    assert distance(ours.pdq.hex, upright.pdq.hex) <= 8


@pytest.fixture(scope="module")
def low_quality_corpus():
    """Nearly flat versions of the sample photos (contrast cut to 2% and 5%), PDQ quality
    0-19, at 0.3, 2 and 12 megapixels: their few gradients are what a reduced decode moves."""
    items = []
    for name in PHOTOS:
        for mp in (0.3, 2, 12):
            rgb = np.asarray(at_megapixels(photo(name), mp)).astype(np.float32)
            for contrast in (0.02, 0.05):
                flat = (128 + (rgb - rgb.mean()) * contrast).clip(0, 255).astype(np.uint8)
                data = encode(Image.fromarray(flat), quality=90)
                items.append((f"{name}@{mp}MP×{contrast}", data, *reference_pdq(data)))
    return items


def test_low_quality_images_hash_within_tolerance_of_pdqhash(low_quality_corpus):
    for label, data, ref_hex, ref_quality in low_quality_corpus:
        assert ref_quality < 50, label
        ours = hash_image(data)
        assert distance(ours.pdq.hex, ref_hex) <= 8, label
        assert abs(ours.pdq.quality - ref_quality) <= 2, label


@pytest.mark.parametrize("name", PHOTOS)
def test_the_mirrored_and_rotated_variants_are_meta_s_and_match_the_transformed_image(name):
    """The seven variants come from the one DCT, as Meta's ``compute_dihedral`` computes them
    (the same eight hashes, up to float rounding, on the same pixels), and each mirrored or
    rotated picture, encoded anew and hashed on the fast path, lands within a bank's default
    threshold of one variant and far from the others."""
    from takedown.matching.banks import DEFAULT_PDQ_THRESHOLD

    image = at_megapixels(photo(name), 0.5).convert("RGB")
    rgb = np.asarray(image)
    luma = (rgb[:, :, 0] * 0.299 + rgb[:, :, 1] * 0.587 + rgb[:, :, 2] * 0.114).astype("float32")
    ours = hash_luma(luma)
    assert len(ours.variants) == 7
    vectors, _ = pdqhash.compute_dihedral(rgb)
    reference = [bits_to_hex(v[::-1].astype(np.uint8)) for v in vectors]
    for hashed in reference:  # each of Meta's eight is one of ours, within float rounding
        assert min(distance(hashed, v) for v in (ours.hex, *ours.variants)) <= 2
    whole = hash_image(encode(image, quality=95)).pdq
    for op in (
        Image.Transpose.FLIP_LEFT_RIGHT,
        Image.Transpose.FLIP_TOP_BOTTOM,
        Image.Transpose.ROTATE_90,
        Image.Transpose.ROTATE_180,
        Image.Transpose.ROTATE_270,
        Image.Transpose.TRANSPOSE,
        Image.Transpose.TRANSVERSE,
    ):
        turned = hash_image(encode(image.transpose(op), quality=95)).pdq
        distances = sorted(distance(turned.hex, v) for v in whole.variants)
        assert distances[0] <= DEFAULT_PDQ_THRESHOLD < 64 < distances[1], op
        assert abs(turned.quality - whole.quality) <= 2
