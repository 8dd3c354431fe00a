"""Fixed tables in the BIOS ROM that guests read directly, and the IVT entries that point at data.

Locations follow the IBM PC/AT BIOS (which later BIOSes, SeaBIOS included, keep for
compatibility): the configuration table at F000:E6F5, the diskette parameter table at F000:EFC7,
the video parameter table at F000:F0A4.  Vectors 1Dh, 1Eh, 1Fh, 41h, 43h and 46h hold pointers to
data, never code, so they must not point at service stubs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from debugger.machine.disk import Disk
    from debugger.machine.port import MachinePort

__all__ = ["write_rom_tables", "install_data_vectors", "fixed_disk_table", "floppy_dpt_offset",
           "CONFIG_TABLE", "FLOPPY_DPT", "VIDEO_PARAMS", "FONT_8X8", "FDPT_EBDA_OFFSETS",
           "DPTE_EBDA_OFFSET"]

ROM = 0xF000
CONFIG_TABLE = 0xE6F5      # INT 15h AH=C0h returns F000:E6F5 (the IBM AT location)
FLOPPY_DPT = 0xEFC7        # INT 1Eh points here (the IBM location): 1.44 MB parameters
VIDEO_PARAMS = 0xF0A4      # INT 1Dh: 6845 parameters for the CGA/MDA modes (IBM location)
FONT_8X8 = 0xFA6E          # INT 43h / INT 10h AX=1130h: 8x8 glyphs (IBM location, see below)
_OTHER_DPTS = 0xEC00       # diskette parameter tables for the other drive types, 16 bytes apart

# Diskette parameter tables (11 bytes), by CMOS drive type (INT 13h AH=08h BL).
_DPT = {
    1: bytes([0xDF, 0x02, 0x25, 0x02, 9, 0x2A, 0xFF, 0x50, 0xF6, 0x0F, 0x08]),    # 360K
    2: bytes([0xDF, 0x02, 0x25, 0x02, 15, 0x1B, 0xFF, 0x54, 0xF6, 0x0F, 0x08]),   # 1.2M
    3: bytes([0xDF, 0x02, 0x25, 0x02, 9, 0x2A, 0xFF, 0x50, 0xF6, 0x0F, 0x08]),    # 720K
    4: bytes([0xAF, 0x02, 0x25, 0x02, 18, 0x1B, 0xFF, 0x6C, 0xF6, 0x0F, 0x08]),   # 1.44M
    5: bytes([0xAF, 0x02, 0x25, 0x02, 36, 0x1B, 0xFF, 0x53, 0xF6, 0x0F, 0x08]),   # 2.88M
}

# The IBM video parameter table: four 16-byte 6845 register sets (40x25, 80x25, graphics,
# monochrome), regen buffer lengths, columns per mode 0-7, CRT mode-select values per mode 0-7.
_VIDEO = (
    bytes([0x38, 0x28, 0x2D, 0x0A, 0x1F, 0x06, 0x19, 0x1C, 0x02, 0x07, 0x06, 0x07, 0, 0, 0, 0])
    + bytes([0x71, 0x50, 0x5A, 0x0A, 0x1F, 0x06, 0x19, 0x1C, 0x02, 0x07, 0x06, 0x07, 0, 0, 0, 0])
    + bytes([0x38, 0x28, 0x2D, 0x0A, 0x7F, 0x06, 0x64, 0x70, 0x02, 0x01, 0x06, 0x07, 0, 0, 0, 0])
    + bytes([0x61, 0x50, 0x52, 0x0F, 0x19, 0x06, 0x19, 0x19, 0x02, 0x0D, 0x0B, 0x0C, 0, 0, 0, 0])
    + b"".join(n.to_bytes(2, "little") for n in (0x0800, 0x1000, 0x4000, 0x4000))
    + bytes([40, 40, 80, 80, 40, 40, 80, 80])
    + bytes([0x2C, 0x28, 0x2D, 0x29, 0x2A, 0x2E, 0x1E, 0x29])
)

# Fixed-disk parameter tables live in the EBDA (as SeaBIOS and PS/2 BIOSes place them):
# INT 41h -> EBDA:003D (first hard disk), INT 46h -> EBDA:004D (second).
FDPT_EBDA_OFFSETS = (0x3D, 0x4D)
# EDD 2.0 device parameter table extensions (INT 13h AH=48h offset 1Ah), 16 bytes per drive.
DPTE_EBDA_OFFSET = 0x80


def floppy_dpt_offset(floppy_type: int) -> int:
    """ROM offset (segment F000) of the diskette parameter table for a CMOS drive type."""
    if floppy_type == 4 or floppy_type not in _DPT:
        return FLOPPY_DPT
    return _OTHER_DPTS + 16 * floppy_type


def write_rom_tables(rom: bytearray) -> None:
    # System configuration table: length 8, model FC, submodel 01, BIOS rev 0,
    # feature 1: 0x64 = second 8259, RTC, EBDA allocated (bit 4, "INT 09h calls INT 15h
    # AH=4Fh", is not claimed: the keyboard IRQ handler is not guest code), feature 2: 0x40 =
    # INT 16h AH=09h supported.
    rom[CONFIG_TABLE:CONFIG_TABLE + 10] = bytes([8, 0, 0xFC, 0x01, 0x00, 0x64, 0x40, 0, 0, 0])
    for kind, table in _DPT.items():
        off = floppy_dpt_offset(kind)
        rom[off:off + len(table)] = table
    rom[VIDEO_PARAMS:VIDEO_PARAMS + len(_VIDEO)] = _VIDEO
    # No glyph data is emulated (the VGA text device renders characters itself); the 1 KiB at
    # FONT_8X8 is zero so a guest that reads it sees blank glyphs, not stub code.
    rom[FONT_8X8:FONT_8X8 + 1024] = bytes(1024)


def fixed_disk_table(disk: "Disk") -> bytes:
    """The 16-byte IBM AT fixed-disk parameter table for a hard disk's BIOS geometry."""
    g = disk.geometry
    cyl = min(g.cylinders, 1024)
    t = bytearray(16)
    t[0:2] = cyl.to_bytes(2, "little")
    t[2] = g.heads & 0xFF
    t[5:7] = (0xFFFF).to_bytes(2, "little")      # no write precompensation
    t[8] = 0xC0 | (0x08 if g.heads > 8 else 0)   # disable retries; more than 8 heads
    t[12:14] = cyl.to_bytes(2, "little")         # landing zone
    t[14] = g.sectors
    return bytes(t)


def _set_vector(machine: "MachinePort", vector: int, seg: int, off: int) -> None:
    machine.mem.write_u(vector * 4, 4, (seg << 16) | off)


def install_data_vectors(machine: "MachinePort", ebda_segment: int) -> None:
    """Point the data vectors at their tables and write the per-disk tables into the EBDA."""
    mem = machine.mem
    _set_vector(machine, 0x1D, ROM, VIDEO_PARAMS)
    _set_vector(machine, 0x1E, ROM, FLOPPY_DPT)
    _set_vector(machine, 0x1F, 0, 0)              # upper-half 8x8 glyphs: none (IBM default)
    _set_vector(machine, 0x43, ROM, FONT_8X8)
    hds = [machine.disks[n] for n in sorted(machine.disks) if machine.disks[n].kind == "hd"]
    for vec, off, idx in ((0x41, FDPT_EBDA_OFFSETS[0], 0), (0x46, FDPT_EBDA_OFFSETS[1], 1)):
        if idx < len(hds):
            mem.write_phys((ebda_segment << 4) + off, fixed_disk_table(hds[idx]))
            _set_vector(machine, vec, ebda_segment, off)
        else:
            _set_vector(machine, vec, 0, 0)
