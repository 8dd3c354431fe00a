"""Reads of RAM straight from the page journal's memory (Memory.host_ram) give what Unicorn's
mem_read gives, everywhere below the top of RAM (the BIOS area, VGA text, ROM shadow, the top)."""
from __future__ import annotations

import pytest

from tests.conftest import boot_machine


def test_host_ram_reads_are_unicorns_reads():
    m = boot_machine("mov ax, 0xb800\nmov es, ax\nmov word [es:0], 0x1f41\nhlt",
                     ram_size=4 << 20)
    m.run(10_000)
    if m.mem.host_ram is None:
        pytest.skip("needs the native page journal")
    top = m.config.ram_size
    for at, n in ((0, 0x600), (0x7C00, 512), (0x9F000, 0x2000), (0xB8000, 4000),
                  (0xC0000, 0x1000), (0xFFFF0, 16), (0xFFFF8, 16), (top - 16, 16), (0x12345, 1)):
        assert m.mem.read_phys(at, n) == bytes(m.uc.mem_read(at, n)), hex(at)
    assert m.mem.read_phys(0xB8000, 2) == b"\x41\x1f"
    m.mem.write_phys(0x100000, b"xyz")
    assert m.mem.read_phys(0x100000, 3) == b"xyz"
