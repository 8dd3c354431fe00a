"""The BIOS data area (0040:0000) and extended BIOS data area, as a BIOS leaves them at boot.

Field addresses are physical (0x400 + offset) and shared by the services that keep them current:
the timer IRQ (tick count), the keyboard IRQ and INT 16h (buffer, shift flags), INT 10h (video
fields and cursor positions), INT 13h (last disk status).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from debugger.machine.bus import IoBus
    from debugger.machine.port import MachinePort

__all__ = ["initialise", "BDA", "EBDA_SEGMENT", "BASE_MEMORY_KB", "TICKS_PER_DAY",
           "ticks_for_time"]

BDA = 0x400
EBDA_SEGMENT = 0x9FC0
BASE_MEMORY_KB = 639

# Fields (physical addresses).
EQUIPMENT = 0x410
MEMORY_KB = 0x413
KBD_FLAGS0 = 0x417
KBD_FLAGS1 = 0x418
KBD_ALT_KEYPAD = 0x419
KBD_HEAD = 0x41A
KBD_TAIL = 0x41C
KBD_BUFFER = 0x41E
FLOPPY_RECAL = 0x43E
FLOPPY_MOTOR = 0x43F
FLOPPY_MOTOR_TIMEOUT = 0x440
FLOPPY_STATUS = 0x441
VIDEO_MODE = 0x449
VIDEO_COLS = 0x44A
VIDEO_PAGE_SIZE = 0x44C
VIDEO_PAGE_START = 0x44E
CURSOR_POS = 0x450          # 8 words: (row << 8) | col per page
CURSOR_SHAPE = 0x460
VIDEO_PAGE = 0x462
CRTC_PORT = 0x463
VIDEO_MODE_CTL = 0x465
VIDEO_PALETTE = 0x466
TICKS = 0x46C
MIDNIGHT = 0x470
BREAK_FLAG = 0x471
RESET_FLAG = 0x472
DISK_STATUS = 0x474
HD_COUNT = 0x475
HD_CONTROL = 0x476
HD_INT_FLAG = 0x48E
KBD_BUF_START = 0x480
KBD_BUF_END = 0x482
VIDEO_ROWS = 0x484          # rows - 1
VIDEO_CHAR_HEIGHT = 0x485
VIDEO_EGA_MISC = 0x487
VIDEO_EGA_SWITCHES = 0x488
VIDEO_VGA_FLAGS = 0x489
KBD_MODE = 0x496
KBD_LEDS = 0x497

TICKS_PER_DAY = 0x1800B0    # 1573040: PIT ticks (1193182 Hz / 65536) in 24 hours


def ticks_for_time(hours: int, minutes: int, seconds: int) -> int:
    return ((hours * 3600 + minutes * 60 + seconds) * TICKS_PER_DAY) // 86400


def _bcd(v: int) -> int:
    return (v >> 4) * 10 + (v & 0xF)


def rtc_time(machine: "MachinePort") -> tuple[int, int, int] | None:
    """(hours, minutes, seconds) from the CMOS clock, read through its ports; None if absent."""
    bus = machine.bus
    if bus.device_at(0x70) is None:
        return None
    _select(bus, 0x0B)
    fmt = bus.read(0x71, 1)
    vals = []
    for reg in (0x04, 0x02, 0x00):
        _select(bus, reg)
        vals.append(bus.read(0x71, 1))
    _select(bus, 0x0D)                           # leave the index where a BIOS leaves it
    if not fmt & 0x04:                           # BCD mode
        vals = [_bcd(v & 0x7F) | (v & 0x80) for v in vals]
    h, m, s = vals
    if not fmt & 0x02:                           # 12-hour mode: bit 7 = PM
        h = (h & 0x7F) % 12 + (12 if h & 0x80 else 0)
    return h % 24, m % 60, s % 60


def _select(bus: "IoBus", reg: int) -> None:
    bus.write(0x70, 1, reg)                      # bit 7 clear: NMI stays enabled


def initialise(machine: "MachinePort") -> None:
    from debugger.machine.bios import tables

    m = machine.mem
    floppies = [d for d in machine.disks.values() if d.kind == "floppy"]
    hds = [d for d in machine.disks.values() if d.kind == "hd"]
    m.write_u(BDA + 0x00, 2, 0x3F8)                 # COM1
    m.write_u(BDA + 0x08, 2, 0x378)                 # LPT1
    m.write_u(BDA + 0x0E, 2, EBDA_SEGMENT)
    # Equipment: x87 present, 80x25 colour, one serial port, one printer, floppies.
    # x87, PS/2 pointing-device port (as SeaBIOS reports under QEMU), 80x25 colour, one
    # serial port, one printer port.
    equipment = 0x0002 | 0x0004 | 0x0020 | (1 << 9) | (1 << 14)
    if floppies:
        equipment |= 1 | ((min(len(floppies), 4) - 1) << 6)
    m.write_u(EQUIPMENT, 2, equipment)
    m.write_u(MEMORY_KB, 2, BASE_MEMORY_KB)
    m.write_u(KBD_HEAD, 2, 0x1E)
    m.write_u(KBD_TAIL, 2, 0x1E)
    m.write_u(KBD_BUF_START, 2, 0x1E)
    m.write_u(KBD_BUF_END, 2, 0x3E)
    m.write_u(KBD_FLAGS0, 1, 0)                     # no shift/lock state
    m.write_u(KBD_MODE, 1, 0x10)                    # 101/102-key keyboard installed
    m.write_u(FLOPPY_RECAL, 1, 0)
    m.write_u(VIDEO_MODE, 1, 3)
    m.write_u(VIDEO_COLS, 2, 80)
    m.write_u(VIDEO_PAGE_SIZE, 2, 0x1000)
    m.write_u(VIDEO_PAGE_START, 2, 0)
    m.write_u(CURSOR_SHAPE, 2, 0x0607)
    m.write_u(VIDEO_PAGE, 1, 0)
    m.write_u(CRTC_PORT, 2, 0x3D4)
    m.write_u(VIDEO_MODE_CTL, 1, 0x29)
    m.write_u(VIDEO_PALETTE, 1, 0x30)
    m.write_u(VIDEO_ROWS, 1, 24)
    m.write_u(VIDEO_CHAR_HEIGHT, 2, 16)
    m.write_u(VIDEO_EGA_MISC, 1, 0x60)
    m.write_u(VIDEO_EGA_SWITCHES, 1, 0xF9)
    m.write_u(VIDEO_VGA_FLAGS, 1, 0x51)             # 400 scan lines, VGA active
    m.write_u(HD_COUNT, 1, len(hds))
    m.write_u(HD_CONTROL, 1, 0xC0)
    now = rtc_time(machine)
    m.write_u(TICKS, 4, ticks_for_time(*now) if now else 0)
    m.write_u(MIDNIGHT, 1, 0)
    m.write_u(EBDA_SEGMENT << 4, 1, 1)              # EBDA size in KiB
    tables.install_data_vectors(machine, EBDA_SEGMENT)
