"""The share picture's PNG encoder, which reuses the compressed bands of rows that did not
change: a standard PNG, the exact pixels drawn, and nothing from an earlier picture."""

from __future__ import annotations

import io
import zlib
from dataclasses import replace

from PIL import Image, ImageDraw

from core.sharing import SQUARE, WIDE, render_share
from core.sharing.picture import ShareCard, draw_share
from core.sharing.png import encode
from tests.test_sharing import decode, qr_in

CARD = ShareCard(
    title="Trier mes déchets 🌍",
    headline="Je suis l'une des 100 001 personnes qui agissent à Lyon",
    fraction=0.5,
    ticks=(0.25,),
    progress_text="100 001 sur 200 000 personnes",
    summary="50 %",
    next_text="49 999 de plus et Acme plante 1 000 arbres",
    link="https://t.me/koombot?start=c-tri-r-alice",
    call="Scannez pour participer",
    brand="climat-koom",
)


def chunks(png: bytes) -> list[bytes]:
    """The PNG's chunk types, each chunk's CRC checked."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    kinds, at = [], 8
    while at < len(png):
        length = int.from_bytes(png[at : at + 4], "big")
        body = png[at + 4 : at + 8 + length]
        assert int.from_bytes(png[at + 8 + length : at + 12 + length], "big") == zlib.crc32(body)
        kinds.append(body[:4])
        at += 12 + length
    return kinds


def test_the_png_is_standard_and_holds_the_exact_pixels() -> None:
    for size in (SQUARE, WIDE):
        drawn = draw_share(CARD, size)
        png = encode(drawn)
        assert chunks(png) == [b"IHDR", b"IDAT", b"IEND"]
        image = Image.open(io.BytesIO(png))
        image.load()  # Pillow checks the zlib stream to its end (Adler-32 included)
        assert image.size == size and image.mode == "RGB"
        assert image.tobytes() == drawn.tobytes()


def test_odd_sizes_and_other_modes_encode() -> None:
    image = Image.new("L", (37, 50), 200)
    ImageDraw.Draw(image).line((0, 0, 36, 49), fill=0, width=3)
    back = Image.open(io.BytesIO(encode(image)))
    assert back.size == (37, 50) and back.convert("L").tobytes() == image.tobytes()


def test_a_new_count_or_sharer_never_shows_the_earlier_picture() -> None:
    first = decode(render_share(CARD, SQUARE))
    more = replace(CARD, headline=CARD.headline.replace("001", "002"), fraction=0.500005)
    second = decode(render_share(more, SQUARE))
    assert second.tobytes() == draw_share(more, SQUARE).tobytes() != first.tobytes()
    bob = replace(more, link="https://t.me/koombot?start=c-tri-r-bob")
    third = decode(render_share(bob, SQUARE))
    assert qr_in(third, bob.link) and not qr_in(third, more.link)
    assert third.tobytes() == draw_share(bob, SQUARE).tobytes()
