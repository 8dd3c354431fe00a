"""REP MOVS/STOS done in place (machine/_repstring.c) open the RAM they are about to write in the
page journal (_pagejournal.c, bootdbg_pagejournal_prepare) instead of taking a SIGSEGV on each
page a checkpoint protected: the same pages are saved and going back restores the same RAM as
with one fault per page (BOOTDBG_NO_REP_PREPARE=1), at a few faults for megabytes of copies."""
from __future__ import annotations

import hashlib

import pytest

from tests.conftest import boot_machine

# 60 KiB of low memory by 16-bit REP STOSW, 1 MiB
# forward by REP STOSD and 512 KiB backward by REP MOVSD in flat 32-bit code (paging off).
SRC = """
    cli
    in al, 0x92
    or al, 2
    out 0x92, al
    xor ax, ax
    mov ds, ax
    mov ax, 0x1000
    mov es, ax
    xor di, di
    mov cx, 0x7800
    mov ax, 0x1234
    cld
    rep stosw
    lgdt [gdtr]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp 0x08:pm
bits 32
pm: mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov edi, 0x200000
    mov ecx, 0x40000
    mov eax, 0xA5A5A5A5
    rep stosd
    mov esi, 0x280000 - 4
    mov edi, 0x380000 - 4
    mov ecx, 0x20000
    std
    rep movsd
    cld
    hlt
gdt: dq 0
    dq 0x00CF9A000000FFFF
    dq 0x00CF92000000FFFF
gdtr: dw 23
    dd gdt
"""
PAGES = 15 + 256 + 128          # the pages the three copies write


def _digest(m) -> str:
    h = hashlib.sha256(m.mem.read_phys(0, 4 << 20))
    h.update(repr(m.state()).encode())
    return h.hexdigest()


def _scenario(monkeypatch, prepare: bool) -> dict:
    if prepare:
        monkeypatch.delenv("BOOTDBG_NO_REP_PREPARE", raising=False)
    else:
        monkeypatch.setenv("BOOTDBG_NO_REP_PREPARE", "1")
    m = boot_machine(SRC, ram_size=8 << 20)
    j = m.memsnap
    if not j.native or not m._blocks.available:
        pytest.skip("needs the native page journal and block counter")
    m.run(3)                                    # (past the BIOS hand-off's first block)
    cp = m.checkpoint()
    before = _digest(m)
    faults, prepared = j.faults, j.prepared
    end = m.run()
    out = {"end": (end.reason, end.icount), "after": _digest(m),
           "pages": sorted(j.pages_since(cp.ident)),
           "faults": j.faults - faults, "prepared": j.prepared - prepared,
           "in_place": m._blocks.rep_iterations}
    m.restore(cp)
    out["back"] = _digest(m) == before
    return out


def test_copies_open_the_pages_they_write_without_a_fault_each(monkeypatch):
    got = _scenario(monkeypatch, True)
    assert got["end"][0] == "halted" and got["back"]
    assert got["in_place"] > 0.9 * (0x7800 + 0x40000 + 0x20000)
    assert got["prepared"] > 0.95 * PAGES
    assert got["faults"] < 20, got["faults"]


def test_opening_pages_changes_nothing_but_the_faults(monkeypatch):
    """The same run, the same pages saved for the checkpoint and the same RAM after going back
    as when each page's first store faults (which it does without the prepare)."""
    new = _scenario(monkeypatch, True)
    old = _scenario(monkeypatch, False)
    assert old["faults"] >= PAGES and old["prepared"] == 0
    for key in ("end", "after", "pages", "back", "in_place"):
        assert new[key] == old[key], key
