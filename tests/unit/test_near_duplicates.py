"""Altered copies of a photo still match it (PDQ distance ≤ 31); unrelated photos do not."""

import itertools

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFont

from takedown.media import distance, hash_image
from tests.media_support import PHOTOS, at_megapixels, encode, photo, reference_pdq

MATCH = 31


def captioned(image: Image.Image) -> Image.Image:
    """White text with a dark outline across the bottom, as a repost adds."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    font = ImageFont.load_default(size=max(12, out.height // 18))
    draw.text(
        (out.width // 20, out.height * 17 // 20),
        "when the weekend finally arrives",
        font=font,
        fill=(255, 255, 255),
        stroke_width=2,
        stroke_fill=(0, 0, 0),
    )
    return out


def watermarked(image: Image.Image) -> Image.Image:
    """A translucent logo and handle in a corner."""
    out = image.convert("RGBA")
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    w, h = out.size
    draw.ellipse((w * 0.86, h * 0.04, w * 0.94, h * 0.04 + w * 0.08), fill=(255, 255, 255, 45))
    font = ImageFont.load_default(size=max(10, h // 30))
    draw.text((w * 0.75, h * 0.93), "@someone", font=font, fill=(255, 255, 255, 90))
    return Image.alpha_composite(out, layer).convert("RGB")


VARIANTS = {
    "resized to half": lambda im: encode(im.resize((im.width // 2, im.height // 2))),
    "recompressed at quality 50": lambda im: encode(im, quality=50),
    "brightened": lambda im: encode(ImageEnhance.Brightness(im).enhance(1.3), quality=90),
    "captioned": lambda im: encode(captioned(im), quality=90),
    "watermarked": lambda im: encode(watermarked(im), quality=90),
    "png instead of jpeg": lambda im: encode(im, "PNG"),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("name", PHOTOS[:6])
def test_altered_copy_matches_its_original(name, variant):
    original = at_megapixels(photo(name), 2)
    original_hash = hash_image(encode(original, quality=92)).pdq.hex
    copy_data = VARIANTS[variant](original)
    fast = hash_image(copy_data).pdq.hex
    assert distance(fast, original_hash) <= MATCH
    # As often as full-decode hashes do: the reference on the same pair matches too.
    ref_original, _ = reference_pdq(encode(original, quality=92))
    ref_copy, _ = reference_pdq(copy_data)
    assert distance(ref_copy, ref_original) <= MATCH
    assert distance(fast, ref_original) <= MATCH


def test_unrelated_photos_do_not_match():
    hashes = {n: hash_image(encode(at_megapixels(photo(n), 1), quality=90)).pdq.hex for n in PHOTOS}
    for a, b in itertools.combinations(PHOTOS, 2):
        assert distance(hashes[a], hashes[b]) > MATCH, (a, b)
    assert (
        np.mean([distance(hashes[a], hashes[b]) for a, b in itertools.combinations(PHOTOS, 2)]) > 90
    )
