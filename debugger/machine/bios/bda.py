"""The BIOS data area (0040:0000) and extended BIOS data area, as a BIOS leaves them at boot."""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from debugger.machine.pc import Machine

__all__ = ["initialise", "BDA", "EBDA_SEGMENT", "BASE_MEMORY_KB"]

BDA = 0x400
EBDA_SEGMENT = 0x9FC0
BASE_MEMORY_KB = 639


def initialise(machine: "Machine") -> None:
    m = machine.mem
    floppies = [d for d in machine.disks.values() if d.kind == "floppy"]
    hds = [d for d in machine.disks.values() if d.kind == "hd"]
    m.write_u(BDA + 0x00, 2, 0x3F8)                 # COM1
    m.write_u(BDA + 0x08, 2, 0x378)                 # LPT1
    m.write_u(BDA + 0x0E, 2, EBDA_SEGMENT)
    equipment = 0x0020 | (1 << 9)                   # 80x25 colour, one serial port
    if floppies:
        equipment |= 1 | ((len(floppies) - 1) << 6)
    m.write_u(BDA + 0x10, 2, equipment)
    m.write_u(BDA + 0x13, 2, BASE_MEMORY_KB)
    m.write_u(BDA + 0x1A, 2, 0x1E)                  # keyboard buffer head
    m.write_u(BDA + 0x1C, 2, 0x1E)                  # keyboard buffer tail
    m.write_u(BDA + 0x80, 2, 0x1E)                  # buffer start
    m.write_u(BDA + 0x82, 2, 0x3E)                  # buffer end
    m.write_u(BDA + 0x49, 1, 3)                     # video mode 3
    m.write_u(BDA + 0x4A, 2, 80)
    m.write_u(BDA + 0x4C, 2, 0x1000)
    m.write_u(BDA + 0x60, 2, 0x0607)                # cursor shape
    m.write_u(BDA + 0x63, 2, 0x3D4)
    m.write_u(BDA + 0x75, 1, len(hds))
    m.write_u(BDA + 0x84, 1, 24)
    m.write_u(BDA + 0x85, 2, 16)
    m.write_u(EBDA_SEGMENT << 4, 1, 1)              # EBDA size in KiB
