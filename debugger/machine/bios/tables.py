"""Fixed tables in the BIOS ROM that guests read directly (configuration table, disk parameters)."""
from __future__ import annotations

__all__ = ["write_rom_tables", "CONFIG_TABLE", "FLOPPY_DPT"]

CONFIG_TABLE = 0xE6F5      # INT 15h AH=C0h returns F000:E6F5 (the IBM AT location)
FLOPPY_DPT = 0xEFC7        # INT 1Eh points here (the IBM location)


def write_rom_tables(rom: bytearray) -> None:
    # System configuration table: length 8, model FC, submodel 01, BIOS rev 0,
    # feature 1: 0x70 (EBDA allocated, RTC, 2nd PIC), features 2-5: 0x40 (INT 16h AH=09h supported).
    rom[CONFIG_TABLE:CONFIG_TABLE + 10] = bytes([8, 0, 0xFC, 0x01, 0x00, 0x74, 0x40, 0, 0, 0])
    # 1.44 MB floppy disk parameter table (11 bytes).
    rom[FLOPPY_DPT:FLOPPY_DPT + 11] = bytes([0xAF, 0x02, 0x25, 0x02, 18, 0x1B, 0xFF, 0x6C,
                                             0xF6, 0x0F, 0x08])
