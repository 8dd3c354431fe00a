"""INT 10h: video services for the VGA text modes, kept in sync with text memory and the CRTC.

Characters go to text memory (B8000h, B0000h in mode 7) through guest RAM, where the VGA device
displays them; the cursor is kept in the BDA (0x450 + 2*page) and in the CRTC cursor-location
registers (written through ports 3D4h/3D5h, as a BIOS does, restoring the CRTC index).

Teletype (AH=0Eh) writes to the active page (BH is ignored, as in the IBM BIOS and SeaBIOS),
handles BEL/BS/LF/CR, wraps at the right margin and scrolls the page, filling the new line with
the attribute found at the cursor (IBM behaviour).  Graphics modes are accepted by AH=00h (the
BDA and memory are set up) but characters are not drawn in them: an event says so once.
VESA (AH=4Fh) and other unprovided functions are logged with CF set.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from debugger.machine.bios import bda, tables
from debugger.machine.bios.services._frame import unsupported

if TYPE_CHECKING:
    from debugger.machine.bios.call import BiosCall
    from debugger.machine.port import MachinePort

VECTOR = 0x10

TEXT_MODES = {0x00: 40, 0x01: 40, 0x02: 80, 0x03: 80, 0x07: 80}
GRAPHICS_MODES = {0x04: 40, 0x05: 40, 0x06: 80, 0x0D: 40, 0x0E: 80, 0x0F: 80, 0x10: 80,
                  0x11: 80, 0x12: 80, 0x13: 40}


# -- video state from the BDA ----------------------------------------------------------------------
class Screen:
    def __init__(self, m: "MachinePort") -> None:
        mem = m.mem
        self.m = m
        self.mode = mem.read_u(bda.VIDEO_MODE, 1)
        self.cols = mem.read_u(bda.VIDEO_COLS, 2) or 80
        self.rows = mem.read_u(bda.VIDEO_ROWS, 1) + 1
        self.page_size = mem.read_u(bda.VIDEO_PAGE_SIZE, 2) or 0x1000
        self.page = mem.read_u(bda.VIDEO_PAGE, 1) & 7
        self.text = self.mode in TEXT_MODES
        self.base = 0xB0000 if self.mode == 0x07 else 0xB8000

    def addr(self, page: int, row: int, col: int) -> int:
        return self.base + (page & 7) * self.page_size + 2 * (row * self.cols + col)

    def cursor(self, page: int) -> tuple[int, int]:
        v = self.m.mem.read_u(bda.CURSOR_POS + 2 * (page & 7), 2)
        return v >> 8, v & 0xFF

    def set_cursor(self, page: int, row: int, col: int) -> None:
        self.m.mem.write_u(bda.CURSOR_POS + 2 * (page & 7), 2, ((row & 0xFF) << 8) | (col & 0xFF))
        if page & 7 == self.page:
            start = self.m.mem.read_u(bda.VIDEO_PAGE_START, 2) // 2
            loc = start + row * self.cols + col
            crtc(self.m, 0x0E, (loc >> 8) & 0xFF)
            crtc(self.m, 0x0F, loc & 0xFF)

    def put(self, page: int, row: int, col: int, ch: int, attr: int | None) -> None:
        if not self.text:
            return
        a = self.addr(page, row, col)
        if attr is None:
            self.m.mem.write_phys(a, bytes([ch & 0xFF]))
        else:
            self.m.mem.write_phys(a, bytes([ch & 0xFF, attr & 0xFF]))

    def get(self, page: int, row: int, col: int) -> tuple[int, int]:
        if not self.text:
            return 0, 0
        b = self.m.mem.read_phys(self.addr(page, row, col), 2)
        return b[0], b[1]

    def scroll(self, page: int, top: int, left: int, bottom: int, right: int, lines: int,
               attr: int, up: bool) -> None:
        if not self.text:
            return
        bottom = min(bottom, self.rows - 1)
        right = min(right, self.cols - 1)
        if top > bottom or left > right:
            return
        height = bottom - top + 1
        if lines == 0 or lines > height:
            lines = height
        width = 2 * (right - left + 1)
        mem = self.m.mem
        blank = bytes([0x20, attr & 0xFF]) * (right - left + 1)
        order = range(top, bottom + 1) if up else range(bottom, top - 1, -1)
        for row in order:
            src = row + lines if up else row - lines
            dst = self.addr(page, row, left)
            if top <= src <= bottom:
                mem.write_phys(dst, mem.read_phys(self.addr(page, src, left), width))
            else:
                mem.write_phys(dst, blank)


def crtc(m: "MachinePort", index: int, value: int) -> None:
    """Write a CRTC register through the ports, leaving the index register as it was."""
    port = m.mem.read_u(bda.CRTC_PORT, 2)
    if port not in (0x3D4, 0x3B4) or m.bus.device_at(port) is None:
        return
    old = m.bus.read(port, 1)
    m.bus.write(port, 1, index)
    m.bus.write(port + 1, 1, value & 0xFF)
    m.bus.write(port, 1, old)


# -- teletype (also used by AH=13h) ----------------------------------------------------------------
def teletype(s: Screen, page: int, ch: int, attr: int | None) -> None:
    row, col = s.cursor(page)
    if ch == 0x07:
        return
    if ch == 0x08:
        col = max(col - 1, 0)
    elif ch == 0x0D:
        col = 0
    elif ch == 0x0A:
        row += 1
    else:
        s.put(page, row, col, ch, attr)
        col += 1
        if col >= s.cols:
            col = 0
            row += 1
    if row >= s.rows:
        row = s.rows - 1
        fill = s.get(page, row, col)[1] if s.text else 0
        s.scroll(page, 0, 0, s.rows - 1, s.cols - 1, 1, fill, True)
    s.set_cursor(page, row, col)


# -- functions ---------------------------------------------------------------------------------
def handle(call: "BiosCall") -> None:
    fn = _FUNCS.get(call.ah)
    if fn is None:
        unsupported(call, "video")
        return
    fn(call, Screen(call.machine))


def _set_mode(call: "BiosCall", s: Screen) -> None:
    mode = call.al & 0x7F
    set_mode(call.machine, mode, clear=not call.al & 0x80)
    call.al = 0x20 if mode > 7 else 0x3F if mode == 6 else 0x30    # what VGA BIOSes return


def set_mode(m: "MachinePort", mode: int, clear: bool = True) -> None:
    mem = m.mem
    if mode not in TEXT_MODES and mode not in GRAPHICS_MODES:
        m.events.emit("bios-unknown", f"INT 10h AH=00h: video mode {mode:02X}h not provided",
                      vector=0x10, mode=mode)
        return
    cols = TEXT_MODES.get(mode) or GRAPHICS_MODES[mode]
    mem.write_u(bda.VIDEO_MODE, 1, mode)
    mem.write_u(bda.VIDEO_COLS, 2, cols)
    rows = 30 if mode in (0x11, 0x12) else 25
    mem.write_u(bda.VIDEO_ROWS, 1, rows - 1)
    mem.write_u(bda.VIDEO_CHAR_HEIGHT, 2, 16 if mode in TEXT_MODES else 8)
    page_size = {40: 0x800, 80: 0x1000}[cols] if mode in TEXT_MODES else \
        (0x4000 if mode < 0x0D else 0x10000)
    mem.write_u(bda.VIDEO_PAGE_SIZE, 2, page_size & 0xFFFF)
    mem.write_u(bda.VIDEO_PAGE, 1, 0)
    mem.write_u(bda.VIDEO_PAGE_START, 2, 0)
    mem.write_u(bda.CRTC_PORT, 2, 0x3B4 if mode == 0x07 else 0x3D4)
    mem.write_phys(bda.CURSOR_POS, bytes(16))
    mem.write_u(bda.CURSOR_SHAPE, 2, 0x0607)
    misc = mem.read_u(bda.VIDEO_EGA_MISC, 1)
    mem.write_u(bda.VIDEO_EGA_MISC, 1, (misc & 0x7F) | (0 if clear else 0x80))
    if clear:
        if mode in TEXT_MODES:
            base = 0xB0000 if mode == 0x07 else 0xB8000
            mem.write_phys(base, b"\x20\x07" * 0x4000)
        elif mode >= 0x0D:
            mem.write_phys(0xA0000, bytes(0x10000))
        else:
            mem.write_phys(0xB8000, bytes(0x8000))
    s = Screen(m)
    crtc(m, 0x0C, 0)
    crtc(m, 0x0D, 0)
    crtc(m, 0x0A, 0x06)
    crtc(m, 0x0B, 0x07)
    s.set_cursor(0, 0, 0)
    if mode not in TEXT_MODES:
        m.events.emit("video", f"video mode {mode:02X}h is a graphics mode: BIOS text output "
                      "is not drawn in it", mode=mode)


def _cursor_shape(call: "BiosCall", s: Screen) -> None:
    call.machine.mem.write_u(bda.CURSOR_SHAPE, 2, call.cx)
    crtc(call.machine, 0x0A, call.ch & 0x3F)
    crtc(call.machine, 0x0B, call.cl & 0x1F)


def _set_cursor(call: "BiosCall", s: Screen) -> None:
    s.set_cursor(call.bh, call.dh, call.dl)


def _get_cursor(call: "BiosCall", s: Screen) -> None:
    row, col = s.cursor(call.bh)
    call.dh, call.dl = row, col
    call.cx = call.machine.mem.read_u(bda.CURSOR_SHAPE, 2)
    call.ax = 0


def _set_page(call: "BiosCall", s: Screen) -> None:
    page = call.al
    if page > 7:
        return
    mem = call.machine.mem
    start = page * s.page_size
    mem.write_u(bda.VIDEO_PAGE, 1, page)
    mem.write_u(bda.VIDEO_PAGE_START, 2, start & 0xFFFF)
    crtc(call.machine, 0x0C, (start // 2) >> 8)
    crtc(call.machine, 0x0D, (start // 2) & 0xFF)
    s = Screen(call.machine)
    s.set_cursor(page, *s.cursor(page))


def _scroll_up(call: "BiosCall", s: Screen) -> None:
    s.scroll(s.page, call.ch, call.cl, call.dh, call.dl, call.al, call.bh, True)


def _scroll_down(call: "BiosCall", s: Screen) -> None:
    s.scroll(s.page, call.ch, call.cl, call.dh, call.dl, call.al, call.bh, False)


def _read_char(call: "BiosCall", s: Screen) -> None:
    row, col = s.cursor(call.bh)
    ch, attr = s.get(call.bh, row, col)
    call.al, call.ah = ch, attr


def _write_repeat(call: "BiosCall", s: Screen, attr: int | None) -> None:
    if not s.text:
        return
    page = call.bh
    row, col = s.cursor(page)
    pos = row * s.cols + col
    n = min(call.cx, s.rows * s.cols - pos)
    if n <= 0:
        return
    a = s.addr(page, row, col)
    mem = call.machine.mem
    if attr is None:
        old = bytearray(mem.read_phys(a, 2 * n))
        old[0::2] = bytes([call.al]) * n
        mem.write_phys(a, bytes(old))
    else:
        mem.write_phys(a, bytes([call.al, attr]) * n)


def _write_char_attr(call: "BiosCall", s: Screen) -> None:
    _write_repeat(call, s, call.bl)


def _write_char(call: "BiosCall", s: Screen) -> None:
    _write_repeat(call, s, None)


def _cga_palette(call: "BiosCall", s: Screen) -> None:
    mem = call.machine.mem
    pal = mem.read_u(bda.VIDEO_PALETTE, 1)
    if call.bh == 0:
        pal = (pal & 0xE0) | (call.bl & 0x1F)
    else:
        pal = (pal & 0xDF) | (0x20 if call.bl & 1 else 0)
    mem.write_u(bda.VIDEO_PALETTE, 1, pal)


def _pixel_addr(call: "BiosCall", s: Screen) -> int | None:
    if s.mode != 0x13 or call.cx >= 320 or call.dx >= 200:
        return None
    return 0xA0000 + call.dx * 320 + call.cx


def _write_pixel(call: "BiosCall", s: Screen) -> None:
    a = _pixel_addr(call, s)
    if a is None:
        unsupported(call, "write pixel outside mode 13h")
        return
    call.machine.mem.write_phys(a, bytes([call.al]))


def _read_pixel(call: "BiosCall", s: Screen) -> None:
    a = _pixel_addr(call, s)
    if a is None:
        unsupported(call, "read pixel outside mode 13h")
        return
    call.al = call.machine.mem.read_u(a, 1)


def _teletype(call: "BiosCall", s: Screen) -> None:
    teletype(s, s.page, call.al, None)


def _get_mode(call: "BiosCall", s: Screen) -> None:
    misc = call.machine.mem.read_u(bda.VIDEO_EGA_MISC, 1)
    call.al = s.mode | (misc & 0x80)
    call.ah = s.cols
    call.bh = s.page


def _palette(call: "BiosCall", s: Screen) -> None:
    m = call.machine
    al = call.al
    if al in (0x00, 0x01, 0x02, 0x03):
        regs: list[tuple[int, int]] = []
        if al == 0x00:
            regs = [(call.bl & 0x1F, call.bh)]
        elif al == 0x01:
            regs = [(0x11, call.bh)]
        elif al == 0x02:
            data = call.read(call.es, call.dx, 17)
            regs = [(i, data[i]) for i in range(16)] + [(0x11, data[16])]
        else:
            cur = _attr_read(m, 0x10)
            regs = [(0x10, (cur & ~0x08) | (0x08 if call.bl & 1 else 0))]
        for index, value in regs:
            _attr_write(m, index, value)
    elif al == 0x07:
        call.bh = _attr_read(m, call.bl & 0x1F)
    elif al == 0x08:
        call.bh = _attr_read(m, 0x11)
    elif al in (0x10, 0x12):
        if al == 0x10:
            entries = [(call.bx & 0xFF, bytes([call.dh, call.ch, call.cl]))]
        else:
            data = call.read(call.es, call.dx, 3 * call.cx)
            entries = [((call.bx + i) & 0xFF, data[3 * i:3 * i + 3]) for i in range(call.cx)]
        for index, rgb in entries:
            m.bus.write(0x3C8, 1, index)
            for c in rgb:
                m.bus.write(0x3C9, 1, c & 0x3F)
    elif al in (0x15, 0x17):
        first, n = call.bx & 0xFF, (1 if al == 0x15 else call.cx)
        m.bus.write(0x3C7, 1, first)
        data = bytes(m.bus.read(0x3C9, 1) & 0x3F for _ in range(3 * n))
        if al == 0x15:
            call.dh, call.ch, call.cl = data[0], data[1], data[2]
        else:
            call.write(call.es, call.dx, data)
    else:
        unsupported(call, "palette")


def _attr_write(m: "MachinePort", index: int, value: int) -> None:
    m.bus.read(0x3DA, 1)                         # reset the attribute flip-flop
    m.bus.write(0x3C0, 1, index | 0x20)
    m.bus.write(0x3C0, 1, value & 0xFF)


def _attr_read(m: "MachinePort", index: int) -> int:
    m.bus.read(0x3DA, 1)
    m.bus.write(0x3C0, 1, index | 0x20)
    v = m.bus.read(0x3C1, 1)
    m.bus.read(0x3DA, 1)
    return v


def _font(call: "BiosCall", s: Screen) -> None:
    al = call.al
    mem = call.machine.mem
    if al == 0x30:
        height = mem.read_u(bda.VIDEO_CHAR_HEIGHT, 2)
        call.cx = height
        call.dl = mem.read_u(bda.VIDEO_ROWS, 1)
        vec = {0: 0x1F, 1: 0x43}.get(call.bh)
        if vec is not None:
            ptr = mem.read_u(vec * 4, 4)
            call.es, call.bp = ptr >> 16, ptr & 0xFFFF
        else:
            call.es, call.bp = 0xF000, tables.FONT_8X8
        return
    heights = {0x01: 14, 0x11: 14, 0x02: 8, 0x12: 8, 0x04: 16, 0x14: 16}
    if al in heights and s.text:
        h = heights[al]
        mem.write_u(bda.VIDEO_CHAR_HEIGHT, 2, h)
        mem.write_u(bda.VIDEO_ROWS, 1, 400 // h - 1)
        crtc(call.machine, 0x09, h - 1)
        return
    if al in (0x00, 0x10, 0x03, 0x20, 0x21, 0x22, 0x23, 0x24):
        return                                   # loading glyphs: the device has its own font
    unsupported(call, "character generator")


def _alt_select(call: "BiosCall", s: Screen) -> None:
    bl = call.bl
    if bl == 0x10:
        call.bh = 0x01 if s.mode == 0x07 else 0x00
        call.bl = 0x03                           # 256 KiB
        call.cx = 0x0009
    elif bl in (0x20, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36):
        call.al = 0x12                           # function supported
    else:
        unsupported(call, "alternate select")


def _write_string(call: "BiosCall", s: Screen) -> None:
    mode = call.al
    page = call.bh
    count = call.cx
    saved = s.cursor(page)
    s.set_cursor(page, call.dh, call.dl)
    data = call.read(call.es, call.bp, count * (2 if mode & 2 else 1))
    for i in range(count):
        if mode & 2:
            ch, attr = data[2 * i], data[2 * i + 1]
        else:
            ch, attr = data[i], call.bl
        if ch in (0x07, 0x08, 0x0A, 0x0D):
            teletype(s, page, ch, None)
        else:
            teletype(s, page, ch, attr)
    if not mode & 1:
        s.set_cursor(page, *saved)


def _display_combination(call: "BiosCall", s: Screen) -> None:
    if call.al == 0x00:
        call.bx = 0x0008                         # VGA with colour display
        call.al = 0x1A
    elif call.al == 0x01:
        call.al = 0x1A
    else:
        unsupported(call, "display combination")


_FUNCS = {
    0x00: _set_mode, 0x01: _cursor_shape, 0x02: _set_cursor, 0x03: _get_cursor,
    0x05: _set_page, 0x06: _scroll_up, 0x07: _scroll_down, 0x08: _read_char,
    0x09: _write_char_attr, 0x0A: _write_char, 0x0B: _cga_palette, 0x0C: _write_pixel,
    0x0D: _read_pixel, 0x0E: _teletype, 0x0F: _get_mode, 0x10: _palette, 0x11: _font,
    0x12: _alt_select, 0x13: _write_string, 0x1A: _display_combination,
}
