"""The Python page journal (pagelog.py, the BOOTDBG_NO_NATIVE=1 fallback of checkpoints): what
the guest, the machine and the MMU write after a checkpoint is put back exactly, whichever
checkpoints are dropped in between."""
from __future__ import annotations

import pytest

from tests.conftest import GDT_PM, GDT_TAIL, PAGING_ON, PAGING_TABLES, boot_machine

SRC = GDT_PM + PAGING_TABLES + PAGING_ON + """
    mov eax, [0x200000]         ; the MMU sets the Accessed bits of these PTEs
    mov dword [0x300000], 1     ; ... and Accessed + Dirty here
    mov dword [0x8000], 2
    hlt
""" + GDT_TAIL


@pytest.fixture
def python_journal(monkeypatch):
    from debugger.machine import pagejournal

    monkeypatch.setattr(pagejournal, "_lib", lambda: None)


def _paged(src: str = SRC):
    m = boot_machine(src)
    while not m.cpu.cr(0) & 0x80000000:
        assert m.run(1).reason == "budget"
    assert not m.memsnap.native
    return m


def _pte(m, linear: int) -> int:
    return m.mem.read_u(0x11000 + (linear >> 12) * 4, 4)


def test_accessed_and_dirty_bits_the_mmu_set_are_put_back(python_journal) -> None:
    m = _paged()
    cp = m.checkpoint()
    before = (_pte(m, 0x200000), _pte(m, 0x300000))
    assert m.run().reason == "halted"
    assert (_pte(m, 0x200000), _pte(m, 0x300000)) == (before[0] | 0x20, before[1] | 0x60)
    m.restore(cp)
    assert (_pte(m, 0x200000), _pte(m, 0x300000)) == before
    assert m.mem.read_u(0x300000, 4) == 0 and m.mem.read_u(0x8000, 4) == 0


def test_dropping_checkpoints_keeps_the_older_ones_exact(python_journal) -> None:
    m = boot_machine("hlt")
    mem = m.mem
    mem.write_phys(0x5000, b"A" * 8)
    first = m.checkpoint()
    mem.write_phys(0x5000, b"B" * 8)
    middle = m.checkpoint()
    mem.write_phys(0x5000, b"C" * 8)
    mem.write_phys(0x6000, b"D" * 8)
    last = m.checkpoint()
    mem.write_phys(0x6000, b"E" * 8)
    del middle                              # its pages go to the checkpoint before it
    m.restore(last)
    assert (mem.read_phys(0x5000, 1), mem.read_phys(0x6000, 1)) == (b"C", b"D")
    m.restore(first)
    assert (mem.read_phys(0x5000, 1), mem.read_phys(0x6000, 1)) == (b"A", b"\0")
    assert not m.memsnap.valid(last.ident) and m.memsnap.live == 1
    mem.write_phys(0x5000, b"F" * 8)
    m.restore(first)                        # (again: what was written since is undone too)
    assert mem.read_phys(0x5000, 1) == b"A"
