"""A minimal PNG writer (palette images) on zlib and struct, so images need no imaging library.

    data = encode_indexed(width, height, [(r, g, b), ...], rows)

`rows` are `height` byte strings of `width` palette indexes each; the image is 8-bit indexed
colour (type 3), every scanline with filter 0, compressed with zlib.
"""
from __future__ import annotations

import struct
import zlib
from typing import Iterable, Sequence

__all__ = ["encode_indexed"]

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def encode_indexed(width: int, height: int, palette: Sequence[tuple[int, int, int]],
                   rows: Iterable[bytes]) -> bytes:
    if not 1 <= len(palette) <= 256:
        raise ValueError("a PNG palette holds 1 to 256 colours")
    if width < 1 or height < 1:
        raise ValueError("an image needs at least one pixel")
    raw = bytearray()
    n = 0
    for row in rows:
        if len(row) != width:
            raise ValueError(f"row {n} has {len(row)} pixels, not {width}")
        raw += b"\x00"
        raw += row
        n += 1
    if n != height:
        raise ValueError(f"{n} rows, not {height}")
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 3, 0, 0, 0)
    plte = b"".join(bytes((r & 0xFF, g & 0xFF, b & 0xFF)) for r, g, b in palette)
    return (SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"PLTE", plte)
            + _chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + _chunk(b"IEND", b""))
