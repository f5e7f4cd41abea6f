"""The shipped fonts of the pictures (DejaVu Sans for text, Noto Emoji for emoji; licences and
sources beside them, built by ``scripts/build_fonts.py``) and text drawing that falls back to
the emoji font for the characters DejaVu lacks."""

from __future__ import annotations

from functools import cache
from importlib import resources

from PIL import Image, ImageDraw, ImageFont

__all__ = ["draw_text", "font", "font_path", "runs", "text_width"]

TEXT_FILES = {False: "DejaVuSans.ttf", True: "DejaVuSans-Bold.ttf"}
EMOJI_FILE = "NotoEmoji-Regular.ttf"
_DROPPED = {"\ufe0f", "\ufe0e", "\u200d"}  # presentation selectors and joiners: no glyph
_PROBE_SIZE = 24


@cache
def font_path(name: str) -> str:
    """The file of one shipped font (a name of TEXT_FILES or EMOJI_FILE)."""
    return str(resources.files("core.fonts").joinpath(name))


@cache
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans (bold or regular) at `size` pixels."""
    return ImageFont.truetype(font_path(TEXT_FILES[bold]), max(1, size))


@cache
def emoji_font(size: int) -> ImageFont.FreeTypeFont:
    """Noto Emoji (monochrome) at `size` pixels."""
    return ImageFont.truetype(font_path(EMOJI_FILE), max(1, size))


def _mask(face: ImageFont.FreeTypeFont, char: str) -> tuple[tuple[int, int], bytes]:
    mask = face.getmask(char)
    return mask.size, Image.Image()._new(mask).tobytes()


@cache
def _missing(char: str, emoji: bool) -> bool:
    """Whether the font draws `char` as its missing-glyph box."""
    face = emoji_font(_PROBE_SIZE) if emoji else font(_PROBE_SIZE)
    return _mask(face, char) == _mask(face, "\U0010fffd")


def runs(text: str) -> list[tuple[str, bool]]:
    """`text` cut into (part, drawn with the emoji font) runs."""
    found: list[tuple[str, bool]] = []
    for char in text:
        if char in _DROPPED:
            continue
        emoji = ord(char) > 0x2000 and _missing(char, False) and not _missing(char, True)
        if found and found[-1][1] == emoji:
            found[-1] = (found[-1][0] + char, emoji)
        else:
            found.append((char, emoji))
    return found


def _face(size: int, bold: bool, emoji: bool) -> ImageFont.FreeTypeFont:
    return emoji_font(size) if emoji else font(size, bold)


def text_width(text: str, size: int, bold: bool = False) -> float:
    """The width in pixels of `text` drawn by :func:`draw_text`."""
    return sum(_face(size, bold, emoji).getlength(part) for part, emoji in runs(text))


def draw_text(
    draw: ImageDraw.ImageDraw,
    xy: tuple[float, float],
    text: str,
    size: int,
    *,
    bold: bool = False,
    fill: tuple[int, ...] = (0, 0, 0),
    anchor: str = "ls",
) -> float:
    """Draw `text` (emoji included) at `xy`; `anchor` as Pillow's, horizontally l, m or r and
    vertically s (baseline) or m (middle of the text font). Returns the width drawn."""
    width = text_width(text, size, bold)
    x, y = xy
    x -= {"l": 0.0, "m": width / 2, "r": width}[anchor[0]]
    if anchor[1] == "m":
        ascent, descent = font(size, bold).getmetrics()
        y += (ascent - descent) / 2
    for part, emoji in runs(text):
        face = _face(size, bold, emoji)
        draw.text((x, y), part, font=face, fill=fill, anchor="ls")
        x += face.getlength(part)
    return width
