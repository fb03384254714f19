"""Decoding under limits: every broken file gets its own clear, typed error."""

import contextlib
import io
import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from takedown.media import (
    Corrupt,
    ImageLimits,
    MediaError,
    NotMedia,
    TooLarge,
    TooSmall,
    UnsupportedFormat,
    distance,
    hash_image,
    hash_video,
    rendition,
)
from takedown.media.images import DecodeTimeout, decode_luma
from tests.media_support import at_megapixels, encode, photo


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int, idat: bytes = b"") -> bytes:
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def png_bomb() -> bytes:
    """30000×30000 of zeros: a few hundred KB compressed, 900 MB decoded."""
    row = b"\x00" + b"\x00" * 30000
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(30000)) + compressor.flush()
    return png_declaring(30000, 30000, idat)


JPEG = encode(at_megapixels(photo("astronaut.png"), 0.5), quality=85)

BROKEN = {
    "zero bytes": (b"", NotMedia),
    "random bytes": (
        bytes(np.random.default_rng(1).integers(0, 256, 5000, dtype=np.uint8)),
        NotMedia,
    ),
    "text file": (b"just some words, not a picture\n" * 20, NotMedia),
    "png decompression bomb": (png_bomb(), TooLarge),
    "huge declared size": (png_declaring(200_000, 200_000), TooLarge),
    "video that is not a video": (b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200, NotMedia),
    "unsupported format": (encode(Image.new("RGB", (32, 32)), "ICO"), UnsupportedFormat),
    "tiny image": (encode(Image.new("RGB", (4, 4)), "PNG"), TooSmall),
    "damaged png data": (png_declaring(64, 64, b"not zlib at all"), Corrupt),
    # FFmpeg reads it as a video stream it has no decoder for (no codec context).
    "svg": (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="90" height="90">'
        b'<rect width="90" height="90" fill="red"/></svg>',
        UnsupportedFormat,
    ),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_each_broken_file_gets_its_own_clear_error(name):
    data, expected = BROKEN[name]
    with pytest.raises(expected) as info:
        try:  # as every path does: an image, else a video
            hash_image(data)
        except NotMedia:
            hash_video(data)
    assert info.value.message and info.value.code != "media_error"


BIG_JPEG = encode(at_megapixels(photo("astronaut.png"), 12), quality=85)


@pytest.mark.parametrize("data", [JPEG, BIG_JPEG], ids=["0.5MP", "12MP"])
@pytest.mark.parametrize("cut", [2, "90%", "50%"])
def test_a_truncated_jpeg_is_hashed_as_a_browser_shows_it(data, cut):
    whole = hash_image(data)
    keep = len(data) - cut if isinstance(cut, int) else len(data) * int(cut[:-1]) // 100
    result = hash_image(data[:keep])
    assert (result.width, result.height) == (whole.width, whole.height)
    assert result.md5 != whole.md5 and not whole.truncated
    if cut == 2:  # only the end-of-image marker is missing: the same picture
        assert distance(result.pdq.hex, whole.pdq.hex) <= 4
    else:
        assert result.truncated


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF"])
def test_every_format_cut_short_is_hashed_or_refused_clearly(fmt):
    data = encode(at_megapixels(photo("coffee.png"), 0.5), fmt)
    for keep in (0.99, 0.9, 0.5, 0.1):
        cut = data[: int(len(data) * keep)]
        try:
            result = hash_image(cut)
        except MediaError as exc:
            assert exc.code != "media_error"
            continue
        assert result.truncated or fmt in ("BMP", "TIFF"), (fmt, keep)


def test_byte_limit_is_checked_before_parsing():
    with pytest.raises(TooLarge, match="limit is 1000"):
        hash_image(JPEG, ImageLimits(max_bytes=1000))


def test_pixel_limit_refuses_before_decoding():
    with pytest.raises(TooLarge, match="pixels"):
        hash_image(JPEG, ImageLimits(max_pixels=1000))


def test_time_limit_stops_a_slow_decode():
    big = encode(at_megapixels(photo("coffee.png"), 12), "PNG")
    with pytest.raises(DecodeTimeout):
        decode_luma(big, ImageLimits(max_seconds=0.0))


@pytest.mark.parametrize(
    "fmt,options",
    [
        ("JPEG", {"quality": 90}),
        ("PNG", {}),
        ("GIF", {}),
        ("WEBP", {"quality": 90}),
        ("BMP", {}),
        ("TIFF", {}),
    ],
)
def test_every_accepted_format_hashes_near_the_same_photo(fmt, options):
    source = at_megapixels(photo("chelsea.png"), 1.5)
    reference = hash_image(encode(source, "PNG"))
    result = hash_image(encode(source, fmt, **options))
    assert result.format == fmt and (result.width, result.height) == source.size
    assert distance(result.pdq.hex, reference.pdq.hex) <= 12  # GIF's palette costs a little
    assert len(result.md5) == 32 and len(result.sha256) == 64


def test_heic_photos_hash_like_their_source():
    from takedown.media.images import IMAGE_FORMATS

    if "HEIF" not in IMAGE_FORMATS:
        pytest.skip("pillow-heif has no wheel for this platform")
    source = at_megapixels(photo("coffee.png"), 1)
    result = hash_image(encode(source, "HEIF", quality=90))
    assert result.format == "HEIF"
    assert distance(result.pdq.hex, hash_image(encode(source, "PNG")).pdq.hex) <= 12


def test_modes_with_alpha_palette_and_16_bits_decode():
    base = at_megapixels(photo("coffee.png"), 0.8)
    reference = hash_image(encode(base, "PNG")).pdq
    sixteen_bit = Image.fromarray(np.asarray(base.convert("L")).astype(np.uint16) * 257)
    for image in (
        base.convert("RGBA"),
        base.convert("P"),
        base.convert("L"),
        base.convert("CMYK"),
        sixteen_bit,
    ):
        fmt = "JPEG" if image.mode == "CMYK" else "PNG"
        result = hash_image(encode(image, fmt)).pdq
        assert result.quality > 50
        assert distance(result.hex, reference.hex) <= 12, image.mode


def test_animated_gif_hashes_its_first_frame():
    a = at_megapixels(photo("astronaut.png"), 0.3)
    b = at_megapixels(photo("rocket.jpg"), 0.3).resize(a.size)
    out = io.BytesIO()
    a.save(out, "GIF", save_all=True, append_images=[b], duration=100)
    first = hash_image(out.getvalue())
    assert distance(first.pdq.hex, hash_image(encode(a, "GIF")).pdq.hex) <= 8


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=3000), cut=st.integers(0, len(JPEG)))
def test_fuzzed_and_cut_files_raise_only_media_errors(data, cut):
    for candidate in (data, JPEG[:cut], JPEG[:cut] + data):
        with contextlib.suppress(MediaError):
            hash_image(candidate)


def test_a_rendition_is_small_grayscale_blurred_and_refuses_what_scanning_refuses():
    source = Image.radial_gradient("L").resize((1024, 768)).convert("RGB")
    out = io.BytesIO()
    source.save(out, "PNG")
    shown = Image.open(io.BytesIO(rendition(out.getvalue(), blur_radius=24, grayscale=True)))
    assert shown.format == "JPEG" and shown.mode == "L" and max(shown.size) == 512
    for bad in (b"", b"not an image", out.getvalue()[:40]):
        with pytest.raises(MediaError):
            rendition(bad, blur_radius=24, grayscale=True)
