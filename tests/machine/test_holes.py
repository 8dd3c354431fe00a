"""Physical addresses without RAM: open bus (all ones, writes dropped) and the ROM mirror below
4 GiB, for the guest and for the debugger's own reads; the default RAM is QEMU's 128 MiB."""
from __future__ import annotations

from tests.conftest import GDT_PM, GDT_TAIL

GUEST = GDT_PM + """
    mov dword [0xc0000000], 0x12345678      ; no RAM: dropped
    mov eax, [0xc0000000]                   ; open bus: all ones
    mov [0x600], eax
    mov eax, [0x8000000 - 2]                ; straddles the end of RAM
    mov [0x604], eax
    mov eax, [0xfffffffc]                   ; the ROM's last dword
    mov [0x608], eax
    cli
    hlt
""" + GDT_TAIL


def test_guest_reads_open_bus_and_the_rom_mirror_and_its_writes_are_dropped(boot):
    m = boot(GUEST)
    assert m.config.ram_size == 128 << 20
    m.mem.write_phys((128 << 20) - 2, b"\x11\x22")
    r = m.run(10_000)
    assert r.reason == "halted", r
    assert m.mem.read_u(0x600, 4) == 0xFFFFFFFF
    assert m.mem.read_u(0x604, 4) == 0xFFFF2211
    assert m.mem.read_u(0x608, 4) == m.mem.read_u(0xFFFFC, 4)


def test_debugger_reads_and_writes_outside_ram(boot):
    m = boot("hlt")
    assert m.mem.read_phys(0xC0000000, 4) == b"\xff" * 4
    assert m.mem.read_phys(0xFFFFFFF0, 16) == m.mem.read_phys(0xFFFF0, 16)
    m.mem.write_phys(0xC0000000, b"\x00")          # dropped, no error
    assert m.mem.read_phys(0xC0000000, 1) == b"\xff"


def test_reads_across_the_edges_of_the_holes(boot):
    m = boot("hlt")
    mem = m.mem
    assert mem.read_phys(0xFFFDFFFE, 4) == b"\xff\xff" + mem.read_phys(0xE0000, 2)
    assert mem.read_phys((128 << 20) - 1, 3) == mem.read_phys((128 << 20) - 1, 1) + b"\xff\xff"


def test_pae_page_above_4gib_is_open_bus(boot):
    # PAE: linear 0-2 MiB -> physical 0, linear 2-4 MiB -> physical 4 GiB (no RAM there).
    m = boot(GDT_PM + """
    mov edi, 0x10000
    xor eax, eax
    mov ecx, 2 * 1024
    rep stosd
    mov dword [0x10000], 0x11001             ; PDPTE 0 -> PD at 11000h
    mov dword [0x11000], 0x83                ; 2 MiB page at 0
    mov dword [0x11008], 0x83
    mov dword [0x1100c], 1                   ; 2 MiB page at 1_0000_0000h
    mov eax, cr4
    or eax, 0x20
    mov cr4, eax
    mov eax, 0x10000
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    mov dword [0x200010], 0x12345678        ; dropped
    mov eax, [0x200010]
    mov [0x600], eax
    cli
    hlt
""" + GDT_TAIL)
    r = m.run(10_000)
    assert r.reason == "halted", r
    assert m.mem.read_u(0x600, 4) == 0xFFFFFFFF
    assert m.mem.read_phys((1 << 32) + 0x10, 4) == b"\xff" * 4
