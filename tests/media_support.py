"""Benign test media: public sample photos (scikit-image's) and generated images.

Nothing here is, or stands for anything but, an ordinary photo.
"""

from __future__ import annotations

import io
import os
from functools import cache

import numpy as np
import pdqhash
import skimage
from PIL import Image

from takedown.media.pdq import bits_to_hex

SKIMAGE_DATA = os.path.join(os.path.dirname(skimage.__file__), "data")
PHOTOS = [
    "astronaut.png",
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "camera.png",
    "horse.png",
    "coins.png",
]


@cache
def photo(name: str) -> Image.Image:
    with Image.open(os.path.join(SKIMAGE_DATA, name)) as im:
        return im.convert("RGB")


def at_megapixels(image: Image.Image, megapixels: float) -> Image.Image:
    w, h = image.size
    f = (megapixels * 1e6 / (w * h)) ** 0.5
    return image.resize((max(8, round(w * f)), max(8, round(h * f))), Image.LANCZOS)


def encode(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def reference_pdq(data: bytes) -> tuple[str, int]:
    """Meta's C++ PDQ (the ``pdqhash`` package) on a full Pillow decode, EXIF applied."""
    from PIL import ImageOps

    with Image.open(io.BytesIO(data)) as im:
        rgb = np.asarray(ImageOps.exif_transpose(im).convert("RGB"))
    vector, quality = pdqhash.compute(rgb)
    return bits_to_hex(vector[::-1].astype(np.uint8)), int(quality)
