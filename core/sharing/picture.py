"""The share picture, drawn offline with Pillow and the shipped fonts: the challenge, who acts,
the progress bar toward the sponsor's reward, the share link as text and as a QR code.

Two sizes: square (1080 x 1080, for feeds and stories) and wide (1200 x 630, the size link
previews use). Every text comes translated in a :class:`ShareCard`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import segno
from PIL import Image, ImageDraw

from core import fonts
from core.sharing import png

SQUARE = (1080, 1080)
WIDE = (1200, 630)
PAPER = (248, 246, 239)
GREEN = (24, 122, 70)
DARK_GREEN = (12, 74, 42)
INK = (30, 38, 46)
SOFT_INK = (86, 96, 108)
TRACK = (222, 228, 220)
TICK = (255, 255, 255)
QR_BORDER = 2  # modules of white around the code (the card behind it is white too)
CODES_KEPT = 128  # QR codes remembered, one per share link (~70 KB each)
BASES_KEPT = 8  # backgrounds with a title remembered (~3.5 MB each)


@dataclass(frozen=True, slots=True)
class ShareCard:
    """Everything the picture says, already in the reader's language."""

    title: str
    headline: str  # "I'm one of 734 acting in Lyon"
    fraction: float  # of the goal, 0 to 1
    ticks: tuple[float, ...]  # the sponsors' tiers, as fractions of the goal
    progress_text: str  # "734 of 1,000 people"
    summary: str  # "73 % of the goal" or "9 people have started — be the 10th"
    next_text: str  # "266 more and Rhône Emballages gives €3,000 to ..."
    link: str
    call: str  # "Scan to join"
    brand: str


@dataclass(frozen=True, slots=True)
class _Frame:
    """Sizes for one picture size, in pixels."""

    width: int
    height: int

    @property
    def wide(self) -> bool:
        return self.width > self.height * 1.4

    @property
    def unit(self) -> float:
        return min(self.width, self.height) / 100 if not self.wide else self.height / 70

    @property
    def pad(self) -> int:
        return round(self.unit * 6.5)

    @property
    def qr(self) -> int:
        return round(self.unit * (27 if self.wide else 25))

    @property
    def text_right(self) -> int:
        """Where text stops: before the QR code's column on the wide picture."""
        if self.wide:
            return self.width - self.pad - self.qr - round(self.unit * 4)
        return self.width - self.pad


def qr_matrix(text: str) -> list[list[bool]]:
    """The QR code of `text` (error correction M, or better when it fits), with its border:
    True for a dark module."""
    code = segno.make(text, error="m", micro=False)
    return [[bool(v) for v in row] for row in code.matrix_iter(scale=1, border=QR_BORDER)]


@lru_cache(maxsize=CODES_KEPT)
def _qr_image(text: str, size: int) -> Image.Image:
    """The QR code of `text` about `size` pixels wide (shared: never drawn on)."""
    matrix = qr_matrix(text)
    modules = len(matrix)
    small = Image.new("L", (modules, modules), 255)
    small.putdata([0 if dark else 255 for row in matrix for dark in row])
    scale = max(1, size // modules)
    return small.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)


def wrap(text: str, size: int, bold: bool, room: float, max_lines: int) -> list[str]:
    """`text` in lines that fit `room` pixels at `size`, at most `max_lines` (the last one
    shortened with an ellipsis)."""
    lines: list[str] = []
    current = ""
    words = text.split()
    for index, word in enumerate(words):
        candidate = f"{current} {word}".strip()
        if fonts.text_width(candidate, size, bold) <= room or not current:
            current = candidate
            continue
        lines.append(current)
        current = word
        if len(lines) == max_lines:
            current = " ".join([lines.pop(), *words[index:]])
            break
    if current:
        lines.append(current)
    last = lines[-1]
    if fonts.text_width(last, size, bold) > room:
        while last and fonts.text_width(last + "…", size, bold) > room:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return lines


@lru_cache(maxsize=CODES_KEPT)
def _cut(text: str, size: int, room: float) -> tuple[str, ...]:
    """`text` (a link: no spaces) cut anywhere into lines that fit `room` pixels."""
    lines = [""]
    for char in text:
        if lines[-1] and fonts.text_width(lines[-1] + char, size) > room:
            lines.append("")
        lines[-1] += char
    return tuple(lines)


def _lines(
    draw: ImageDraw.ImageDraw,
    y: float,
    lines: Sequence[str],
    size: int,
    *,
    left: int,
    bold: bool = False,
    fill: tuple[int, int, int] = INK,
) -> float:
    """Draw `lines` from top `y`; the y below them."""
    step = size * 1.22
    for line in lines:
        fonts.draw_text(draw, (left, y + size), line, size, bold=bold, fill=fill)
        y += step
    return y


def _bar(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], card: ShareCard) -> None:
    x0, y0, x1, y1 = box
    radius = (y1 - y0) // 2
    draw.rounded_rectangle(box, radius=radius, fill=TRACK)
    filled = x0 + round((x1 - x0) * max(0.0, min(1.0, card.fraction)))
    if filled > x0:
        draw.rounded_rectangle((x0, y0, max(filled, x0 + 2 * radius), y1), radius, fill=GREEN)
    for tick in card.ticks:
        x = x0 + round((x1 - x0) * tick)
        draw.line((x, y0 + 3, x, y1 - 3), fill=TICK, width=4)


@lru_cache(maxsize=BASES_KEPT)
def _base(title: str, brand: str, size: tuple[int, int]) -> tuple[Image.Image, float]:
    """What a picture shows whatever the count and the sharer: the paper, the band, the brand
    and the title; with the y below the title (shared: copied before drawing on it)."""
    frame = _Frame(*size)
    unit, pad = frame.unit, frame.pad
    image = Image.new("RGB", size, PAPER)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, frame.width, round(unit * 1.6)), fill=GREEN)
    room = frame.text_right - pad
    y = pad - unit
    y = _lines(draw, y, [brand], round(unit * 3.2), left=pad, bold=True, fill=GREEN)
    y += unit * 1.5
    title_size = round(unit * (5.4 if frame.wide else 5.8))
    lines = wrap(title, title_size, True, room, 2 if frame.wide else 3)
    return image, _lines(draw, y, lines, title_size, left=pad, bold=True)


def draw_share(card: ShareCard, size: tuple[int, int] = SQUARE) -> Image.Image:
    """The share picture of `card` at `size` (:data:`SQUARE` or :data:`WIDE`)."""
    frame = _Frame(*size)
    unit, pad = frame.unit, frame.pad
    base, y = _base(card.title, card.brand, size)
    image = base.copy()
    draw = ImageDraw.Draw(image)
    room = frame.text_right - pad
    y += unit * 1.5
    headline_size = round(unit * (4.4 if frame.wide else 5.0))
    headline = wrap(card.headline, headline_size, True, room, 2)
    y = _lines(draw, y, headline, headline_size, left=pad, bold=True, fill=DARK_GREEN)
    y += unit * 2.5
    bar_height = round(unit * 3.4)
    _bar(draw, (pad, round(y), frame.text_right, round(y + bar_height)), card)
    y += bar_height + unit
    small = round(unit * 2.9)
    counts = f"{card.progress_text} · {card.summary}"
    y = _lines(draw, y, wrap(counts, small, True, room, 2), small, left=pad, bold=True)
    y = _lines(draw, y, wrap(card.next_text, small, False, room, 2), small, left=pad)
    _draw_link(image, draw, frame, card)
    return image


def _draw_link(
    image: Image.Image, draw: ImageDraw.ImageDraw, frame: _Frame, card: ShareCard
) -> None:
    """The QR code in a white card at the bottom right, the call and the link beside it."""
    unit, pad = frame.unit, frame.pad
    code = _qr_image(card.link, frame.qr)
    x1, y1 = frame.width - pad, frame.height - pad
    x0, y0 = x1 - code.width, y1 - code.height
    draw.rounded_rectangle(
        (x0 - unit, y0 - unit, x1 + unit, y1 + unit), radius=round(unit * 1.5), fill=(255,) * 3
    )
    image.paste(code, (x0, y0))
    room = (frame.text_right if frame.wide else x0 - round(unit * 3)) - pad
    size = round(unit * 3.2)
    link_size = round(unit * 2.6)
    link = _cut(card.link, link_size, room)
    height = size * 1.22 + link_size * 1.22 * len(link)
    y = y1 - height
    y = _lines(draw, y, [card.call], size, left=pad, bold=True, fill=GREEN)
    _lines(draw, y, link, link_size, left=pad, fill=SOFT_INK)


def render_share(card: ShareCard, size: tuple[int, int] = SQUARE) -> bytes:
    """The share picture as PNG bytes."""
    return png.encode(draw_share(card, size))
