"""PNG encoding that compresses only what changed: the picture is cut into bands of rows, each
band compressed on its own and remembered by a digest of its pixels, so the title, the QR code
and the plain background drawn again for a new count are not compressed again.

The file is a standard PNG (8-bit RGB, no interlace, filter None on every row): the bands'
deflate blocks, each ended by a sync flush, form one deflate stream, ended by an empty final
block, with the Adler-32 of all the rows. Only the exact same pixels reuse a band, so nothing
stale can show.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import zlib
from collections import OrderedDict

from PIL import Image

BAND_ROWS = 24
LEVEL = 1  # zlib level: 6 halves the speed for ~25 % smaller files
BANDS_KEPT = 4096  # compressed bands remembered (a few KB each, most far less)
_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ZLIB_HEADER = b"\x78\x01"  # deflate, 32 KB window, no dictionary
_FINAL_EMPTY_BLOCK = b"\x03\x00"  # a last, empty block with fixed codes: ends the stream

_bands: OrderedDict[bytes, bytes] = OrderedDict()
_lock = threading.Lock()


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _deflated(rows: bytes) -> bytes:
    """The band's deflate blocks (not final, ending on a byte), from memory when seen."""
    key = hashlib.sha256(rows).digest()
    with _lock:
        found = _bands.get(key)
        if found is not None:
            _bands.move_to_end(key)
            return found
    compressor = zlib.compressobj(LEVEL, zlib.DEFLATED, -15)
    made = compressor.compress(rows) + compressor.flush(zlib.Z_SYNC_FLUSH)
    with _lock:
        _bands[key] = made
        while len(_bands) > BANDS_KEPT:
            _bands.popitem(last=False)
    return made


def encode(image: Image.Image) -> bytes:
    """`image` (converted to RGB if needed) as PNG bytes."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    width, height = image.size
    pixels = image.tobytes()
    stride = width * 3
    adler = 1
    blocks: list[bytes] = []
    for top in range(0, height, BAND_ROWS):
        end = min(height, top + BAND_ROWS) * stride
        rows = b"".join(
            b"\x00" + pixels[start : start + stride] for start in range(top * stride, end, stride)
        )
        adler = zlib.adler32(rows, adler)
        blocks.append(_deflated(rows))
    stream = b"".join((_ZLIB_HEADER, *blocks, _FINAL_EMPTY_BLOCK, struct.pack(">I", adler)))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"".join(
        (_SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", stream), _chunk(b"IEND", b""))
    )
