"""Benign test media: public sample photos (scikit-image's) and generated images.

Nothing here is, or stands for anything but, an ordinary photo.
"""

from __future__ import annotations

import io
import os
from fractions import Fraction
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


def video(
    seconds: float = 6,
    fps: int = 10,
    size=(640, 360),
    codec="libx264",
    fmt="mp4",
    name="astronaut.png",
    shift: int = 2,
) -> bytes:
    """A benign test video: a sample photo panning slowly."""
    import av

    w, h = size
    src = np.asarray(photo(name).resize((w + int(seconds * fps * shift) + 2, h + 40)))
    out = io.BytesIO()
    with av.open(out, "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(int(seconds * fps)):
            x = i * shift
            frame = av.VideoFrame.from_ndarray(
                np.ascontiguousarray(src[20 : 20 + h, x : x + w]), format="rgb24"
            )
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def reencode(
    data: bytes,
    size=(426, 240),
    codec="mpeg4",
    fmt="avi",
    *,
    bitrate: int | None = None,
    skip_seconds: int = 0,
    every: int = 1,
) -> bytes:
    """The same video decoded and encoded again, smaller and with another codec; at another
    ``bitrate``, without its first ``skip_seconds`` (trimmed), or keeping one frame in
    ``every`` (a lower frame rate)."""
    import av

    out = io.BytesIO()
    with av.open(io.BytesIO(data)) as source, av.open(out, "w", format=fmt) as target:
        src = source.streams.video[0]
        rate = int(src.average_rate)
        stream = target.add_stream(codec, rate=Fraction(rate, every))
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        if bitrate:
            stream.bit_rate = bitrate
        kept = 0
        for index, frame in enumerate(source.decode(src)):
            if index < skip_seconds * rate or (index - skip_seconds * rate) % every:
                continue
            small = frame.reformat(width=size[0], height=size[1], format="yuv420p")
            small.pts = kept
            small.time_base = Fraction(every, rate)
            kept += 1
            for packet in stream.encode(small):
                target.mux(packet)
        for packet in stream.encode():
            target.mux(packet)
    return out.getvalue()
