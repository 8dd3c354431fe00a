"""VGA registers and the text-mode screen (the text itself lives in guest RAM at B8000h).

Ports: CRTC index/data 3D4h/3D5h (mono aliases 3B4h/3B5h answer too), input status 1 at 3DAh
(and 3BAh), attribute controller 3C0h/3C1h with its index/data flip-flop (reset by reading
input status 1), sequencer 3C4h/3C5h, graphics controller 3CEh/3CFh, miscellaneous output
3C2h (write) / 3CCh (read), input status 0 3C2h (read), feature control 3CAh/3DAh, DAC 3C6h
(pixel mask), 3C7h/3C8h/3C9h (256 x RGB, 6 bits each).  Registers are stored; what the screen
model uses is the CRTC start address (0Ch/0Dh), cursor location (0Eh/0Fh), cursor shape
(0Ah/0Bh) and the graphics controller's memory map (06h: B8000h or B0000h for text).  CRTC
registers 00h-07h are write-protected while 11h bit 7 is set (except 07h bit 4).

Input status 1 is computed from virtual time with the VGA 640x400 70 Hz timing (31.778 us lines,
449 lines a frame): bit 0 is set outside the active display (horizontal or vertical blanking),
bit 3 during vertical retrace (lines 412-413).

`reset()` = mode 3 as qemu-system-i386 + SeaBIOS leave it (CRTC values read at the boot sector);
the screen is `cols` x `rows` cells (80 x 25 by default; INT 10h updates them on mode sets).
"""
from __future__ import annotations

from typing import Any, Callable

from debugger.machine.devices._base import Links, PortDevice

__all__ = ["Vga", "CP437"]

# CP437 as drawn on screen: the control-code positions show their graphic glyphs.
_LOW = " ☺☻♥♦♣♠•◘○◙♂♀♪♫☼►◄↕‼¶§▬↨↑↓→←∟↔▲▼"
CP437 = _LOW + "".join(chr(c) for c in range(0x20, 0x7F)) + "⌂" + \
    bytes(range(0x80, 0x100)).decode("cp437")
_CP437_MAP = {i: ch for i, ch in enumerate(CP437)}       # (str.translate of latin-1 text)

# Mode 3 CRTC registers (IBM VGA BIOS table, as read back from QEMU + SeaBIOS).
_CRTC_MODE3 = bytes([0x5F, 0x4F, 0x50, 0x82, 0x55, 0x81, 0xBF, 0x1F, 0x00, 0x4F, 0x0D, 0x0E,
                     0x00, 0x00, 0x00, 0x00, 0x9C, 0x8E, 0x8F, 0x28, 0x1F, 0x96, 0xB9, 0xA3,
                     0xFF])
_SEQ_MODE3 = bytes([0x03, 0x00, 0x03, 0x00, 0x02])
_GC_MODE3 = bytes([0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0E, 0x00, 0xFF])
_ATTR_MODE3 = bytes([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3A, 0x3B,
                     0x3C, 0x3D, 0x3E, 0x3F, 0x0C, 0x00, 0x0F, 0x08, 0x00])

LINE_NS = 31_778          # 800 dots at 25.175 MHz
HDISPLAY_NS = 25_422      # 640 visible dots
FRAME_LINES = 449
VDISPLAY_LINES = 400
VRETRACE = range(412, 414)


def _ega_palette() -> bytearray:
    """The 64 EGA colours in the first DAC entries (rgbRGB: low bits 2/3 intensity)."""
    dac = bytearray(256 * 3)
    for i in range(64):
        for c, (hi, lo) in enumerate(((2, 5), (1, 4), (0, 3))):
            dac[3 * i + c] = 0x2A * ((i >> hi) & 1) + 0x15 * ((i >> lo) & 1)
    return dac


class Vga(PortDevice):
    name = "vga"
    ports = (range(0x3B4, 0x3B6), range(0x3BA, 0x3BB), range(0x3C0, 0x3D0),
             range(0x3D4, 0x3D6), range(0x3DA, 0x3DB))

    def __init__(self, clock: Any, read_mem: Callable[[int, int], bytes], *,
                 cols: int = 80, rows: int = 25) -> None:
        self.links = Links(clock=clock, read_mem=read_mem)
        self.cols = cols
        self.rows = rows
        self.reset()

    def reset(self) -> None:
        self.crtc = bytearray(_CRTC_MODE3)
        self.crtc_index = 0
        self.seq = bytearray(_SEQ_MODE3)
        self.seq_index = 0
        self.gc = bytearray(_GC_MODE3)
        self.gc_index = 0
        self.attr = bytearray(_ATTR_MODE3)
        self.attr_index = 0x20
        self.attr_flip = False                 # False: next 3C0h write is an index
        self.misc = 0x67
        self.feature = 0
        self.dac = _ega_palette()
        self.dac_mask = 0xFF
        self.dac_write = 0                     # entry * 3 + component
        self.dac_read = 0
        self.dac_state = 0                     # 3C7h read: 0 = writing, 3 = reading

    # -- the screen --------------------------------------------------------------------------------
    @property
    def start_address(self) -> int:
        """CRTC start address, in character cells from the start of text memory."""
        return (self.crtc[0x0C] << 8) | self.crtc[0x0D]

    @property
    def text_base(self) -> int:
        return {0: 0xA0000, 1: 0xA0000, 2: 0xB0000, 3: 0xB8000}[(self.gc[6] >> 2) & 3]

    def cursor_location(self) -> int:
        return (self.crtc[0x0E] << 8) | self.crtc[0x0F]

    def cursor(self) -> tuple[int, int]:
        """(row, col) of the hardware cursor relative to the displayed page (may be off-screen)."""
        pos = (self.cursor_location() - self.start_address) & 0xFFFF
        return divmod(pos, self.cols)

    def set_cursor(self, row: int, col: int) -> None:
        loc = (self.start_address + row * self.cols + col) & 0xFFFF
        self.crtc[0x0E], self.crtc[0x0F] = loc >> 8, loc & 0xFF

    def cursor_shape(self) -> tuple[int, int]:
        """(start, end) scan lines of the cursor."""
        return self.crtc[0x0A] & 0x1F, self.crtc[0x0B] & 0x1F

    @property
    def cursor_visible(self) -> bool:
        row, _ = self.cursor()
        return not self.crtc[0x0A] & 0x20 and row < self.rows

    def screen_bytes(self) -> bytes:
        """The displayed text memory as it is (character, attribute pairs, row by row)."""
        return self.links.read_mem(self.text_base + 2 * self.start_address,
                                   self.cols * self.rows * 2)

    def screen_cells(self) -> list[list[tuple[str, int]]]:
        """The displayed text: rows of (character, attribute), CP437 decoded."""
        data = self.screen_bytes()
        cells = []
        for r in range(self.rows):
            row = data[r * self.cols * 2:(r + 1) * self.cols * 2]
            cells.append([(CP437[row[i]], row[i + 1]) for i in range(0, len(row) - 1, 2)])
        return cells

    def screen_text(self) -> list[str]:
        """The displayed lines, trailing spaces removed."""
        chars = self.screen_bytes()[0::2].decode("latin-1").translate(_CP437_MAP)
        c = self.cols
        return [chars[r * c:(r + 1) * c].rstrip() for r in range(self.rows)]

    # -- timing ------------------------------------------------------------------------------------
    def input_status_1(self) -> int:
        now = int(self.links.clock.ns())
        line, within = divmod(now % (LINE_NS * FRAME_LINES), LINE_NS)
        blank = line >= VDISPLAY_LINES or within >= HDISPLAY_NS
        return (0x01 if blank else 0) | (0x08 if line in VRETRACE else 0)

    # -- ports -------------------------------------------------------------------------------------
    def read8(self, port: int) -> int:
        if port in (0x3B4, 0x3D4):
            return self.crtc_index
        if port in (0x3B5, 0x3D5):
            return self.crtc[self.crtc_index] if self.crtc_index < len(self.crtc) else 0xFF
        if port in (0x3BA, 0x3DA):
            self.attr_flip = False
            return self.input_status_1()
        if port == 0x3C0:
            return self.attr_index
        if port == 0x3C1:
            i = self.attr_index & 0x1F
            return self.attr[i] if i < len(self.attr) else 0xFF
        if port == 0x3C2:
            return 0x10                        # input status 0: switch sense
        if port == 0x3C3:
            return 0x01
        if port == 0x3C4:
            return self.seq_index
        if port == 0x3C5:
            return self.seq[self.seq_index] if self.seq_index < len(self.seq) else 0xFF
        if port == 0x3C6:
            return self.dac_mask
        if port == 0x3C7:
            return self.dac_state
        if port == 0x3C8:
            return self.dac_write // 3
        if port == 0x3C9:
            v = self.dac[self.dac_read]
            self.dac_read = (self.dac_read + 1) % len(self.dac)
            return v
        if port == 0x3CA:
            return self.feature
        if port == 0x3CC:
            return self.misc
        if port == 0x3CE:
            return self.gc_index
        if port == 0x3CF:
            return self.gc[self.gc_index] if self.gc_index < len(self.gc) else 0xFF
        return 0xFF

    def write8(self, port: int, value: int) -> None:
        if port in (0x3B4, 0x3D4):
            self.crtc_index = value & 0x3F
        elif port in (0x3B5, 0x3D5):
            self._write_crtc(self.crtc_index, value)
        elif port in (0x3BA, 0x3DA):
            self.feature = value
        elif port == 0x3C0:
            if not self.attr_flip:
                self.attr_index = value & 0x3F
            elif (self.attr_index & 0x1F) < len(self.attr):
                self.attr[self.attr_index & 0x1F] = value
            self.attr_flip = not self.attr_flip
        elif port == 0x3C2:
            self.misc = value
        elif port == 0x3C3:
            pass
        elif port == 0x3C4:
            self.seq_index = value & 0x07
        elif port == 0x3C5:
            if self.seq_index < len(self.seq):
                self.seq[self.seq_index] = value
        elif port == 0x3C6:
            self.dac_mask = value
        elif port == 0x3C7:
            self.dac_read = value * 3
            self.dac_state = 3
        elif port == 0x3C8:
            self.dac_write = value * 3
            self.dac_state = 0
        elif port == 0x3C9:
            self.dac[self.dac_write] = value & 0x3F
            self.dac_write = (self.dac_write + 1) % len(self.dac)
        elif port == 0x3CE:
            self.gc_index = value & 0x0F
        elif port == 0x3CF:
            if self.gc_index < len(self.gc):
                self.gc[self.gc_index] = value

    def _write_crtc(self, index: int, value: int) -> None:
        if index >= len(self.crtc):
            return
        if index <= 7 and self.crtc[0x11] & 0x80:
            if index != 7:
                return
            value = (self.crtc[7] & ~0x10) | (value & 0x10)
        self.crtc[index] = value
