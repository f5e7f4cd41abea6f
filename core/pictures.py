"""Pictures people send (a sponsor's proof): checked with Pillow and re-encoded as a JPEG of
at most MAX_SIDE pixels a side, which drops every metadata (a phone's GPS position too)."""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import Invalid

MAX_BYTES = 10_000_000
"""The largest picture accepted, as sent."""
MAX_PIXELS = 40_000_000
MAX_SIDE = 1600
ACCEPTED = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
CONTENT_TYPE = "image/jpeg"


def clean_picture(data: bytes) -> bytes:
    """The picture re-encoded as JPEG; Invalid when it is too large or not a picture."""
    if len(data) > MAX_BYTES:
        raise Invalid("error.picture.too_large", megabytes=MAX_BYTES // 1_000_000)
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.format not in ACCEPTED:
                raise Invalid("error.picture.not_a_picture")
            width, height = probe.size
            if width * height > MAX_PIXELS:
                raise Invalid("error.picture.too_large", megabytes=MAX_BYTES // 1_000_000)
            probe.verify()
        with Image.open(io.BytesIO(data)) as picture:
            upright = ImageOps.exif_transpose(picture).convert("RGB")
            upright.thumbnail((MAX_SIDE, MAX_SIDE))
            out = io.BytesIO()
            upright.save(out, "JPEG", quality=85, optimize=True)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise Invalid("error.picture.not_a_picture") from None
    return out.getvalue()
