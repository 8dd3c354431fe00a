"""VGA: CRTC cursor and start address, text from guest memory, attribute flip-flop, retrace, DAC."""
from __future__ import annotations

import pytest

from debugger.machine.devices.vga import LINE_NS, Vga


@pytest.fixture
def mem() -> bytearray:
    return bytearray(0x100000)


@pytest.fixture
def vga(clock, mem) -> Vga:
    return Vga(clock, lambda a, n: bytes(mem[a:a + n]))


def put(mem: bytearray, row: int, col: int, text: bytes, attr: int = 0x07,
        base: int = 0xB8000) -> None:
    for i, ch in enumerate(text):
        a = base + 2 * (row * 80 + col + i)
        mem[a], mem[a + 1] = ch, attr


def test_crtc_cursor_location_and_shape(vga):
    vga.io_write(0x3D4, 1, 0x0E)
    vga.io_write(0x3D5, 1, 0x01)
    vga.io_write(0x3D4, 1, 0x0F)
    vga.io_write(0x3D5, 1, 0x40)
    assert vga.cursor() == (4, 0)
    vga.io_write(0x3D4, 2, 0x4F0F)              # out dx, ax: index 0Fh, data 4Fh
    assert vga.cursor() == (4, 15) and vga.io_read(0x3D4, 1) == 0x0F   # 14Fh
    vga.io_write(0x3D4, 2, 0x200A)              # cursor disable bit
    assert not vga.cursor_visible
    vga.set_cursor(24, 79)
    vga.io_write(0x3D4, 1, 0x0E)
    assert vga.io_read(0x3D5, 1) == 0x07 and vga.cursor() == (24, 79)
    vga.io_write(0x3D4, 2, 0x500D)              # start address 80: the cursor is one row up
    assert vga.start_address == 80 and vga.cursor() == (23, 79)


def test_screen_text_and_cells_from_memory(vga, mem):
    for r in range(25):
        put(mem, r, 0, b" " * 80)
    put(mem, 0, 0, b"Hello", 0x1F)
    put(mem, 1, 2, b"\x01\xb0\xdb  ")
    cells = vga.screen_cells()
    assert len(cells) == 25 and len(cells[0]) == 80
    assert cells[0][0] == ("H", 0x1F) and cells[1][2] == ("☺", 0x07)
    text = vga.screen_text()
    assert text[:3] == ["Hello", "  ☺░█", ""]
    vga.io_write(0x3D4, 2, 0x500D)
    assert vga.screen_text()[0] == "  ☺░█"


def test_screen_text_is_the_cells_characters_for_every_byte(vga, mem):
    # every character code (CP437's glyphs for 00h-1Fh, 7Fh, FFh as NBSP) and odd widths
    import random

    rnd = random.Random(5)
    for r in range(25):
        put(mem, r, 0, bytes(rnd.randrange(256) for _ in range(80)), rnd.randrange(256))
    put(mem, 3, 0, bytes(range(80)))
    put(mem, 4, 0, bytes(range(176, 256)))
    put(mem, 5, 70, b"x  \xff \x00 \xff\xff")
    want = ["".join(ch for ch, _ in row).rstrip() for row in vga.screen_cells()]
    assert vga.screen_text() == want and "x  \xa0 " in want[5]


def test_mono_aliases_and_memory_map(vga, mem):
    put(mem, 0, 0, b"mono", base=0xB0000)
    vga.io_write(0x3CE, 2, 0x0A06)              # graphics controller: B0000h text map
    assert vga.screen_text()[0] == "mono"
    vga.io_write(0x3B4, 2, 0x050F)
    assert vga.cursor() == (0, 5) and vga.io_read(0x3B5, 1) == 0x05


def test_crtc_write_protect(vga):
    vga.io_write(0x3D4, 2, 0x1101)              # reset: 11h bit 7 set, 01h locked
    assert vga.io_read(0x3D5, 1) == 0x4F
    vga.io_write(0x3D4, 2, 0x0E11)
    vga.io_write(0x3D4, 2, 0x2701)
    assert vga.io_read(0x3D5, 1) == 0x27


def test_attribute_flip_flop_reset_by_input_status(vga):
    vga.io_read(0x3DA, 1)
    vga.io_write(0x3C0, 1, 0x01)
    vga.io_write(0x3C0, 1, 0x3F)
    vga.io_write(0x3C0, 1, 0x20 | 0x01)         # index again after one data write
    assert vga.io_read(0x3C1, 1) == 0x3F and vga.io_read(0x3C0, 1) == 0x21
    vga.io_write(0x3C0, 1, 0x05)                # a data write (flip-flop at data)
    vga.io_read(0x3DA, 1)                       # back to index
    vga.io_write(0x3C0, 1, 0x01)
    assert vga.io_read(0x3C1, 1) == 0x05


def test_input_status_follows_virtual_time(vga, clock):
    assert vga.io_read(0x3DA, 1) & 0x09 == 0    # start of line 0: active display
    clock.icount = 2600                         # 26.0 us into line 0: horizontal blank
    assert vga.io_read(0x3DA, 1) & 0x09 == 0x01
    clock.icount = 412 * LINE_NS // 10 + 10     # line 412: vertical retrace
    assert vga.io_read(0x3DA, 1) & 0x09 == 0x09
    clock.icount = 405 * LINE_NS // 10 + 10     # vertical blank, not retrace
    assert vga.io_read(0x3DA, 1) & 0x09 == 0x01
    clock.icount = 449 * LINE_NS // 10 + 10     # next frame
    assert vga.io_read(0x3DA, 1) & 0x09 == 0


def test_dac_and_registers_round_trip(vga):
    vga.io_write(0x3C8, 1, 0x10)
    for v in (0x3F, 0x20, 0x01, 0x02):
        vga.io_write(0x3C9, 1, v)
    vga.io_write(0x3C7, 1, 0x10)
    assert vga.io_read(0x3C7, 1) == 3
    assert [vga.io_read(0x3C9, 1) for _ in range(4)] == [0x3F, 0x20, 0x01, 0x02]
    assert vga.io_read(0x3C8, 1) == 0x11
    vga.io_write(0x3C7, 1, 0x07)                # EGA colour 7 (light grey)
    assert [vga.io_read(0x3C9, 1) for _ in range(3)] == [0x2A, 0x2A, 0x2A]
    vga.io_write(0x3C4, 2, 0x0F02)
    assert vga.io_read(0x3C5, 1) == 0x0F
    vga.io_write(0x3C2, 1, 0x66)
    assert vga.io_read(0x3CC, 1) == 0x66
