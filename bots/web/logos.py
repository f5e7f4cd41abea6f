"""Organisations' logo files, read from the one folder KOOM_ORG_LOGO_DIR: a name that leads
outside it (`..`, an absolute path, a symbolic link out), a file too large or not a picture
Pillow recognises as PNG, JPEG, GIF or WebP is never served."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

MAX_BYTES = 1_000_000
TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}


@dataclass(frozen=True, slots=True)
class Logo:
    """A logo's bytes and content type."""

    body: bytes
    content_type: str


def read_logo(folder: Path, name: str) -> Logo | None:
    """The logo file `name` inside `folder`, or None when it is outside, missing, too large
    or not one of the accepted pictures (blocking: run it in a thread)."""
    root = folder.resolve()
    try:
        path = (root / name).resolve()
    except (OSError, RuntimeError, ValueError):  # a link loop, a NUL byte
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    try:
        with path.open("rb") as file:
            body = file.read(MAX_BYTES + 1)
    except OSError:
        return None
    if len(body) > MAX_BYTES:
        return None
    try:
        with Image.open(io.BytesIO(body)) as picture:
            kind = picture.format
            picture.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None
    content_type = TYPES.get(kind or "")
    return None if content_type is None else Logo(body, content_type)
