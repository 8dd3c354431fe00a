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


def test_a_host_write_with_a20_off_drops_the_code_translated_at_that_physical_page():
    """Code at 1 MiB translated while A20 was on, rewritten by the host while A20 is off, runs
    as rewritten once A20 is on again.  (The translated code was dropped by a linear address,
    which with A20 off names the page 1 MiB lower: the old code ran on.)"""
    # A far call to FFFF:0010 (= 100000h with A20 on), a RETF there; run it once (translated),
    # turn A20 off, stop; the host writes `mov bx, 1234h; retf` there; A20 on, call again.
    src = """
        cli
        in al, 0x92
        or al, 2
        out 0x92, al
        mov ax, 0xffff
        mov es, ax
        mov byte [es:0x10], 0xcb ; RETF
        xor bx, bx
        call 0xffff:0x10
        in al, 0x92
        and al, 0xfd
        out 0x92, al             ; A20 off
    stop:
        nop
        in al, 0x92
        or al, 2
        out 0x92, al             ; A20 on
        call 0xffff:0x10
        hlt
    """
    m = boot_machine(src)
    m._fast_on = False
    while m.cpu.a20 or m.mem.read_linear(m.cpu.linear_pc(), 1) != b"\x90":
        assert m.run(1).reason == "budget"
    m.mem.write_phys(0x100000, b"\xbb\x34\x12\xcb")          # mov bx, 1234h; retf
    assert m.run(1000).reason == "halted"
    assert m.cpu.gpr(3) & 0xFFFF == 0x1234
